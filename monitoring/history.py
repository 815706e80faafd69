"""Read a patient's history into the rules engine's snapshot, in a fixed number of queries.

This is the only place that turns database rows into `rules` input, so every reader
(the gate, the patient page, the worklist, the API, the reminder planner) sees the same facts.
`load_histories` takes many patients at once: one query per record type whatever their number,
reading rows as plain values (no model instances), so a whole clinic costs little memory;
`load_records` reads model instances for the pages that show the records themselves. Both feed
the same `snapshot` builder, which reads attributes only.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter

from django.db.models import Prefetch

import rules
from patients.models import Patient, pregnancy_test_verified
from patients.records import RECORD_TYPES
from rules import ipledge

from .models import Course, IpledgeEntry, MoodReview, Visit


def rule_settings_for(clinic) -> rules.RuleSettings:
    return rules.RuleSettings(
        rs2026_effective_on=clinic.rs2026_effective_on,
        home_tests_under_discretion=clinic.home_tests_under_discretion,
        followup_lab_weeks=clinic.followup_lab_weeks,
    )


def _by_patient(queryset) -> dict[int, list]:
    grouped = defaultdict(list)
    for row in queryset:
        grouped[row.patient_id].append(row)
    return grouped


def current_courses(patient_ids: Iterable[int]) -> dict[int, Course]:
    """The latest course of each patient (one query)."""
    courses = {}
    for course in _in_model_order(Course.objects.filter(patient_id__in=patient_ids)):
        courses[course.patient_id] = course  # opened_on, id: the last one stays
    return courses


@dataclass
class Records:
    """The rows of one patient's current course, as read for the snapshot and the pages."""

    course: Course
    consents: list = field(default_factory=list)
    contraception: list = field(default_factory=list)
    tests: list = field(default_factory=list)
    labs: list = field(default_factory=list)
    visits: list = field(default_factory=list)
    prescriptions: list = field(default_factory=list)
    reports: list = field(default_factory=list)
    risk_changes: list = field(default_factory=list)
    # visit id -> the dates of its clinician mood reviews, oldest first
    mood_reviews: dict = field(default_factory=dict)


def load_records(patients: list[Patient]) -> dict[int, Records]:
    """Model instances of each patient's current course, for pages that show the records:
    10 queries for any number of patients, one per record type. The pages name who confirmed
    contraception and who changed the risk category: those users come in the same queries."""
    ids = [p.pk for p in patients]
    return _group(
        ids,
        courses=current_courses(ids),  # 1: courses
        visits=_in_model_order(  # 2 and 3
            Visit.objects.filter(patient_id__in=ids).prefetch_related(
                Prefetch("mood_reviews", queryset=MoodReview.objects.order_by("reviewed_on"))
            )
        ),
        mood_reviews=None,  # read with the visits
        # 4 to 10: consents, contraception, tests, labs, prescriptions, reports, risk changes
        **{t.key: _in_model_order(_rows(t, ids)) for t in ROWS_OF_THEIR_OWN},
    )


def _in_model_order(queryset) -> list:
    """The rows in their model's order (Meta.ordering), sorted here instead of in SQL: for the
    few rows of a patient, the ORM spends longer compiling an ORDER BY (a quarter of each
    query's CPU on the patient page) than Python spends sorting. Each ordering is a date (or
    an instant) and the id, never null, all one way."""
    ordering = queryset.model._meta.ordering
    descending = ordering[0].startswith("-")
    if any(name.startswith("-") != descending for name in ordering):
        raise ValueError(f"{queryset.model.__name__}: an ordering of one direction only")
    key = attrgetter(*(name.lstrip("-") for name in ordering))
    return sorted(queryset.order_by(), key=key, reverse=descending)


# The fields the snapshot reads, per record type (values rows carry exactly these): the
# registry's (patients/records.py), in its order.
SNAPSHOT_FIELDS = {t.key: t.snapshot_fields for t in RECORD_TYPES.values() if t.snapshot_fields}
# The record types read with one plain query each; the current course and the visits (with
# their mood reviews) are read their own way.
ROWS_OF_THEIR_OWN = [
    t for t in RECORD_TYPES.values() if t.snapshot_fields and t.key not in ("courses", "visits")
]
# The users a page names beside a record (who confirmed contraception, who changed the risk
# category), read in the record's own query.
RECORDERS = {"contraception": ("recorded_by",), "risk_changes": ("changed_by",)}


