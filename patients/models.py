"""Enrollment and the pre-prescription records staff confirm: consents, contraception and
pregnancy tests. Every write goes through patients/services.py; every model here is audited."""

from auditlog.registry import auditlog
from django.conf import settings
from django.db import models
from django.urls import reverse

from clinic.models import Clinic
from clinic.notes import REASON_MAX_LENGTH
from clinic.text import MRN_KEY_MAX_LENGTH, NameField, mrn_key, multi_line, one_line
from rules.contraception_methods import CONTRACEPTION_METHODS as METHODS

from . import search


class RiskCategory(models.TextChoices):
    CAN_GET_PREGNANT = "can_get_pregnant", "Can get pregnant"
    CANNOT_GET_PREGNANT = "cannot_get_pregnant", "Cannot get pregnant"


class Language(models.TextChoices):
    """The language of everything the patient reads: emails, their page, the calendar feed.
    Each name is written in its own language, so a patient finds theirs in any list."""

    ENGLISH = "en", "English"
    SPANISH = "es", "Español"


class PatientQuerySet(models.QuerySet):
    def with_mrn(self, mrn: str) -> "PatientQuerySet":
        """Patients whose MRN is `mrn` as the clinic compares MRNs (case, width, invisible
        characters and surrounding spaces aside)."""
        return self.filter(mrn_key=mrn_key(mrn))


# How a key made unique by the migration that introduced keys ends (patients/migrations/
# 0003_patient_mrn_key.py): the MRN of a patient enrolled twice before keys existed keeps this
# mark until staff correct it, so both rows stay distinct.
DUPLICATE_KEY_MARK = " [duplicate "


class MrnKeyField(models.CharField):
    """The MRN as compared (clinic.text.mrn_key), written from `mrn` on every save, by
    whichever door (services, admin, bulk_create), so it cannot drift from the MRN shown."""

    def pre_save(self, model_instance, add):
        key = mrn_key(model_instance.mrn)
        kept = getattr(model_instance, self.attname) or ""
        # A key the migration marked as a duplicate stays as it is while the MRN is unchanged.
        if not kept.startswith(key + DUPLICATE_KEY_MARK):
            setattr(model_instance, self.attname, key)
        return getattr(model_instance, self.attname)


# What a patient's search key is made of: a save that names any of them rewrites the key.
SEARCHED_FIELDS = frozenset({"given_name", "family_name", "mrn", "ipledge_id", "birth_date"})


class SearchKeyField(models.TextField):
    """The patient as the search box reads them (patients/search.py), written from the names,
    MRN, iPLEDGE ID and date of birth on every save, by whichever door (the enrollment and
    update services, the admin, bulk_create), so it cannot drift from what the pages show."""

    def pre_save(self, model_instance, add):
        key = search.key_for(**{name: getattr(model_instance, name) for name in SEARCHED_FIELDS})
        setattr(model_instance, self.attname, key)
        return key


