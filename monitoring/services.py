"""Every write to courses, visits, labs and prescriptions goes through one function here.

Each function owns its transaction (locking the patient row, so two prescriptions written at
the same moment are judged one after the other), validates in words a receptionist
understands, and is audited. A refused write raises before anything is saved.
"""

import datetime
import re
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

import rules
from clinic import dates
from clinic.audit import acting_as
from clinic.notes import NOTE_MAX_LENGTH, check_length
from clinic.text import check_field, multi_line
from patients.models import ContraceptionConfirmation, Patient, RiskCategory, Source
from patients.services import (
    BEFORE_FIRST_RULE_SET,
    changes_records,
    check_record_date,
    record_contraception,
    replace_contraception,
    weight_error,
)
from rules import ipledge
from rules.labs import LAB_TYPES

from .history import load_history, load_ipledge_ticks
from .models import (
    ComprehensionReport,
    Course,
    IpledgeEntry,
    LabKind,
    LabResult,
    MoodReview,
    Prescription,
    Reminder,
    ReminderStatus,
    Severity,
    SideEffect,
    Visit,
)
from .reminders.timing import clinic_allowed_at


class PrescriptionRefused(Exception):
    """The gate said no: `blockers` says why, in the engine's words."""

    def __init__(self, blockers):
        super().__init__("; ".join(b.message for b in blockers))
        self.blockers = tuple(blockers)


def _locked(patient: Patient) -> Patient:
    return Patient.objects.select_for_update().select_related("clinic").get(pk=patient.pk)


def current_course(patient: Patient) -> Course:
    return Course.objects.filter(patient=patient).latest()


def lab_unit(kind: str, unit: str | None) -> str | None:
    """The unit a result of this kind is stored in (IU/L becomes U/L), or None if not one."""
    return LAB_TYPES[kind].stored_unit(unit)


def lab_units_words(kind: str) -> str:
    lab = LAB_TYPES[kind]
    also = "".join(
        f" ({alias} is taken as {m.unit.symbol})" for m in lab.measures for alias in m.unit.aliases
    )
    return f"{lab.label} is recorded in {' or '.join(lab.units)}{also}."


def unusual_lab_value(kind: str, value: Decimal, unit: str) -> str | None:
    """Why a value is far outside what labs report (the registry's bounds), or None."""
    lab = LAB_TYPES[kind]
    low, high = lab.measure(unit).low, lab.measure(unit).high
    if value > high:
        where = f"far above what labs report (up to {high:,} {unit})"
    elif value < low:
        where = f"far below what labs report (from {low:,} {unit})"
    else:
        return None
    return f"{lab.label} {value.normalize():,f} {unit} is {where}: check the figure and the unit."


UNUSUAL_NOT_CONFIRMED = "If it is right, send it again confirmed (`confirm_unusual: true`)."


@changes_records
def record_lab(
    patient: Patient,
    *,
    by,
    kind: str,
    collected_on,
    value: Decimal,
    unit: str,
    confirm_unusual: bool = False,
):
    """Record a lab result in its stored unit; a value far outside what labs report only when
    `confirm_unusual` (the form's "save anyway")."""
    if kind not in LabKind.values:
        raise ValidationError({"kind": "Choose a valid lab kind."})
    if collected_on is not None and collected_on > patient.clinic.today():
        raise ValidationError({"collected_on": "This date is in the future."})
    if collected_on is not None and collected_on < rules.RS_2021_IN_FORCE_FROM:
        raise ValidationError({"collected_on": BEFORE_FIRST_RULE_SET})
    # Baseline labs are often drawn in the month before enrollment: allow 30 days before it.
    if collected_on is None or collected_on < patient.enrolled_on - datetime.timedelta(days=30):
        raise ValidationError(
            {"collected_on": "Labs must be collected at most 30 days before enrollment."}
        )
    if value is None or value < 0:
        raise ValidationError({"value": "Enter a value of zero or more."})
    if not unit or not unit.strip():
        raise ValidationError({"unit": "Enter the unit."})
    stored_unit = lab_unit(kind, unit)
    if stored_unit is None:
        raise ValidationError({"unit": lab_units_words(kind)})
    unusual = unusual_lab_value(kind, value, stored_unit)
    if unusual and not confirm_unusual:
        raise ValidationError({"value": f"{unusual} {UNUSUAL_NOT_CONFIRMED}"})
    with transaction.atomic(), acting_as(by):
        return LabResult.objects.create(
            patient=patient,
            kind=kind,
            collected_on=collected_on,
            value=value,
            unit=stored_unit,
            recorded_by=by,
        )