def _rows(record_type, ids):
    rows = record_type.model.objects.filter(patient_id__in=ids)
    return rows.select_related(*RECORDERS.get(record_type.key, ()))


def of_patients(ids: list[int], field: str = "patient_id") -> dict:
    """Filter arguments for the rows of the patients `ids`. A batch reader's chunk is read in
    id order, so its ids are usually dense: a range then costs one condition instead of a
    thousand parameters to build, send and parse. It may bring rows of patients outside the
    chunk (another clinic's, or ones the reader skipped); the callers group rows by patient and
    read only the chunk's."""
    low, high = min(ids), max(ids)
    if high - low < 2 * len(ids):
        return {f"{field}__gte": low, f"{field}__lte": high}
    return {f"{field}__in": ids}


def load_patients(ids: list[int]) -> list[Patient]:
    """The patients `ids` (ascending) with their clinic, in two queries: a batch reader's
    chunk, from ids it read once (re-filtering its queryset per chunk would re-run it each
    time). Patients of one clinic share one Clinic instance (select_related would make one per
    patient: a tenth of the triage refresh)."""
    wanted = set(ids)
    patients = [
        p for p in Patient.objects.filter(**of_patients(ids, "pk")).order_by("pk") if p.pk in wanted
    ]
    clinic = Patient._meta.get_field("clinic")
    clinics = clinic.related_model.objects.in_bulk({p.clinic_id for p in patients})
    for p in patients:
        clinic.set_cached_value(p, clinics[p.clinic_id])
    return patients


def load_snapshot_rows(patients: list[Patient]) -> dict[int, Records]:
    """The same records as plain value rows (named tuples), for batch readers: 10 queries."""
    ids = [p.pk for p in patients]
    mine = of_patients(ids)

    def rows(record_type):
        return record_type.model.objects.filter(**mine).values_list(
            *record_type.snapshot_fields, named=True
        )

    courses = {}
    for course in rows(RECORD_TYPES["courses"]).order_by("opened_on", "id"):  # 1
        courses[course.patient_id] = course
    visits = list(rows(RECORD_TYPES["visits"]))  # 2
    reviews = defaultdict(list)
    for visit_id, reviewed_on in (  # 3
        MoodReview.objects.filter(**of_patients(ids, "visit__patient_id"))
        .order_by("reviewed_on")
        .values_list("visit_id", "reviewed_on")
    ):
        reviews[visit_id].append(reviewed_on)
    return _group(
        ids,
        courses=courses,
        visits=visits,
        mood_reviews={visit_id: tuple(dates) for visit_id, dates in reviews.items()},
        # 4 to 10: consents, contraception, tests, labs, prescriptions, reports, risk changes
        **{t.key: rows(t) for t in ROWS_OF_THEIR_OWN},
    )


def _group(ids, *, courses, mood_reviews, **querysets) -> dict[int, Records]:
    """Each patient's rows of the current course (labs and consents: all of them)."""
    grouped = {key: _by_patient(queryset) for key, queryset in querysets.items()}
    result = {}
    for pid in ids:
        course = courses[pid]
        visits = [v for v in grouped["visits"][pid] if _in_course(v.visited_on, course)]
        if mood_reviews is None:  # instances: the reviews came prefetched with the visits
            reviews = {v.pk: tuple(r.reviewed_on for r in v.mood_reviews.all()) for v in visits}
        else:
            reviews = {v.pk: mood_reviews.get(v.pk, ()) for v in visits}
        result[pid] = Records(
            course=course,
            consents=grouped["consents"][pid],
            contraception=[
                c for c in grouped["contraception"][pid] if _in_course(c.confirmed_on, course)
            ],
            tests=[t for t in grouped["tests"][pid] if _in_course(t.collected_on, course)],
            # Baseline labs may be drawn shortly before enrollment, so all labs are kept.
            labs=grouped["labs"][pid],
            visits=visits,
            prescriptions=[p for p in grouped["prescriptions"][pid] if p.course_id == course.pk],
            reports=[r for r in grouped["reports"][pid] if _in_course(r.reported_on, course)],
            # The whole dated history: a category set before this course is in force in it.
            risk_changes=grouped["risk_changes"][pid],
            mood_reviews=reviews,
        )
    return result


def load_histories(patients: list[Patient]) -> dict[int, tuple[object, rules.History]]:
    """Snapshot of each patient's current course, read as values: 10 queries for any number of
    patients. The course comes as a value row (pk, opened_on, last_dose_on, target).

    Patients must come with their clinic (select_related("clinic")): it holds the rule settings.
    """
    records = load_snapshot_rows(patients)
    return {p.pk: (records[p.pk].course, snapshot(p, records[p.pk])) for p in patients}