class Patient(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    mrn = models.CharField("MRN", max_length=40, validators=[one_line])
    # Unique per clinic (below): "MRN-1", "mrn-1" and a fullwidth "ＭＲＮ-1" are one patient.
    mrn_key = MrnKeyField(max_length=MRN_KEY_MAX_LENGTH, editable=False)
    given_name = NameField(max_length=100)
    family_name = NameField(max_length=100)
    birth_date = models.DateField()
    email = models.EmailField(max_length=254, validators=[one_line])
    phone = models.CharField(max_length=40, blank=True, validators=[one_line])
    ipledge_id = models.CharField("iPLEDGE ID", max_length=40, blank=True, validators=[one_line])
    weight_kg = models.DecimalField("weight (kg)", max_digits=5, decimal_places=1)
    risk_category = models.CharField(max_length=24, choices=RiskCategory.choices)
    risk_category_reason = models.CharField(max_length=REASON_MAX_LENGTH, validators=[multi_line])
    risk_category_set_on = models.DateField()
    enrolled_on = models.DateField()
    home_tests_allowed = models.BooleanField(
        default=False, help_text="The prescriber allows verified home pregnancy tests (RS-2026)."
    )
    email_opt_out = models.BooleanField("opted out of reminder emails", default=False)
    preferred_language = models.CharField(
        "preferred language",
        max_length=5,
        choices=Language.choices,
        default=Language.ENGLISH,
        help_text="Emails, the patient's page and calendar come in this language.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    search_key = SearchKeyField(default="", blank=True, editable=False)

    objects = PatientQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "mrn_key"], name="mrn_key_unique_in_clinic")
        ]
        indexes = [
            models.Index(fields=["clinic", "family_name", "given_name"]),
            models.Index(fields=["clinic", "ipledge_id"]),
        ]
        ordering = ["family_name", "given_name", "id"]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name} ({self.mrn})"

    def save(self, *args, update_fields=None, **kwargs):
        if update_fields is not None and "mrn" in update_fields:
            update_fields = {*update_fields, "mrn_key"}
        if update_fields is not None and SEARCHED_FIELDS & set(update_fields):
            update_fields = {*update_fields, "search_key"}
        super().save(*args, update_fields=update_fields, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("patients:detail", args=[self.pk])

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def can_get_pregnant(self) -> bool:
        return self.risk_category == RiskCategory.CAN_GET_PREGNANT

    def get_additional_data(self) -> dict:
        # Stored on each audit entry so the audit page can filter by clinic.
        return {"clinic_id": self.clinic_id, "patient_id": self.pk}


class RiskCategoryChange(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="risk_changes")
    previous = models.CharField(max_length=24, choices=RiskCategory.choices)
    new = models.CharField(max_length=24, choices=RiskCategory.choices)
    changed_on = models.DateField()
    reason = models.CharField(max_length=REASON_MAX_LENGTH, validators=[multi_line])
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_on", "-id"]

    def __str__(self) -> str:
        return f"Risk category change on {self.changed_on}"

    def get_additional_data(self) -> dict:
        return {"clinic_id": self.patient.clinic_id, "patient_id": self.patient_id}


class PatientRecord(models.Model):
    """A dated record of a patient, audited with the patient's clinic."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self._meta.verbose_name.capitalize()} #{self.pk}"

    def get_additional_data(self) -> dict:
        return {"clinic_id": self.patient.clinic_id, "patient_id": self.patient_id}


class ConsentKind(models.TextChoices):
    PATIENT_INFORMATION = "patient_information", "Patient information / informed consent"
    BIRTH_DEFECTS = "birth_defects", "Birth defects consent"


class Consent(PatientRecord):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consents")
    kind = models.CharField(max_length=24, choices=ConsentKind.choices)
    signed_on = models.DateField()

    class Meta:
        ordering = ["signed_on", "id"]


class ContraceptionMethod(models.TextChoices):
    """The methods the database takes; each one's tier, words and iPLEDGE name are its entry in
    rules/contraception_methods.py, the one registry."""

    TUBAL_STERILIZATION = "tubal_sterilization", METHODS["tubal_sterilization"].label
    PARTNER_VASECTOMY = "partner_vasectomy", METHODS["partner_vasectomy"].label
    IUD = "iud", METHODS["iud"].label
    COMBINED_ORAL_CONTRACEPTIVE = (
        "combined_oral_contraceptive",
        METHODS["combined_oral_contraceptive"].label,
    )
    TRANSDERMAL_PATCH = "transdermal_patch", METHODS["transdermal_patch"].label
    INJECTABLE = "injectable", METHODS["injectable"].label
    IMPLANT = "implant", METHODS["implant"].label
    VAGINAL_RING = "vaginal_ring", METHODS["vaginal_ring"].label
    MALE_CONDOM = "male_condom", METHODS["male_condom"].label
    DIAPHRAGM_WITH_SPERMICIDE = (
        "diaphragm_with_spermicide",
        METHODS["diaphragm_with_spermicide"].label,
    )
    CERVICAL_CAP_WITH_SPERMICIDE = (
        "cervical_cap_with_spermicide",
        METHODS["cervical_cap_with_spermicide"].label,
    )
    VAGINAL_SPONGE = "vaginal_sponge", METHODS["vaginal_sponge"].label
    PROGESTIN_ONLY_PILL = "progestin_only_pill", METHODS["progestin_only_pill"].label


class Source(models.TextChoices):
    STAFF = "staff", "Staff"
    PATIENT = "patient", "Patient"


class ContraceptionConfirmation(PatientRecord):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="contraception")
    confirmed_on = models.DateField()
    source = models.CharField(max_length=10, choices=Source.choices)
    methods = models.JSONField(default=list, blank=True)
    abstinence = models.BooleanField(default=False)
    started_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["confirmed_on", "id"]

    def method_labels(self) -> list[str]:
        return [ContraceptionMethod(code).label for code in self.methods]


class TestKind(models.TextChoices):
    SCREENING = "screening", "Screening"
    CONFIRMATION = "confirmation", "Confirmation"
    MONTHLY = "monthly", "Monthly"
    END_OF_TREATMENT = "end_of_treatment", "End of treatment"
    POST_TREATMENT = "post_treatment", "Post-treatment (one month after)"


class TestResult(models.TextChoices):
    NEGATIVE = "negative", "Negative"
    POSITIVE = "positive", "Positive"
    INVALID = "invalid", "Invalid"


class TestSetting(models.TextChoices):
    MEDICAL = "medical", "Medical setting"
    HOME = "home", "Home test"


class TestMethod(models.TextChoices):
    URINE = "urine", "Urine"
    SERUM = "serum", "Serum"


def evidence_path(instance: "PregnancyTest", filename: str) -> str:
    return f"evidence/{instance.patient.clinic_id}/{instance.patient_id}/{filename}"


class PregnancyTest(PatientRecord):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="pregnancy_tests")
    kind = models.CharField(max_length=20, choices=TestKind.choices)
    collected_on = models.DateField("specimen collection date")
    result = models.CharField(max_length=10, choices=TestResult.choices)
    setting = models.CharField(max_length=10, choices=TestSetting.choices)
    clia_lab = models.BooleanField("CLIA-certified lab", default=False)
    method = models.CharField(max_length=10, choices=TestMethod.choices)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    evidence = models.FileField(upload_to=evidence_path, blank=True)
    superseded_on = models.DateField(null=True, blank=True)
    superseded_reason = models.CharField(
        max_length=REASON_MAX_LENGTH, blank=True, validators=[multi_line]
    )
    superseded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["collected_on", "id"]

    @property
    def is_verified(self) -> bool:
        return pregnancy_test_verified(self.verified_by_id, self.setting, self.evidence)


def pregnancy_test_verified(verified_by_id, setting: str, evidence) -> bool:
    """A staff member recorded or checked it, and a home test has its photo or readout."""
    if verified_by_id is None:
        return False
    return setting != TestSetting.HOME or bool(evidence)


# The search key repeats the fields it is made of: their own changes are what the log shows.
auditlog.register(Patient, exclude_fields=["search_key"])
auditlog.register(RiskCategoryChange)
auditlog.register(Consent)
auditlog.register(ContraceptionConfirmation)
auditlog.register(PregnancyTest)