MAX_NEXT_VISIT_AHEAD = datetime.timedelta(days=180)


PHQ9_TOTAL_MISSING = "Record the PHQ-9 total along with item 9."


def incomplete_mood_screen(data: dict) -> dict:
    """What the visit checklist asks for beyond `validate_visit`: the PHQ-9 when the PHQ-2 is
    3 or more, and item 9 with every PHQ-9 total. The API may record a visit without them (the
    gate then says `mood_screen_incomplete`, docs/domain.md section 4); the checklist, filled in
    with the patient in the room, asks for the whole screen at once."""
    phq2, phq9, item9 = data.get("phq2"), data.get("phq9"), data.get("phq9_item9")
    gaps = {}
    if phq2 is not None and phq2 >= rules.constants.PHQ2_NEEDS_PHQ9 and phq9 is None:
        gaps["phq9"] = "PHQ-2 is 3 or more: record the PHQ-9 total and item 9."
    if phq9 is not None and item9 is None:
        gaps["phq9_item9"] = "Record item 9 of the PHQ-9."
    return gaps


def validate_visit(patient: Patient, data: dict) -> None:
    errors = {}
    try:
        check_record_date(patient, "visited_on", data.get("visited_on"))
    except ValidationError as error:
        errors.update(error.message_dict)
    phq2, phq9, item9 = data.get("phq2"), data.get("phq9"), data.get("phq9_item9")
    if phq2 is None or not 0 <= phq2 <= 6:
        errors["phq2"] = "PHQ-2 is a score from 0 to 6."
    if phq9 is not None and not 0 <= phq9 <= 27:
        errors["phq9"] = "PHQ-9 is a score from 0 to 27."
    if item9 is not None and not 0 <= item9 <= 3:
        errors["phq9_item9"] = "PHQ-9 item 9 is a score from 0 to 3."
    elif item9 is not None and phq9 is None:
        errors["phq9"] = PHQ9_TOTAL_MISSING
    elif item9 is not None and phq9 is not None and item9 > phq9:
        errors["phq9_item9"] = "Item 9 cannot be more than the PHQ-9 total."
    if message := weight_error(data.get("weight_kg")):
        errors["weight_kg"] = message
    missed = data.get("missed_dose_days") or 0
    if not 0 <= missed <= 30:
        errors["missed_dose_days"] = "Missed dose days must be from 0 to 30."
    next_visit = data.get("next_visit_on")
    if next_visit and data.get("visited_on"):
        if next_visit <= data["visited_on"]:
            errors["next_visit_on"] = "The next visit must be after this visit."
        elif next_visit > data["visited_on"] + MAX_NEXT_VISIT_AHEAD:
            errors["next_visit_on"] = "The next visit must be within 180 days of this visit."
    try:
        check_field("notes", data.get("notes") or "", multi_line)
    except ValidationError as error:
        errors.update(error.message_dict)
    side_effects = data.get("side_effects") or {}
    if not isinstance(side_effects, dict) or any(
        code not in SideEffect.values or severity not in Severity.values
        for code, severity in side_effects.items()
    ):
        errors["side_effects"] = "Side effects must be known codes with mild, moderate or severe."
    try:
        check_length("notes", data.get("notes"), NOTE_MAX_LENGTH)
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)


# A weight change this large within about a month is more often a typing slip than real; the
# dose limit (2 mg/kg/day) is computed from it, so the page asks to check it.
WEIGHT_CHANGE_WARNING = Decimal("0.15")
WEIGHT_CHANGE_WITHIN = datetime.timedelta(days=45)


def visit_warnings(patient: Patient, data: dict) -> dict:
    """Field -> a sentence asking to check an unlikely but possible visit entry."""
    weight, visited_on = data.get("weight_kg"), data.get("visited_on")
    if weight is None or visited_on is None:
        return {}
    earlier = (
        Visit.objects.filter(patient=patient, visited_on__lte=visited_on, weight_kg__isnull=False)
        .order_by("-visited_on", "-id")
        .values_list("visited_on", "weight_kg")
        .first()
    )
    then, previous = earlier if earlier else (patient.enrolled_on, patient.weight_kg)
    if previous is None or visited_on - then > WEIGHT_CHANGE_WITHIN or not previous:
        return {}
    if abs(weight - previous) / previous < WEIGHT_CHANGE_WARNING:
        return {}
    change = "fell" if weight < previous else "rose"
    return {
        "weight_kg": f"The weight {change} from {previous} kg on {dates.day(then)} to {weight} kg: "
        "check the figure (the dose limit is computed from it)."
    }