def load_history(patient: Patient) -> tuple[Course, rules.History]:
    """One patient's course (a model instance, for services that write to it) and snapshot."""
    records = load_records([patient])[patient.pk]
    return records.course, snapshot(patient, records)


def _in_course(day, course: Course) -> bool:
    return day >= course.opened_on


def snapshot(patient: Patient, records: Records) -> rules.History:
    course = records.course
    return rules.History(
        risk_category=patient.risk_category,
        enrolled_on=course.opened_on,
        enrollment_weight_kg=patient.weight_kg,
        home_tests_allowed=patient.home_tests_allowed,
        target_mg_per_kg=course.target_mg_per_kg,
        last_dose_on=course.last_dose_on,
        consents=tuple(rules.Consent(kind=c.kind, signed_on=c.signed_on) for c in records.consents),
        contraception=tuple(
            rules.ContraceptionConfirmation(
                id=c.pk,
                confirmed_on=c.confirmed_on,
                source=c.source,
                methods=frozenset(c.methods),
                abstinence=c.abstinence,
                started_on=c.started_on,
            )
            for c in records.contraception
        ),
        pregnancy_tests=tuple(
            rules.PregnancyTest(
                id=t.pk,
                kind=t.kind,
                collected_on=t.collected_on,
                result=t.result,
                setting=t.setting,
                clia_lab=t.clia_lab,
                method=t.method,
                verified=pregnancy_test_verified(t.verified_by_id, t.setting, t.evidence),
                superseded_on=t.superseded_on,
            )
            for t in records.tests
        ),
        labs=tuple(
            rules.LabResult(
                kind=lab.kind, collected_on=lab.collected_on, value=lab.value, unit=lab.unit
            )
            for lab in records.labs
        ),
        visits=tuple(
            rules.Visit(
                id=v.pk,
                visited_on=v.visited_on,
                weight_kg=v.weight_kg,
                counseling_confirmed=v.counseling_confirmed,
                comprehension_completed=v.comprehension_completed,
                phq2=v.phq2,
                phq9=v.phq9,
                phq9_item9=v.phq9_item9,
                missed_dose_days=v.missed_dose_days,
                next_visit_on=v.next_visit_on,
                mood_reviews=records.mood_reviews.get(v.pk, ()),
            )
            for v in records.visits
        ),
        prescriptions=tuple(
            rules.Prescription(
                id=p.pk,
                written_on=p.written_on,
                daily_dose_mg=p.daily_dose_mg,
                days_supply=p.days_supply,
                dispensed_on=p.dispensed_on,
            )
            for p in records.prescriptions
        ),
        comprehension_reported_on=tuple(r.reported_on for r in records.reports),
        risk_category_changes=tuple(
            rules.RiskCategoryChange(changed_on=x.changed_on, previous=x.previous, new=x.new)
            for x in records.risk_changes
        ),
        settings=rule_settings_for(patient.clinic),
    )


def load_ipledge_ticks(patient: Patient) -> list[ipledge.Tick]:
    """The patient's iPLEDGE entry ticks as the sheet reads them, with who ticked and when."""
    return [
        ipledge.Tick(e.item, e.cycle_from, e.value, _user_name(e.entered_by), e.entered_at)
        for e in _in_model_order(
            IpledgeEntry.objects.filter(patient=patient).select_related("entered_by")
        )
    ]


def _user_name(user) -> str:
    return user.get_full_name() or user.get_username()


def load_patient_page(patient: Patient, *, on: datetime.date | None = None) -> dict:
    """Everything the patient page shows: the records and the engine's answer for today."""
    on = on or patient.clinic.today()
    records = load_records([patient])[patient.pk]
    history = snapshot(patient, records)
    status = rules.status(history, on)
    sheet = ipledge.build(history, on, load_ipledge_ticks(patient))
    return {
        "patient": patient,
        "records": records,
        "course": records.course,
        "history": history,
        "status": status,
        # The same triage as Today's, for the banner (docs/clinic-day.md).
        "triage": rules.triage(
            status, on, patient.clinic.triage_horizon_days, to_enter=sheet.to_enter
        ),
        "ipledge_sheet": sheet,
        "today": on,
        "risk_changes": records.risk_changes,  # newest first, as the model orders them
    }
