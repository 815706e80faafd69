"""Enrollment: a patient and their first treatment course, written together.

The course opens on the enrollment date (docs/domain.md, section 2), so enrolling a patient and
correcting their enrollment date both write a patient row (the `patients` app's) and a course
(this app's). The code spanning the two apps lives here, in the upper one (docs/architecture.md).
"""

import contextlib
import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Min

import rules
from clinic import dates
from clinic.audit import acting_as
from clinic.models import Clinic
from patients.models import Consent, ContraceptionConfirmation, Patient, PregnancyTest
from patients.services import (
    ENROLLMENT_FIELDS,
    changes_records,
    check_record_date,
    mrn_error,
    validate_enrollment,
)
from rules import target_error

from .history import load_history
from .models import Course, Visit


@changes_records
def enroll_patient(
    *, clinic: Clinic, by, data: dict, may_allow_home_tests: bool = False
) -> Patient:
    """Enroll a patient and open their treatment course.

    Allowing verified home tests is the prescriber's decision: only a caller who may allow them
    may enroll a patient with `home_tests_allowed`.
    """
    if data.get("home_tests_allowed") and not may_allow_home_tests:
        raise PermissionDenied("Only a clinician can allow home pregnancy tests.")
    today = clinic.today()
    data = {**data}
    data.setdefault("enrolled_on", today)
    data.setdefault("risk_category_reason", "Set at enrollment")
    validate_enrollment(data, clinic=clinic, today=today)
    target = data.pop("target_mg_per_kg", None)
    if target is None:
        target = clinic.default_target_mg_per_kg
    if message := target_error(target):
        raise ValidationError({"target_mg_per_kg": message})
    fields = {name: data[name] for name in ENROLLMENT_FIELDS if name in data}
    with transaction.atomic(), acting_as(by):
        with _same_mrn_at_once(fields.get("mrn"), clinic):
            patient = Patient.objects.create(
                clinic=clinic,
                created_by=by,
                risk_category_set_on=fields["enrolled_on"],
                **fields,
            )
        Course.objects.create(
            patient=patient,
            opened_on=patient.enrolled_on,
            target_mg_per_kg=target,
            recorded_by=by,
        )
    return patient


@changes_records
def update_patient(patient: Patient, *, by, data: dict, may_allow_home_tests: bool) -> Patient:
    """Update contact and enrollment details (not the risk category: see below).

    Whether home tests are allowed is the prescriber's decision, so `home_tests_allowed` is
    kept as it was unless `may_allow_home_tests`.
    """
    with transaction.atomic(), acting_as(by):
        # Compare with the stored row, not with an instance a ModelForm may have changed.
        stored = Patient.objects.select_for_update().select_related("clinic").get(pk=patient.pk)
        editable = [
            f for f in ENROLLMENT_FIELDS if f not in {"risk_category", "risk_category_reason"}
        ]
        if not may_allow_home_tests:
            editable.remove("home_tests_allowed")
        merged = {name: data.get(name, getattr(stored, name)) for name in editable}
        validate_enrollment(
            merged, clinic=stored.clinic, today=stored.clinic.today(), exclude_pk=stored.pk
        )
        if merged["enrolled_on"] != stored.enrolled_on:
            _move_enrollment(stored, merged["enrolled_on"])
        for name, value in merged.items():
            setattr(stored, name, value)
        with _same_mrn_at_once(stored.mrn, stored.clinic, exclude_pk=stored.pk):
            stored.save()
    return stored


@contextlib.contextmanager
def _same_mrn_at_once(mrn, clinic: Clinic, exclude_pk=None):
    """Two requests enrolling one MRN at the same moment both pass the check before either
    writes: the database's unique key on (clinic, mrn_key) refuses the second, and it gets the
    same form error as if it had come a moment later, not a server error."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        if message := mrn_error(mrn, clinic, exclude_pk):
            raise ValidationError({"mrn": message}) from None
        raise


def _move_enrollment(patient: Patient, enrolled_on: datetime.date) -> None:
    """Correct the enrollment date of a course that has no prescription yet.

    The course opens on the enrollment date and the rules read only records dated on or after
    it, so the new date may not fall after any record already kept.
    """
    courses = list(Course.objects.select_for_update().filter(patient=patient))
    if len(courses) > 1:
        raise ValidationError(
            {"enrolled_on": "The enrollment date of a later course cannot be changed."}
        )
    course = courses[0]
    if course.prescriptions.exists():
        raise ValidationError(
            {"enrolled_on": "The enrollment date cannot change once a prescription is written."}
        )
    earliest = earliest_record_date(patient)
    if earliest is not None and enrolled_on > earliest:
        raise ValidationError(
            {
                "enrolled_on": f"Records are dated from {dates.day(earliest)}: enrollment must be "
                "on or before that day."
            }
        )
    course.opened_on = enrolled_on
    course.save(update_fields=["opened_on"])


def earliest_record_date(patient: Patient) -> datetime.date | None:
    dates = [
        Consent.objects.filter(patient=patient).aggregate(d=Min("signed_on"))["d"],
        ContraceptionConfirmation.objects.filter(patient=patient).aggregate(d=Min("confirmed_on"))[
            "d"
        ],
        PregnancyTest.objects.filter(patient=patient).aggregate(d=Min("collected_on"))["d"],
        Visit.objects.filter(patient=patient).aggregate(d=Min("visited_on"))["d"],
    ]
    dates = [d for d in dates if d is not None]
    return min(dates) if dates else None


@changes_records
def start_new_course(
    patient: Patient, *, by, opened_on: datetime.date, target_mg_per_kg: Decimal | None = None
) -> Course:
    """Open a new treatment course once the last one ended at least
    `RETREATMENT_GAP_DAYS` before (docs/domain.md, section 4)."""
    with transaction.atomic(), acting_as(by):
        patient = Patient.objects.select_for_update().select_related("clinic").get(pk=patient.pk)
        _, history = load_history(patient)
        earliest = rules.new_course_earliest(history)
        if earliest is None:
            raise ValidationError({"opened_on": "The current course has not ended."})
        check_record_date(patient, "opened_on", opened_on)
        if opened_on < earliest:
            raise ValidationError(
                {
                    "opened_on": f"A new course may start on {dates.day(earliest)} at the earliest "
                    f"({rules.constants.RETREATMENT_GAP_DAYS} days after the last dose)."
                }
            )
        target = target_mg_per_kg
        if target is None:
            target = patient.clinic.default_target_mg_per_kg
        if message := rules.target_error(target):
            raise ValidationError({"target_mg_per_kg": message})
        # A new course is a new enrollment: records are then checked against its date.
        patient.enrolled_on = opened_on
        patient.save(update_fields=["enrolled_on", "updated_at"])
        return Course.objects.create(
            patient=patient, opened_on=opened_on, target_mg_per_kg=target, recorded_by=by
        )