VISIT_FIELDS = (
    "visited_on",
    "weight_kg",
    "counseling_confirmed",
    "comprehension_completed",
    "phq2",
    "phq9",
    "phq9_item9",
    "side_effects",
    "missed_dose_days",
    "next_visit_on",
    "notes",
)


@changes_records
def record_visit(patient: Patient, *, by, data: dict, may_confirm_counseling: bool) -> Visit:
    """Record a visit. Counseling can be confirmed only by a clinician."""
    if data.get("counseling_confirmed") and not may_confirm_counseling:
        raise PermissionDenied("Only a clinician can confirm counseling.")
    validate_visit(patient, data)
    fields = {name: data[name] for name in VISIT_FIELDS if data.get(name) is not None}
    with transaction.atomic(), acting_as(by):
        return Visit.objects.create(patient=patient, recorded_by=by, **fields)


def record_visit_checklist(
    patient: Patient,
    *,
    by,
    visit: dict,
    contraception: dict | None,
    may_confirm_counseling: bool,
) -> Visit:
    """The monthly visit checklist: the visit and, when re-confirmed at it, the staff
    contraception confirmation, in one transaction: a refused confirmation leaves no visit, and
    the reverse (docs/clinic-day.md, the checklist)."""
    with transaction.atomic():
        saved = record_visit(
            patient, by=by, data=visit, may_confirm_counseling=may_confirm_counseling
        )
        if contraception is not None:
            record_contraception(patient, by=by, source=Source.STAFF, **contraception)
    return saved


@changes_records
def record_mood_review(visit: Visit, *, by, reviewed_on: datetime.date, note: str) -> MoodReview:
    check_record_date(visit.patient, "reviewed_on", reviewed_on)
    if reviewed_on < visit.visited_on:
        raise ValidationError({"reviewed_on": "The review cannot be dated before the visit."})
    if not note or not note.strip():
        raise ValidationError({"note": "Write what was reviewed and decided."})
    check_field("note", note, multi_line)
    check_length("note", note.strip(), NOTE_MAX_LENGTH)
    with transaction.atomic(), acting_as(by):
        return MoodReview.objects.create(
            patient=visit.patient,
            visit=visit,
            reviewed_on=reviewed_on,
            note=note.strip(),
            recorded_by=by,
        )


# The patient's own answers from the page their link opens (monitoring/self_service.py): one of
# each per cycle (docs/domain.md section 4), a second one replacing the first, so a link cannot
# fill the record with answers (docs/security.md, "Patient links").


@changes_records
def record_comprehension_report(patient: Patient, *, on: datetime.date) -> ComprehensionReport:
    """The patient, on the self-service page, says the monthly questions are done. A second
    report in the same cycle moves the first one's date (audited as a change)."""
    with transaction.atomic():
        patient = _locked(patient)
        _, history = load_history(patient)
        earlier = (
            ComprehensionReport.objects.filter(
                patient=patient, reported_on__range=(rules.cycle_start(history, on), on)
            )
            .order_by("-reported_on", "-id")
            .first()
        )
        if earlier is None:
            return ComprehensionReport.objects.create(patient=patient, reported_on=on)
        if earlier.reported_on != on:
            earlier.reported_on = on
            earlier.save(update_fields=["reported_on"])
        return earlier


NOT_ASKED_CONTRACEPTION = "Birth control is not asked of this patient."


def record_patient_contraception(
    patient: Patient, *, on: datetime.date, methods: list[str], abstinence: bool
) -> ContraceptionConfirmation:
    """The patient confirms their methods on the self-service page: only a patient who can get
    pregnant on `on` (the category in force that day), once per cycle; a second confirmation
    in the cycle replaces the first."""
    with transaction.atomic():
        patient = _locked(patient)
        _, history = load_history(patient)
        if rules.category_on(history, on) != RiskCategory.CAN_GET_PREGNANT:
            raise PermissionDenied(NOT_ASKED_CONTRACEPTION)
        earlier = (
            ContraceptionConfirmation.objects.filter(
                patient=patient,
                source=Source.PATIENT,
                confirmed_on__range=(rules.cycle_start(history, on), on),
            )
            .order_by("-confirmed_on", "-id")
            .first()
        )
        if earlier is None:
            return record_contraception(
                patient,
                by=None,
                confirmed_on=on,
                source=Source.PATIENT,
                methods=methods,
                abstinence=abstinence,
                started_on=None,
            )
        return replace_contraception(
            earlier, confirmed_on=on, methods=methods, abstinence=abstinence
        )


