"""Courses, visits, labs, prescriptions and reminders. Writes go through monitoring/services.py."""

from auditlog.registry import auditlog
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from clinic.notes import NOTE_MAX_LENGTH
from clinic.text import multi_line, one_line
from patients.models import Patient, PatientRecord
from rules import constants as limits
from rules.labs import LAB_TYPES


class Course(PatientRecord):
    """One treatment course per enrollment. Its start is the first dispense (derived)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="courses")
    opened_on = models.DateField(help_text="The enrollment date of this course.")
    target_mg_per_kg = models.DecimalField(
        "dose target (mg/kg)",
        max_digits=5,
        decimal_places=1,
        default=limits.DEFAULT_TARGET_MG_PER_KG,
        validators=[
            MinValueValidator(limits.MIN_TARGET_MG_PER_KG),
            MaxValueValidator(limits.MAX_TARGET_MG_PER_KG),
        ],
    )
    last_dose_on = models.DateField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["opened_on", "id"]
        get_latest_by = "opened_on"


class LabKind(models.TextChoices):
    """The kinds the database takes; everything else about a kind (units, what labs report,
    LOINC, the baseline set) is its entry in rules/labs.py, the one registry."""

    ALT = "alt", LAB_TYPES["alt"].label
    AST = "ast", LAB_TYPES["ast"].label
    TRIGLYCERIDES = "triglycerides", LAB_TYPES["triglycerides"].label
    TOTAL_CHOLESTEROL = "total_cholesterol", LAB_TYPES["total_cholesterol"].label
    LDL = "ldl", LAB_TYPES["ldl"].label
    HDL = "hdl", LAB_TYPES["hdl"].label


class LabResult(PatientRecord):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="labs")
    kind = models.CharField(max_length=20, choices=LabKind.choices)
    collected_on = models.DateField()
    value = models.DecimalField(max_digits=8, decimal_places=2)
    unit = models.CharField(max_length=16, validators=[one_line])

    class Meta:
        ordering = ["collected_on", "id"]


class SideEffect(models.TextChoices):
    DRY_LIPS = "dry_lips", "Dry lips"
    DRY_SKIN = "dry_skin", "Dry skin"
    DRY_EYES = "dry_eyes", "Dry eyes"
    NOSEBLEEDS = "nosebleeds", "Nosebleeds"
    NIGHT_VISION = "night_vision", "Night vision problems"
    BACK_OR_JOINT_PAIN = "back_or_joint_pain", "Back or joint pain"
    HEADACHE = "headache", "Headache"
    VISION_CHANGE = "vision_change", "Vision change"
    MOOD_CHANGE = "mood_change", "Mood change"
    ABDOMINAL_PAIN = "abdominal_pain", "Abdominal pain"
    SUN_SENSITIVITY = "sun_sensitivity", "Sun sensitivity"
    OTHER = "other", "Other"


class Severity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


# The answers to a PHQ-9 item, by its score 0-3 (the questionnaire's own words, as the patient
# chose them): the mood review and the FHIR export say item 9's answer in these words.
PHQ_ITEM_ANSWERS = {
    0: "Not at all",
    1: "Several days",
    2: "More than half the days",
    3: "Nearly every day",
}
# PHQ-9 total score bands (Kroenke, Spitzer and Williams 2001), lowest score of each band.
PHQ9_SEVERITY = (
    (20, "severe"),
    (15, "moderately severe"),
    (10, "moderate"),
    (5, "mild"),
    (0, "minimal"),
)


class Visit(PatientRecord):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="visits")
    visited_on = models.DateField()
    weight_kg = models.DecimalField(
        "weight (kg)", max_digits=5, decimal_places=1, null=True, blank=True
    )
    counseling_confirmed = models.BooleanField(default=False)
    comprehension_completed = models.BooleanField(default=False)
    phq2 = models.PositiveSmallIntegerField("PHQ-2", validators=[MaxValueValidator(6)])
    phq9 = models.PositiveSmallIntegerField(
        "PHQ-9", null=True, blank=True, validators=[MaxValueValidator(27)]
    )
    phq9_item9 = models.PositiveSmallIntegerField(
        "PHQ-9 item 9", null=True, blank=True, validators=[MaxValueValidator(3)]
    )
    # {"dry_lips": "mild", ...}: codes and severities from SideEffect and Severity.
    side_effects = models.JSONField(default=dict, blank=True)
    missed_dose_days = models.PositiveSmallIntegerField(default=0)
    next_visit_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True, max_length=NOTE_MAX_LENGTH, validators=[multi_line])

    class Meta:
        ordering = ["visited_on", "id"]

    @property
    def needs_phq9(self) -> bool:
        return self.phq2 >= limits.PHQ2_NEEDS_PHQ9 and self.phq9 is None

    @property
    def self_harm_flag(self) -> bool:
        return bool(self.phq9_item9)

    @property
    def phq9_item9_answer(self) -> str:
        """Item 9's answer in the questionnaire's words ("Several days"); empty if not asked."""
        return PHQ_ITEM_ANSWERS.get(self.phq9_item9, "")

    @property
    def phq9_severity(self) -> str:
        if self.phq9 is None:
            return ""
        return next(words for lowest, words in PHQ9_SEVERITY if self.phq9 >= lowest)


class MoodReview(PatientRecord):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="mood_reviews")
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="mood_reviews")
    reviewed_on = models.DateField()
    note = models.TextField(max_length=NOTE_MAX_LENGTH, validators=[multi_line])

    class Meta:
        ordering = ["reviewed_on", "id"]


class Prescription(PatientRecord):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="prescriptions")
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="prescriptions")
    written_on = models.DateField()
    daily_dose_mg = models.DecimalField(max_digits=6, decimal_places=1)
    days_supply = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(30)]
    )
    dispensed_on = models.DateField(null=True, blank=True)
    rma_number = models.CharField("RMA number", max_length=40, blank=True, validators=[one_line])

    class Meta:
        ordering = ["written_on", "id"]


class ComprehensionReport(PatientRecord):
    """The patient says, on the self-service page, that the monthly iPLEDGE questions are done."""

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="comprehension_reports"
    )
    reported_on = models.DateField()

    class Meta:
        ordering = ["reported_on", "id"]


for model in (Course, LabResult, Visit, MoodReview, Prescription, ComprehensionReport):
    auditlog.register(model)


class ReminderKind(models.TextChoices):
    MONTHLY_TEST = "monthly_test", "Monthly pregnancy test"
    VISIT = "visit", "Visit"
    WINDOW_CLOSING = "window_closing", "Prescription window closing"
    CONTRACEPTION_CONFIRM = "contraception_confirm", "Confirm contraception"
    COMPREHENSION = "comprehension", "Monthly iPLEDGE questions"
    POST_TREATMENT_TEST = "post_treatment_test", "Post-treatment test"
    FOLLOWUP_LABS = "followup_labs", "Follow-up labs"


class ReminderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


class Reminder(models.Model):
    """A reminder is a row before it is a message: the row is the truth, the task a nudge."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=24, choices=ReminderKind.choices)
    due_on = models.DateField()
    send_at = models.DateTimeField()
    status = models.CharField(
        max_length=12, choices=ReminderStatus.choices, default=ReminderStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    # Set when an attempt may have reached the SMTP server without its answer being recorded
    # (the worker died, or the connection timed out or dropped after the message was sent):
    # the patient may get this reminder twice. Only ever set, never cleared.
    possible_duplicate = models.BooleanField(default=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "kind", "due_on"], name="one_reminder_per_patient_kind_due"
            )
        ]
        indexes = [models.Index(fields=["status", "send_at"])]
        ordering = ["send_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} due {self.due_on} ({self.status})"


class StaffDigest(models.Model):
    """One row per clinic per day: the staff digest goes out once even with two beats."""

    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.CASCADE, related_name="+")
    sent_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "sent_on"], name="one_digest_per_clinic_day")
        ]

    def __str__(self) -> str:
        return f"Digest of {self.sent_on}"


