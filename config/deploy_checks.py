"""What production must be given, not guessed (README.md, "Settings"; docs/deploy-settings.md).

Without DJANGO_DEBUG=true each of SITE_URL, EMAIL_HOST, REDIS_URL and DEFAULT_FROM_EMAIL must be
set to a production value. config/settings.py raises ImproperlyConfigured at import for the first
problem (a process never starts on a development fallback), and `manage.py check --deploy` reports
every problem through the system check below, which reads the settings as finally configured (so a
value overridden after import is still judged).
"""

import ipaddress
from email.utils import parseaddr
from urllib.parse import urlsplit

from django.core import checks

# Names that only ever reach this machine: links in patients' emails would point nowhere.
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
REDIS_SCHEMES = frozenset({"redis", "rediss", "redis+socket", "unix"})
MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_UNIQUE = 5


def _is_loopback_or_unspecified(host: str) -> bool:
    host = host.strip("[]").rstrip(".").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def site_url_problem(value: str) -> str | None:
    if not value:
        return "SITE_URL must be set in production (the https:// address patients' links use)."
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        return f"SITE_URL={value!r} must be an https:// address with a host name."
    if _is_loopback_or_unspecified(parts.hostname):
        return (
            f"SITE_URL={value!r} is a development address: links in emails would point at the "
            "reader's own machine. Use the address patients and staff open."
        )
    return None


def email_host_problem(value: str) -> str | None:
    # A relay on this host (127.0.0.1, e.g. postfix) is a real production setup, so loopback is
    # allowed here; what is refused is the development fallback (no EMAIL_HOST: mail written to
    # files in var/mail/, never sent) and a value that is not a host name.
    if not value:
        return (
            "EMAIL_HOST must be set in production (without it mail is written to var/mail/ and "
            "never sent)."
        )
    if any(char in value for char in "/@ ") or value.count(":") == 1:
        return f"EMAIL_HOST={value!r} must be a host name only (the port is EMAIL_PORT)."
    return None


def redis_url_problem(value: str) -> str | None:
    if not value:
        return (
            "REDIS_URL must be set in production (the filesystem broker is development-only: "
            "it lives on one machine's disk)."
        )
    if urlsplit(value).scheme not in REDIS_SCHEMES:
        return f"REDIS_URL={value!r} must be a redis:// or rediss:// URL."
    return None


def from_email_problem(value: str) -> str | None:
    if not value:
        return "DEFAULT_FROM_EMAIL must be set in production (the sender of every email)."
    _name, address = parseaddr(value)
    domain = address.rpartition("@")[2].strip("[]").rstrip(".").lower()
    if "@" not in address or not domain:
        return f"DEFAULT_FROM_EMAIL={value!r} is not an email address."
    if _is_loopback_or_unspecified(domain) or "." not in domain or _is_ip(domain):
        return (
            f"DEFAULT_FROM_EMAIL={value!r} is a development sender: relays refuse or junk mail "
            "from a domain that is not the clinic's."
        )
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def secret_key_problem(name: str, value: str) -> str | None:
    if len(value) < MIN_SECRET_KEY_LENGTH or len(set(value)) < MIN_SECRET_KEY_UNIQUE:
        return (
            f"{name} must be at least {MIN_SECRET_KEY_LENGTH} random characters in production "
            f'(it has {len(value)}); make one with: python -c "import secrets; '
            'print(secrets.token_urlsafe(50))"'
        )
    return None


CHECK_IDS = {
    "SITE_URL": "clinic.E001",
    "EMAIL_HOST": "clinic.E002",
    "REDIS_URL": "clinic.E003",
    "DEFAULT_FROM_EMAIL": "clinic.E004",
    "DJANGO_SECRET_KEY": "clinic.E005",  # nosec B105  # a check id, not a secret
    "DJANGO_SECRET_KEY_FALLBACKS": "clinic.E006",  # nosec B105  # a check id, not a secret
}


def production_problems(
    *, site_url: str, email_host: str, redis_url: str, from_email: str
) -> list[tuple[str, str]]:
    """(variable, problem) for each problem, in the README's order; empty when all is well."""
    found = [
        ("SITE_URL", site_url_problem(site_url)),
        ("EMAIL_HOST", email_host_problem(email_host)),
        ("REDIS_URL", redis_url_problem(redis_url)),
        ("DEFAULT_FROM_EMAIL", from_email_problem(from_email)),
    ]
    return [(name, problem) for name, problem in found if problem]


@checks.register(checks.Tags.security, deploy=True)
def check_production_settings(app_configs=None, **kwargs):
    from django.conf import settings

    smtp = settings.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend"
    problems = production_problems(
        site_url=getattr(settings, "SITE_URL", ""),
        # Any other backend (the file backend of development) sends nothing.
        email_host=settings.EMAIL_HOST if smtp else "",
        # The filesystem broker of development, whatever REDIS_URL says, is refused too.
        redis_url=""
        if str(getattr(settings, "CELERY_BROKER_URL", "")).startswith("filesystem")
        else getattr(settings, "REDIS_URL", ""),
        from_email=settings.DEFAULT_FROM_EMAIL,
    )
    keys = [("DJANGO_SECRET_KEY", settings.SECRET_KEY)]
    keys += [("DJANGO_SECRET_KEY_FALLBACKS", key) for key in settings.SECRET_KEY_FALLBACKS]
    problems += [
        (name, problem) for name, key in keys if (problem := secret_key_problem(name, key))
    ]
    return [checks.Error(problem, id=CHECK_IDS[name]) for name, problem in problems]