@changes_records
def write_prescription(
    patient: Patient, *, by, written_on: datetime.date, daily_dose_mg: Decimal, days_supply: int
) -> Prescription:
    """Write a prescription if, and only if, the gate has no blocker on `written_on`."""
    with transaction.atomic(), acting_as(by):
        patient = _locked(patient)
        check_record_date(patient, "written_on", written_on)
        course, history = load_history(patient)
        later = [p.written_on for p in history.prescriptions if p.written_on >= written_on]
        if later:
            raise ValidationError(
                {"written_on": f"A prescription is already written on {dates.day(max(later))}."}
            )
        errors = rules.validate_prescription(history, written_on, daily_dose_mg, days_supply)
        if errors:
            raise ValidationError(errors)
        blockers = rules.evaluate(history, written_on)
        today = patient.clinic.today()
        if written_on < today:
            # Entered late: judged by the rules of its day, and refused when something that
            # stands until acted on (a positive test, a mood review) has been recorded since.
            blockers += rules.standing_blockers(history, today)
            blockers = tuple(dict.fromkeys(blockers))
        if blockers:
            raise PrescriptionRefused(blockers)
        return Prescription.objects.create(
            patient=patient,
            course=course,
            written_on=written_on,
            daily_dose_mg=daily_dose_mg,
            days_supply=days_supply,
            recorded_by=by,
        )


# iPLEDGE's Risk Management Authorization number is a numeric authorization number the
# pharmacy reads off the iPLEDGE website or phone line (docs/rules.md, "RMA numbers": the length
# range is our assumption, iPLEDGE does not publish one). Spaces and dashes are how people group
# digits they copy, so they are dropped; anything else (letters, a date, a name) is refused.
RMA_DIGITS = (6, 12)
_RMA_SEPARATORS = str.maketrans("", "", " -\u2010\u2011\u2012\u2013")
RMA_SHAPE = (
    f"Enter the RMA number iPLEDGE gave for this dispense: {RMA_DIGITS[0]} to {RMA_DIGITS[1]} "
    "digits (spaces and dashes are fine), e.g. 123456789."
)


def rma_number_error(raw: str | None) -> str | None:
    """Why this is not an RMA number as iPLEDGE gives it, or None."""
    digits = (raw or "").strip().translate(_RMA_SEPARATORS)
    if not digits:
        return "Enter the pharmacy's RMA number."
    low, high = RMA_DIGITS
    # [0-9], not str.isdigit(): that also takes superscripts and other scripts' digits.
    if not re.fullmatch(f"[0-9]{{{low},{high}}}", digits):
        return RMA_SHAPE
    return None


def stored_rma_number(raw: str) -> str:
    """The RMA number as stored: its digits, without the spaces and dashes it was typed with."""
    return raw.strip().translate(_RMA_SEPARATORS)


@changes_records
def dispense(prescription: Prescription, *, by, dispensed_on: datetime.date, rma_number: str):
    """Record the pharmacy's dispense and its RMA number (digits only, RMA_DIGITS long)."""
    if message := rma_number_error(rma_number):
        raise ValidationError({"rma_number": message})
    rma_number = stored_rma_number(rma_number)
    with transaction.atomic(), acting_as(by):
        prescription = (
            Prescription.objects.select_for_update()
            .select_related("patient__clinic", "course")
            .get(pk=prescription.pk)
        )
        if prescription.dispensed_on:
            raise ValidationError({"dispensed_on": "This prescription is already dispensed."})
        check_record_date(prescription.patient, "dispensed_on", dispensed_on)
        if dispensed_on < prescription.written_on:
            raise ValidationError({"dispensed_on": "It cannot be dispensed before it was written."})
        if prescription.course.last_dose_on:
            raise ValidationError({"dispensed_on": "The course has ended."})
        _check_pickup(prescription, dispensed_on)
        prescription.dispensed_on = dispensed_on
        prescription.rma_number = rma_number
        prescription.save(update_fields=["dispensed_on", "rma_number"])
    return prescription


def _check_pickup(prescription: Prescription, dispensed_on: datetime.date) -> None:
    """Only the latest prescription of the course, and only inside its pick-up window."""
    _, history = load_history(prescription.patient)
    latest = max(history.prescriptions, key=lambda p: (p.written_on, p.id))
    if latest.id != prescription.pk:
        raise ValidationError(
            {"dispensed_on": "A newer prescription exists; dispense that one instead."}
        )
    deadline = rules.pickup_deadline(history, prescription.written_on)
    if dispensed_on > deadline:
        raise ValidationError(
            {
                "dispensed_on": f"The pick-up window closed on {dates.day(deadline)}; "
                "this prescription can no longer be dispensed."
            }
        )