class BeatHeartbeat(models.Model):
    """When beat last handed its heartbeat task to the broker (monitoring/reminders/stall.py).

    One row, written by the beat process itself, so its age says whether beat is alive whatever
    the state of the workers (a worker has its own check: a Celery ping). A row in the database
    and not a Redis key: every web host reads the same value, it survives a Redis restart, and
    the development setup (filesystem broker, no Redis) has it too."""

    name = models.CharField(max_length=20, primary_key=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"


class TriageSlot(models.Model):
    """Which clinic date one of a clinic's two sets of kept triage rows answers for
    (docs/clinic-day.md, "Kept rows").

    Slot `d.toordinal() % 2` holds the rows for date d: while Today reads today's slot, the
    periodic task prepares tomorrow's in the other one, so at midnight the new day's rows are
    already there. A slot's rows are complete for `on` when `ready`; `version` is the clinic's
    settings version they were computed with (`wanted` moves on with each settings change) and
    `format` the computation's (`monitoring.kept.KEPT_FORMAT`)."""

    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.CASCADE, related_name="+")
    slot = models.PositiveSmallIntegerField()
    on = models.DateField(null=True)
    ready = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=0)
    wanted = models.PositiveIntegerField(default=1)
    format = models.PositiveSmallIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "slot"], name="one_triage_slot"),
        ]

    def __str__(self) -> str:
        return f"Triage slot {self.slot} of clinic {self.clinic_id}: {self.on}"

    def current(self, on) -> bool:
        """Whether the slot's rows are the clinic's answer for `on`, as of now."""
        from .kept import KEPT_FORMAT

        return (
            self.ready
            and self.on == on
            and self.version == self.wanted
            and self.format == KEPT_FORMAT
        )


