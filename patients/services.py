"""Every write to enrollment records goes through one function here, whichever door the data
came in by (page, API, admin, command). Each owns its transaction and is audited."""

import datetime
import functools
from collections.abc import Callable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from clinic import dates
from clinic.audit import acting_as
from clinic.models import Clinic
from clinic.notes import REASON_MAX_LENGTH, check_length, too_long
from clinic.text import MRN_KEY_MAX_LENGTH, check_field, mrn_key, multi_line
from rules import RS_2021_IN_FORCE_FROM, contraception_shortfall
from rules import constants as rule_constants

from . import evidence
from .models import (
    Consent,
    ConsentKind,
    ContraceptionConfirmation,
    ContraceptionMethod,
    Language,
    Patient,
    PregnancyTest,
    RiskCategory,
    RiskCategoryChange,
    Source,
    TestKind,
    TestMethod,
    TestResult,
    TestSetting,
)

# Work that must follow every write to a patient's records in the same transaction: monitoring
# keeps each patient's triage row (docs/clinic-day.md). Apps that keep such state register a
# function here in their AppConfig.ready, so this app needs no import of theirs.
AFTER_WRITE: list[Callable[[Patient], None]] = []


def changes_records(service):
    """Run `service` and the registered after-write work in one transaction: the record and
    what is kept from it commit together or not at all. The service returns the patient or a
    record of the patient."""

    @functools.wraps(service)
    def write(*args, **kwargs):
        with transaction.atomic():
            result = service(*args, **kwargs)
            patient = result if isinstance(result, Patient) else result.patient
            for after in AFTER_WRITE:
                after(patient)
        return result

    return write


MIN_WEIGHT_KG = Decimal(20)
MAX_WEIGHT_KG = Decimal(300)


def weight_error(weight: Decimal | None) -> str | None:
    """The one message for a weight outside what the clinic can dose for."""
    if weight is not None and not MIN_WEIGHT_KG <= weight <= MAX_WEIGHT_KG:
        return f"Weight must be between {MIN_WEIGHT_KG} and {MAX_WEIGHT_KG} kg."
    return None


# docs/rules.md, invalid input: the rules judge no date before the first rule set came into force.
BEFORE_FIRST_RULE_SET = (
    f"This date is before {dates.day(RS_2021_IN_FORCE_FROM)}, when the first iPLEDGE rule set this "
    "product knows came into force."
)


def validate_enrollment(data: dict, *, clinic: Clinic, today: datetime.date, exclude_pk=None):
    """Cross-field checks a form or serializer cannot see alone. Raises ValidationError."""
    errors = {}
    reason = data.get("risk_category_reason") or ""
    if len(reason) > REASON_MAX_LENGTH:
        errors["risk_category_reason"] = too_long(REASON_MAX_LENGTH, len(reason))
    birth_date, enrolled_on = data.get("birth_date"), data.get("enrolled_on")
    if enrolled_on and enrolled_on < RS_2021_IN_FORCE_FROM:
        errors["enrolled_on"] = BEFORE_FIRST_RULE_SET
    if birth_date and birth_date > today:
        errors["birth_date"] = "The birth date cannot be in the future."
    elif birth_date and birth_date < today.replace(year=today.year - 120):
        errors["birth_date"] = "The birth date is more than 120 years ago; check the year."
    elif enrolled_on and enrolled_on > today:
        errors["enrolled_on"] = "The enrollment date cannot be in the future."
    if birth_date and enrolled_on and enrolled_on < birth_date:
        errors["enrolled_on"] = "The enrollment date is before the birth date."
    if message := weight_error(data.get("weight_kg")):
        errors["weight_kg"] = message
    errors.update(text_errors(data))
    if "mrn" not in errors and (message := mrn_error(data.get("mrn"), clinic, exclude_pk)):
        errors["mrn"] = message
    if message := language_error(data.get("preferred_language", Language.ENGLISH)):
        errors["preferred_language"] = message
    if errors:
        raise ValidationError(errors)