@changes_records
def end_treatment(patient: Patient, *, by, last_dose_on: datetime.date) -> Course:
    with transaction.atomic(), acting_as(by):
        patient = _locked(patient)
        course = current_course(patient)
        if course.last_dose_on:
            raise ValidationError({"last_dose_on": "This course has already ended."})
        check_record_date(patient, "last_dose_on", last_dose_on)
        first_dispense = (
            course.prescriptions.filter(dispensed_on__isnull=False)
            .order_by("dispensed_on")
            .values_list("dispensed_on", flat=True)
            .first()
        )
        if first_dispense and last_dose_on < first_dispense:
            raise ValidationError(
                {"last_dose_on": "The last dose cannot be before the first dispense."}
            )
        course.last_dose_on = last_dose_on
        course.ended_by = by
        course.save(update_fields=["last_dose_on", "ended_by"])
    return course


def patient_status(patient: Patient, on: datetime.date) -> rules.Status:
    return rules.status(load_history(patient)[1], on)


@changes_records
def record_ipledge_entry(patient: Patient, *, by, item: str) -> IpledgeEntry:
    """Staff typed one item of this cycle's entry sheet into iPLEDGE: keep the value they typed
    (docs/ipledge-sheet.md). Refused when the item has nothing to enter or is already ticked."""
    with transaction.atomic(), acting_as(by):
        patient = _locked(patient)
        _, history = load_history(patient)
        today = patient.clinic.today()
        ticks = load_ipledge_ticks(patient)
        found = ipledge.build(history, today, ticks).item(item)
        if found is None:
            raise ValidationError({"item": "This item is not on the patient's iPLEDGE sheet."})
        if not found.ready:
            raise ValidationError({"item": f"Nothing to enter yet: {found.missing}"})
        if found.entered is not None:
            raise ValidationError({"item": "This value is already ticked as entered."})
        return IpledgeEntry.objects.create(
            patient=patient,
            item=item,
            cycle_from=ipledge.cycle_from(history, today),
            value=found.value[:500],
            entered_by=by,
        )


@changes_records
def record_ipledge_entries(patient: Patient, *, by) -> list[IpledgeEntry]:
    """Every item waiting on the sheet ticked at once, after staff typed them all into iPLEDGE
    (the sheet's "Tick all"): one transaction, refused when nothing waits."""
    with transaction.atomic(), acting_as(by):
        patient = _locked(patient)
        _, history = load_history(patient)
        today = patient.clinic.today()
        sheet = ipledge.build(history, today, load_ipledge_ticks(patient))
        if not sheet.pending:
            raise ValidationError({"item": "Nothing on the sheet waits to be entered."})
        since = ipledge.cycle_from(history, today)
        return _Entries(
            patient,
            [
                IpledgeEntry.objects.create(
                    patient=patient,
                    item=item.item,
                    cycle_from=since,
                    value=item.value[:500],
                    entered_by=by,
                )
                for item in sheet.pending
            ],
        )


class _Entries(list):
    """A list of entries that names its patient (changes_records refreshes the patient's row)."""

    def __init__(self, patient, entries):
        super().__init__(entries)
        self.patient = patient


def retry_failed(reminder: Reminder, *, by) -> tuple[bool, datetime.datetime]:
    """Send a failed reminder again: back to pending with a fresh count of attempts, now or
    when the clinic's quiet hours end. One conditional UPDATE, so only a row that is still
    failed changes; returns (changed, the send instant)."""
    now = timezone.now()
    send_at = clinic_allowed_at(reminder.patient.clinic, now)
    with acting_as(by):
        changed = Reminder.objects.filter(pk=reminder.pk, status=ReminderStatus.FAILED).update(
            status=ReminderStatus.PENDING, attempts=0, send_at=send_at, updated_at=now
        )
    return bool(changed), send_at


def opt_out_of_email(patient: Patient) -> None:
    """The patient's unsubscribe (the emailed link): no more reminder emails, and those still
    waiting are cancelled, in one transaction. Idempotent: a second click changes nothing."""
    with transaction.atomic():
        patient = _locked(patient)
        if not patient.email_opt_out:
            patient.email_opt_out = True
            patient.save(update_fields=["email_opt_out", "updated_at"])  # audited
        Reminder.objects.filter(patient=patient, status=ReminderStatus.PENDING).update(
            status=ReminderStatus.CANCELLED, last_error="the patient opted out"
        )
