"""The production files of deploy/ agree with the code and with docs/deploy.md: every setting
the code reads is in the environment file, the units run what the docs say, and nginx accepts
the site file (docs/deploy.md)."""

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ENV_EXAMPLE = DEPLOY / "env.example"

# Read by the code but not for a server: development and the test suite only.
DEVELOPMENT_ONLY = {
    "CELERY_BROKER_DIR",  # the embedded broker; production uses REDIS_URL
    "CELERY_BEAT_SCHEDULE_FILENAME",  # with Redis, beat keeps no file (config/beat.py)
    "CELERY_TASK_ALWAYS_EAGER",  # tests run tasks in-process
    "DEMO_OTP",
    "DEMO_PASSWORD",
    "DEMO_TOTP_SECRET",  # seed_demo, never on a server
    "DJANGO_TESTING",  # the test runner's switch
    "EMAIL_FILE_PATH",  # mail written to files when EMAIL_HOST is empty
}
READ = re.compile(
    r"(?:os\.environ\.get|os\.environ\[|os\.getenv|env_bool|env_list|env_int|env_float)"
    r"\(?\s*\"([A-Z][A-Z0-9_]+)\""
)


def variables_the_code_reads() -> set[str]:
    files = [
        *ROOT.glob("config/**/*.py"),
        *ROOT.glob("api/**/*.py"),
        *ROOT.glob("demo/**/*.py"),
        *ROOT.glob("clinic/**/*.py"),
        *ROOT.glob("patients/**/*.py"),
        *ROOT.glob("monitoring/**/*.py"),
        *ROOT.glob("rules/**/*.py"),
        *DEPLOY.glob("*.py"),
    ]
    names = {name for path in files for name in READ.findall(path.read_text())}
    # dj-database-url reads DATABASE_URL itself (config/settings.py, dj_database_url.config).
    return names | {"DATABASE_URL"}


def variables_in_the_example() -> set[str]:
    return set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.M))


def test_the_environment_file_lists_every_variable_a_server_may_set():
    missing = variables_the_code_reads() - DEVELOPMENT_ONLY - variables_in_the_example()
    assert not missing, f"add to deploy/env.example, with a comment: {sorted(missing)}"


def test_the_environment_file_names_no_variable_the_code_ignores():
    unknown = variables_in_the_example() - variables_the_code_reads()
    assert not unknown, f"deploy/env.example sets what nothing reads: {sorted(unknown)}"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(DEPLOY / "systemd" / f"ipledge-{name}.service")
    return parser


@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_each_unit_runs_as_the_service_user_restarts_and_is_sandboxed(name):
    service = unit(name)["Service"]
    assert service["User"] == "ipledge"
    assert service["EnvironmentFile"] == "/etc/ipledge-clinic/env"
    assert service["Restart"] == "on-failure"
    for option in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
        assert service[option] == "yes", option
    assert service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""


@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_the_docs_start_each_process_with_its_units_command(name):
    command = unit(name)["Service"]["ExecStart"].removeprefix("/opt/ipledge-clinic/")
    docs = (ROOT / "docs" / "deploy.md").read_text()
    assert f"as_unit {command} &" in docs
    assert f"`{command.removeprefix('.venv/bin/')}`" in docs


def test_the_procfile_says_it_is_for_development_only():
    assert (ROOT / "Procfile").read_text().startswith("# DEVELOPMENT ONLY")


@pytest.mark.skipif(not shutil.which("nginx"), reason="nginx is not installed")
def test_nginx_accepts_the_site_file(tmp_path):
    """nginx -t on the site file as docs/deploy.md installs it, with a throwaway certificate."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=clinic.example.org", "-keyout", tmp_path / "privkey.pem"]
        + ["-out", tmp_path / "fullchain.pem"],
        check=True,
        capture_output=True,
    )
    site = (DEPLOY / "nginx" / "ipledge-clinic.conf").read_text()
    site = site.replace("/etc/ssl/ipledge-clinic", str(tmp_path))
    site = site.replace("/var/log/nginx", str(tmp_path))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        "events {}\n"
        f"http {{ access_log off; include {tmp_path}/site.conf; }}\n"
    )
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    for directive in (
        "client_max_body_size 11m;",
        "proxy_set_header X-Request-ID $request_id;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "return 301 https://$host$request_uri;",
        "location /health/ {",
    ):
        assert directive in site, directive