class TriageRow(models.Model):
    """A patient's triage kept as a row (docs/clinic-day.md): what Today, its CSV, the digest
    and the API worklist read, instead of running the rules for the whole clinic per request.

    One per patient and slot (`TriageSlot`). The service layer rewrites a patient's rows in the
    same transaction as every write that can change them; the periodic task prepares a slot for
    a date by recomputing every patient and writing only the rows whose answer changed.
    `tests/monitoring/test_triage_rows.py` checks the rows against a fresh computation."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="triage_rows")
    slot = models.PositiveSmallIntegerField()
    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.CASCADE, related_name="+")
    group = models.CharField(max_length=24)
    sort_on = models.DateField(null=True)
    step = models.CharField(max_length=40, blank=True)
    overdue = models.BooleanField(default=False)
    # The blocker's sentence or the due item's label, as shown on Today.
    what = models.CharField(max_length=500, blank=True)
    next_prescription_needed_on = models.DateField(null=True)
    # Visits waiting for a mood review (the "Review now" links of a safety row).
    mood_visits = models.JSONField(default=list, blank=True)
    # The patient's name and risk category, copied so that each group's first page, filtered
    # or not, is read straight from an index in Today's order (date, then name). Every write to
    # the patient rewrites the copies (`monitoring.kept.refresh_patient`).
    family_name = models.CharField(max_length=100, blank=True)
    given_name = models.CharField(max_length=100, blank=True)
    risk_category = models.CharField(max_length=24, blank=True)
    # ...and what else Today's line shows of the patient, so a page of rows is one table read.
    mrn = models.CharField(max_length=40, blank=True)
    birth_date = models.DateField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "slot"], name="one_triage_row_per_slot"),
        ]
        indexes = [
            models.Index(
                fields=[
                    "clinic",
                    "slot",
                    "group",
                    "sort_on",
                    "family_name",
                    "given_name",
                    "patient",
                ],
                name="triage_row_in_order",
            ),
            models.Index(
                fields=[
                    "clinic",
                    "slot",
                    "risk_category",
                    "group",
                    "sort_on",
                    "family_name",
                    "given_name",
                    "patient",
                ],
                name="triage_row_by_category",
            ),
        ]

    def __str__(self) -> str:
        return f"Triage of patient {self.patient_id} (slot {self.slot}): {self.group}"


class TriageCount(models.Model):
    """How many of a slot's rows are in each group and risk category: Today's counts read these
    few rows instead of counting the clinic (O(groups), not O(patients)). Kept in the same
    transaction as the rows they count."""

    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.CASCADE, related_name="+")
    slot = models.PositiveSmallIntegerField()
    group = models.CharField(max_length=24)
    risk_category = models.CharField(max_length=24)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "slot", "group", "risk_category"], name="one_triage_count"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group}/{self.risk_category}: {self.n}"


class PatientTriage(models.Model):
    """Retired in 1.1 (replaced by `TriageRow`): nothing reads or writes it. The model stays
    one release so that the release still serving during an upgrade finds its table
    (docs/operations.md, "Upgrading"); the next release drops it."""

    patient = models.OneToOneField(
        Patient, on_delete=models.CASCADE, primary_key=True, related_name="triage"
    )
    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.CASCADE, related_name="+")
    # The clinic date the row answers for; None = stale, recompute before reading.
    computed_on = models.DateField(null=True)
    group = models.CharField(max_length=24)
    sort_on = models.DateField(null=True)
    step = models.CharField(max_length=40, blank=True)
    overdue = models.BooleanField(default=False)
    # The blocker's sentence or the due item's label, as shown on Today.
    what = models.CharField(max_length=500, blank=True)
    next_prescription_needed_on = models.DateField(null=True)
    # Visits waiting for a mood review (the "Review now" links of a safety row).
    mood_visits = models.JSONField(default=list, blank=True)
    # The patient's name, copied so that each group's first page is read straight from an index
    # in Today's order (date, then name); the patient's own columns stay the ones shown.
    family_name = models.CharField(max_length=100, blank=True)
    given_name = models.CharField(max_length=100, blank=True)
    # Which computation wrote the row (monitoring.worklist.KEPT_FORMAT): a new release that
    # words or sorts triage differently recomputes rows written by the old one.
    format = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(
                fields=["clinic", "group", "sort_on", "family_name", "given_name", "patient"],
                name="triage_in_order",
            ),
            models.Index(fields=["clinic", "computed_on", "format"], name="triage_fresh"),
        ]

    def __str__(self) -> str:
        return f"Triage of patient {self.patient_id}: {self.group}"


class IpledgeItem(models.TextChoices):
    COUNSELING = "counseling", "Counseling confirmation"
    CONTRACEPTION = "contraception", "Two forms of contraception"
    PREGNANCY_TEST = "pregnancy_test", "Pregnancy test result"


class IpledgeEntry(models.Model):
    """Staff typed one item of the entry sheet into the iPLEDGE website (docs/ipledge-sheet.md).

    The tick holds the value as it was typed: once the record behind it changes, the sheet's
    value no longer matches, the tick stops counting and the item is due again, because iPLEDGE
    now holds a different value. Ticks are never edited or deleted; they are the history."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="ipledge_entries")
    item = models.CharField(max_length=20, choices=IpledgeItem.choices)
    # The cycle the entry belongs to: the day after the last dispensed prescription was written
    # (the course's opening day before the first dispense).
    cycle_from = models.DateField()
    value = models.CharField(max_length=500)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    entered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "iPLEDGE entry"
        verbose_name_plural = "iPLEDGE entries"
        ordering = ["entered_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "item", "cycle_from", "value"], name="one_tick_per_value"
            )
        ]
        indexes = [models.Index(fields=["patient", "cycle_from"], name="ipledge_by_cycle")]

    def __str__(self) -> str:
        return f"{self.get_item_display()} entered in iPLEDGE"

    def get_additional_data(self) -> dict:
        return {"clinic_id": self.patient.clinic_id, "patient_id": self.patient_id}


auditlog.register(IpledgeEntry)