def text_errors(data: dict) -> dict:
    """The text fields' own checks (clinic.text: no control, invisible or direction
    characters), run here too so a door without a form or serializer cannot skip them."""
    errors = {}
    for name, value in data.items():
        if name in TEXT_FIELDS and isinstance(value, str):
            try:
                Patient._meta.get_field(name).run_validators(value)
            except ValidationError as error:
                errors[name] = error.messages[0]
    return errors


TEXT_FIELDS = frozenset(
    {"mrn", "given_name", "family_name", "email", "phone", "ipledge_id", "risk_category_reason"}
)
DUPLICATE_MRN = "Another patient in this clinic already has this MRN."


def mrn_error(mrn, clinic: Clinic, exclude_pk=None) -> str | None:
    """The MRN is compared as clinic.text.mrn_key reads it: "MRN-1", "mrn-1" and a
    fullwidth "ＭＲＮ-1" are one patient (docs/security.md, "Text and identities")."""
    if mrn is None:
        return None
    key = mrn_key(mrn)
    if not key:
        return "Enter the MRN."
    if len(key) > MRN_KEY_MAX_LENGTH:
        return "This MRN is too long once its characters are written out; check it."
    duplicates = Patient.objects.filter(clinic=clinic).with_mrn(mrn)
    if exclude_pk:
        duplicates = duplicates.exclude(pk=exclude_pk)
    return DUPLICATE_MRN if duplicates.exists() else None


# Warnings, not refusals (docs/rules.md: the category criteria for young patients are the
# clinician's call): the page asks to check and confirm, then saves.
YOUNGEST_USUAL_AGE = 12
YOUNGEST_CAN_GET_PREGNANT = 8


