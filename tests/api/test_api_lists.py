"""GET on a patient's record collections: the records in date order, for that patient only,
each listing one access event in the audit log (docs/domain.md section 8, docs/quality.md A6)."""

from decimal import Decimal

import pytest
from auditlog.models import LogEntry

from monitoring import services as monitoring
from patients import services as patients
from tests.builders import in_treatment
from tests.factories import enroll

# collection -> the date field its records are ordered by
COLLECTIONS = {
    "consents": "signed_on",
    "contraception": "confirmed_on",
    "pregnancy-tests": "collected_on",
    "labs": "collected_on",
    "visits": "visited_on",
    "prescriptions": "written_on",
}


@pytest.fixture
def treated(builder, clinic, staff):
    """A patient in treatment whose older records were typed in last, so the id order and the
    date order differ; and a second patient of the same clinic with records of their own."""
    patient = builder.enroll(enrolled=-80)
    in_treatment(builder, patient)
    day = builder.day
    patients.record_consent(patient, by=staff, kind="patient_information", signed_on=day(-70))
    patients.record_contraception(
        patient,
        by=staff,
        confirmed_on=day(-66),
        source="patient",
        methods=["implant", "male_condom"],
        abstinence=False,
        started_on=day(-75),
    )
    builder.test(patient, "screening", -65)
    monitoring.record_lab(
        patient, by=staff, kind="alt", collected_on=day(-75), value=Decimal(20), unit="U/L"
    )
    builder.visit(patient, -60)
    other = builder.enroll(enrolled=-80)
    in_treatment(builder, other)
    return patient


@pytest.mark.parametrize(("collection", "date_field"), COLLECTIONS.items())
def test_a_collection_lists_the_patients_records_in_date_order(
    api, staff, treated, collection, date_field
):
    model = {
        "consents": treated.consents,
        "contraception": treated.contraception,
        "pregnancy-tests": treated.pregnancy_tests,
        "labs": treated.labs,
        "visits": treated.visits,
        "prescriptions": treated.prescriptions,
    }[collection]
    response = api(staff).get(f"/api/v1/patients/{treated.pk}/{collection}/")
    assert response.status_code == 200
    rows = response.json()
    assert {row["id"] for row in rows} == set(model.values_list("id", flat=True))
    dates = [row[date_field] for row in rows]
    assert dates == sorted(dates)
    assert len(rows) >= 2


@pytest.mark.parametrize("collection", [c for c in COLLECTIONS if c != "prescriptions"])
def test_a_record_typed_in_late_comes_first_when_it_is_the_oldest(api, staff, treated, collection):
    rows = api(staff).get(f"/api/v1/patients/{treated.pk}/{collection}/").json()
    assert rows[0]["id"] == max(row["id"] for row in rows)


def test_the_rows_carry_the_recorded_fields(api, clinic_admin, treated, builder):
    client = api(clinic_admin)
    prescriptions = client.get(f"/api/v1/patients/{treated.pk}/prescriptions/").json()
    assert [(p["written_on"], p["daily_dose_mg"], p["days_supply"]) for p in prescriptions] == [
        (builder.day(-33).isoformat(), "40.0", 30),
        (builder.day(-3).isoformat(), "40.0", 30),
    ]
    assert prescriptions[0]["rma_number"].isdigit()
    contraception = client.get(f"/api/v1/patients/{treated.pk}/contraception/").json()
    assert contraception[0]["methods"] == ["implant", "male_condom"]
    assert contraception[0]["source"] == "patient"


def test_a_patient_without_records_has_empty_lists(api, staff, clinic):
    patient = enroll(clinic, by=staff)
    for collection in COLLECTIONS:
        response = api(staff).get(f"/api/v1/patients/{patient.pk}/{collection}/")
        assert (collection, response.status_code, response.json()) == (collection, 200, [])


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_each_listing_is_one_access_event_by_the_caller(api, clinician, treated, collection):
    accesses = LogEntry.objects.filter(action=LogEntry.Action.ACCESS, object_pk=str(treated.pk))
    assert not accesses.exists()
    api(clinician).get(f"/api/v1/patients/{treated.pk}/{collection}/")
    assert [entry.actor for entry in accesses] == [clinician]


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_another_clinics_patient_is_404_and_not_audited(
    api, clinic_b_clinician, treated, collection
):
    response = api(clinic_b_clinician).get(f"/api/v1/patients/{treated.pk}/{collection}/")
    assert response.status_code == 404
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_an_anonymous_caller_gets_401(api, treated, collection):
    response = api().get(f"/api/v1/patients/{treated.pk}/{collection}/")
    assert response.status_code == 401
    response = api(HTTP_AUTHORIZATION="Token not-a-token").get(
        f"/api/v1/patients/{treated.pk}/{collection}/"
    )
    assert response.status_code == 401
