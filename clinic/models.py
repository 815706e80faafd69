import datetime
import zoneinfo

from auditlog.registry import auditlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from knox.models import AbstractAuthToken

from rules import constants as limits
from rules import rulesets

from .roles import Role
from .text import NameField, one_line


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone, e.g. America/New_York.")


def in_quiet_hours(moment: datetime.time, start: int, end: int) -> bool:
    """True inside [start:00, end:00). A window may run over midnight (20-8); start == end
    means no quiet hours at all."""
    if start == end:
        return False
    begins, ends = datetime.time(start), datetime.time(end)
    if start < end:
        return begins <= moment < ends
    return moment >= begins or moment < ends


class Clinic(models.Model):
    name = NameField(max_length=120)
    time_zone = models.CharField(
        max_length=64, default="America/New_York", validators=[validate_time_zone]
    )
    contact_phone = models.CharField(max_length=40, blank=True, validators=[one_line])
    contact_email = models.EmailField(blank=True, validators=[one_line])
    # The clinic settings docs/domain.md names; rules read them through the history snapshot.
    rs2026_effective_on = models.DateField(
        "RS-2026 effective date", default=rulesets.RS_2026.in_force_from
    )
    default_target_mg_per_kg = models.PositiveSmallIntegerField(
        default=limits.DEFAULT_TARGET_MG_PER_KG,
        validators=[
            MinValueValidator(limits.MIN_TARGET_MG_PER_KG),
            MaxValueValidator(limits.MAX_TARGET_MG_PER_KG),
        ],
    )
    reminder_send_hour = models.PositiveSmallIntegerField(
        default=9, validators=[MaxValueValidator(23)]
    )
    quiet_hours_start = models.PositiveSmallIntegerField(
        default=20, validators=[MaxValueValidator(23)]
    )
    quiet_hours_end = models.PositiveSmallIntegerField(
        default=8, validators=[MaxValueValidator(23)]
    )
    home_tests_under_discretion = models.BooleanField(
        "home tests under FDA enforcement discretion (RS-2021)", default=False
    )
    followup_lab_weeks = models.PositiveSmallIntegerField(
        default=limits.DEFAULT_FOLLOWUP_LAB_WEEKS,
        validators=[MinValueValidator(1), MaxValueValidator(52)],
    )
    # docs/clinic-day.md, triage: how many days ahead Today looks for work (the horizon H).
    triage_horizon_days = models.PositiveSmallIntegerField(
        "triage horizon (days)",
        default=limits.DEFAULT_TRIAGE_HORIZON_DAYS,
        validators=[MinValueValidator(1), MaxValueValidator(30)],
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def today(self, now: datetime.datetime | None = None) -> datetime.date:
        """The calendar date in the clinic's time zone: every rule works on this date."""
        from django.utils import timezone

        return (now or timezone.now()).astimezone(self.zone).date()


def setting_range(name: str) -> tuple[int, int]:
    """The lowest and highest value a numeric clinic setting takes, read from its field's
    validators (its own and its column type's): the validators above are the one place a
    range is written, and the settings form and service take it from here."""
    validators = Clinic._meta.get_field(name).validators
    low = max(v.limit_value for v in validators if isinstance(v, MinValueValidator))
    high = min(v.limit_value for v in validators if isinstance(v, MaxValueValidator))
    return low, high


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "clinic"], name="one_membership_per_clinic")
        ]
        ordering = ["clinic__name"]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.clinic}"

    def get_additional_data(self) -> dict:
        # Membership and role changes show on the clinic's audit page (docs/security.md).
        return {"clinic_id": self.clinic_id}


auditlog.register(Membership)


class ApiToken(AbstractAuthToken):
    """An API token (django-rest-knox stores only its hash). It keeps a fingerprint of the
    user's password, so a password change ends every token issued before it, and whether a
    second factor was checked when it was issued, so a token issued on the password alone stops
    working once the user's role needs a second factor (docs/security.md).
    """

    credential_hash = models.CharField(max_length=128)
    issued_with_second_factor = models.BooleanField(default=False)

    class Meta:
        verbose_name = "API token"


class SecondFactorFailures(models.Model):
    """Wrong second-factor codes typed for a user, counted per client address, and once more
    for every address together (`client_address` ""), so an attacker's guesses slow down the
    attacker's address and not the owner's (clinic/throttle.py, docs/security.md)."""

    EVERY_ADDRESS = ""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    client_address = models.CharField(max_length=64, blank=True)
    failures = models.PositiveIntegerField(default=0)
    first_failure_at = models.DateTimeField()
    last_failure_at = models.DateTimeField()
    # The user was emailed about this run of failures (every-address row only).
    alerted = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "client_address"], name="one_failure_count_per_user_and_address"
            )
        ]

    def __str__(self) -> str:
        return f"{self.failures} wrong codes for user {self.user_id} from {self.client_address}"


class StoredFile(models.Model):
    """A file kept in the database: the default storage (clinic/storage.py, docs/storage.md),
    so every web host reads the same files and the database's backup holds them too."""

    name = models.CharField(max_length=255, unique=True)
    content = models.BinaryField()
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