def age_on(birth_date: datetime.date, day: datetime.date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def enrollment_warnings(data: dict, *, today: datetime.date, risk_category=None) -> dict:
    """Field -> a sentence asking to check an unlikely but possible enrollment."""
    warnings = {}
    birth_date = data.get("birth_date")
    if not birth_date or birth_date > today:
        return warnings
    age = age_on(birth_date, today)
    category = data.get("risk_category", risk_category)
    if category == RiskCategory.CAN_GET_PREGNANT and age < YOUNGEST_CAN_GET_PREGNANT:
        warnings["risk_category"] = (
            f"The patient is {age} year{'s' if age != 1 else ''} old and enrolled as able to get "
            "pregnant: check the birth date and the risk category."
        )
    elif age < YOUNGEST_USUAL_AGE:
        warnings["birth_date"] = (
            f"The patient is {age} year{'s' if age != 1 else ''} old: check the birth date."
        )
    return warnings


# What the staff form says for each shortfall the rules find (rules/contraception.py).
CONTRACEPTION_SHORTFALL_WARNINGS = {
    rule_constants.NO_METHOD_COUNTS: "No method that counts is recorded (a progestin-only pill "
    "never counts): the program needs two (one primary) or abstinence, so this confirmation "
    "will not count for a prescription.",
    rule_constants.ONE_METHOD_COUNTS: "Only one method that counts is recorded: the program "
    "needs two (one primary) or abstinence, so this confirmation will not count for a "
    "prescription.",
    rule_constants.NO_PRIMARY_METHOD: "No primary method is recorded: the program needs one of "
    "the two to be primary, so this confirmation will not count for a prescription.",
}


def contraception_record_warnings(methods, abstinence: bool) -> dict:
    """A confirmation the gate will not count (docs/domain.md §4) may still be worth recording:
    the rules' own check says what it lacks, so this form and the gate never disagree."""
    if not methods and not abstinence:
        return {}  # nothing chosen: the form asks for a choice instead
    shortfall = contraception_shortfall(methods, abstinence)
    return {"methods": CONTRACEPTION_SHORTFALL_WARNINGS[shortfall]} if shortfall else {}


ENROLLMENT_FIELDS = (
    "mrn",
    "given_name",
    "family_name",
    "birth_date",
    "email",
    "phone",
    "ipledge_id",
    "weight_kg",
    "risk_category",
    "risk_category_reason",
    "enrolled_on",
    "home_tests_allowed",
    "preferred_language",
)


@changes_records
def change_risk_category(
    patient: Patient, *, by, new: str, changed_on: datetime.date, reason: str
) -> Patient:
    if new not in RiskCategory.values:
        raise ValidationError({"risk_category": "Choose a valid risk category."})
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason for the change."})
    check_field("reason", reason, multi_line)
    check_length("reason", reason, REASON_MAX_LENGTH)
    if changed_on > patient.clinic.today():
        raise ValidationError({"changed_on": "The date of the change cannot be in the future."})
    if changed_on < patient.enrolled_on:
        raise ValidationError({"changed_on": "The date is before the patient's enrollment."})
    latest = patient.risk_changes.order_by("-changed_on").values_list("changed_on", flat=True)
    if latest and changed_on < latest[0]:
        # The category is dated and the rules judge each day by the one in force on it: a change
        # slipped in before a later one would rewrite what the later one decided.
        raise ValidationError(
            {
                "changed_on": f"The category was last changed on {dates.day(latest[0])}: a new "
                "change cannot be dated before it."
            }
        )
    if new == patient.risk_category:
        raise ValidationError({"risk_category": "The patient is already in this category."})
    with transaction.atomic(), acting_as(by):
        RiskCategoryChange.objects.create(
            patient=patient,
            previous=patient.risk_category,
            new=new,
            changed_on=changed_on,
            reason=reason,
            changed_by=by,
        )
        patient.risk_category = new
        patient.risk_category_reason = reason
        patient.risk_category_set_on = changed_on
        patient.save(
            update_fields=[
                "risk_category",
                "risk_category_reason",
                "risk_category_set_on",
                "updated_at",
            ]
        )
    return patient


def check_record_date(patient: Patient, field: str, value: datetime.date | None) -> None:
    """A record dated before enrollment or in the future is invalid input, not a blocker."""
    if value is None:
        raise ValidationError({field: "This date is required."})
    if value > patient.clinic.today():
        raise ValidationError({field: "This date is in the future."})
    if value < RS_2021_IN_FORCE_FROM:
        raise ValidationError({field: BEFORE_FIRST_RULE_SET})
    if value < patient.enrolled_on:
        enrolled = dates.day(patient.enrolled_on)
        raise ValidationError(
            {field: f"This date is before the patient's enrollment ({enrolled})."}
        )


@changes_records
def record_consent(patient: Patient, *, by, kind: str, signed_on: datetime.date) -> Consent:
    if kind not in ConsentKind.values:
        raise ValidationError({"kind": "Choose a valid consent kind."})
    check_record_date(patient, "signed_on", signed_on)
    with transaction.atomic(), acting_as(by):
        return Consent.objects.create(
            patient=patient, kind=kind, signed_on=signed_on, recorded_by=by
        )


def _check_contraception(
    patient: Patient,
    *,
    confirmed_on: datetime.date,
    source: str,
    methods: list[str],
    started_on: datetime.date | None,
) -> None:
    if source not in Source.values:
        raise ValidationError({"source": "Choose staff or patient."})
    unknown = [m for m in methods if m not in ContraceptionMethod.values]
    if unknown:
        raise ValidationError({"methods": f"Unknown method: {', '.join(map(str, unknown))}."})
    if len(set(methods)) != len(methods):
        raise ValidationError({"methods": "A method is listed twice."})
    check_record_date(patient, "confirmed_on", confirmed_on)
    if started_on and started_on > confirmed_on:
        raise ValidationError({"started_on": "The methods cannot start after the confirmation."})
    if started_on and started_on < patient.birth_date:
        raise ValidationError({"started_on": "The methods cannot start before the birth date."})


@changes_records
def record_contraception(
    patient: Patient,
    *,
    by,
    confirmed_on: datetime.date,
    source: str,
    methods: list[str],
    abstinence: bool,
    started_on: datetime.date | None,
) -> ContraceptionConfirmation:
    _check_contraception(
        patient, confirmed_on=confirmed_on, source=source, methods=methods, started_on=started_on
    )
    with transaction.atomic(), acting_as(by):
        confirmation = ContraceptionConfirmation.objects.create(
            patient=patient,
            confirmed_on=confirmed_on,
            source=source,
            methods=sorted(methods),
            abstinence=abstinence,
            started_on=started_on,
            recorded_by=by if source == Source.STAFF else None,
        )
    return confirmation


@changes_records
def replace_contraception(
    confirmation: ContraceptionConfirmation,
    *,
    confirmed_on: datetime.date,
    methods: list[str],
    abstinence: bool,
) -> ContraceptionConfirmation:
    """The patient answers again in the same cycle: their earlier answer is updated, not joined
    by a second one (auditlog records the update with both values)."""
    _check_contraception(
        confirmation.patient,
        confirmed_on=confirmed_on,
        source=confirmation.source,
        methods=methods,
        started_on=confirmation.started_on,
    )
    with transaction.atomic():
        confirmation.confirmed_on = confirmed_on
        confirmation.methods = sorted(methods)
        confirmation.abstinence = abstinence
        confirmation.save(update_fields=["confirmed_on", "methods", "abstinence"])
    return confirmation


TEST_CHOICES = {
    "kind": TestKind,
    "result": TestResult,
    "setting": TestSetting,
    "method": TestMethod,
}


@changes_records
def record_pregnancy_test(patient: Patient, *, by, data: dict) -> PregnancyTest:
    """Record a test; the staff member recording it is its verifier."""
    check_record_date(patient, "collected_on", data.get("collected_on"))
    # The rules treat a setting they do not know as never allowed; refusing it here keeps such a
    # value out of the records in the first place, whichever door it came in by.
    for field, choices in TEST_CHOICES.items():
        if data.get(field) not in choices.values:
            raise ValidationError({field: f"Choose one of: {', '.join(choices.values)}."})
    if data.get("evidence") and (message := evidence.problem(data["evidence"])):
        raise ValidationError({"evidence": message})
    if data.get("setting") == "home" and not data.get("evidence"):
        raise ValidationError(
            {"evidence": "A home test needs a photo or readout of the result as evidence."}
        )
    if data.get("setting") == "home" and data.get("clia_lab"):
        raise ValidationError({"clia_lab": "A home test cannot be from a CLIA-certified lab."})
    with transaction.atomic(), acting_as(by):
        if data.get("evidence"):
            data = {**data, "evidence": evidence.prepared(data["evidence"])}
        test = PregnancyTest.objects.create(patient=patient, recorded_by=by, verified_by=by, **data)
    return test


@changes_records
def supersede_test(test: PregnancyTest, *, by, reason: str, on: datetime.date) -> PregnancyTest:
    if test.result != TestResult.POSITIVE:
        raise ValidationError({"reason": "Only a positive test can be marked superseded."})
    if test.superseded_on:
        raise ValidationError({"reason": "This test is already marked superseded."})
    if not reason or not reason.strip():
        raise ValidationError({"reason": "Give the reason the result is superseded."})
    check_field("reason", reason, multi_line)
    check_length("reason", reason.strip(), REASON_MAX_LENGTH)
    with transaction.atomic(), acting_as(by):
        test.superseded_on = on
        test.superseded_reason = reason.strip()
        test.superseded_by = by
        test.save(update_fields=["superseded_on", "superseded_reason", "superseded_by"])
    return test


def language_error(language) -> str | None:
    if language not in Language.values:
        return "Choose English or Spanish."
    return None


def set_preferred_language(patient: Patient, language: str) -> Patient:
    """The patient's own choice of language, from their page (no staff user: the signed link
    is the key). Emails, the page and the calendar feed follow it from the next one on."""
    if message := language_error(language):
        raise ValidationError({"preferred_language": message})
    with transaction.atomic():
        stored = Patient.objects.select_for_update().get(pk=patient.pk)
        if stored.preferred_language != language:
            stored.preferred_language = language
            stored.save(update_fields=["preferred_language", "updated_at"])  # audited
    patient.preferred_language = language
    return patient
