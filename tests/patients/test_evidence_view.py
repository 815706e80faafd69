"""A home test's evidence is shown to the patient's clinic, on the test's row, and nowhere else:
each role of the clinic downloads it (audited as a view of the test), another clinic gets a 404,
the anonymous and a patient's link are sent to log in. Sent as an attachment of the type its
bytes show, never sniffed by the browser nor kept by a cache."""

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from monitoring.reminders import signing
from patients.models import PregnancyTest
from tests.auth import verified_login
from tests.builders import PNG, Builder
from tests.factories import member


@pytest.fixture
def builder(clinic, clinician, staff):
    return Builder(clinic, clinician, staff, clinic.today())


@pytest.fixture
def home_test(builder, patient):
    return builder.home_test(patient, "screening", -1)


def evidence_url(test) -> str:
    return reverse("patients:test_evidence", args=[test.pk])


def views_of(test) -> list[LogEntry]:
    return list(
        LogEntry.objects.filter(
            action=LogEntry.Action.ACCESS,
            content_type=ContentType.objects.get_for_model(PregnancyTest),
            object_id=test.pk,
        )
    )


@pytest.mark.parametrize("role", ["clinician", "staff", "clinic_admin"])
def test_each_role_of_the_clinic_downloads_the_evidence_audited_as_a_view(
    client, clinic, home_test, role
):
    user = member(clinic, role)
    verified_login(client, user)
    response = client.get(evidence_url(home_test))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == (
        f'attachment; filename="pregnancy-test-{home_test.collected_on:%Y-%m-%d}.png"'
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in [part.strip() for part in response["Cache-Control"].split(",")]
    [event] = views_of(home_test)
    assert event.actor == user
    assert event.additional_data == {"clinic_id": clinic.pk, "patient_id": home_test.patient_id}


def test_the_file_is_read_through_the_field_not_a_path(client, staff, home_test, monkeypatch):
    """Another storage (a database backend) keeps no file on disk: the view opens the field."""
    opened = []
    original = type(home_test.evidence).open

    def tracking_open(field_file, mode="rb"):
        opened.append(mode)
        return original(field_file, mode)

    monkeypatch.setattr(type(home_test.evidence), "open", tracking_open)
    verified_login(client, staff)
    response = client.get(evidence_url(home_test))
    assert b"".join(response.streaming_content) == PNG
    assert opened == ["rb"]


def test_another_clinics_member_gets_a_404_and_nothing_is_audited(client, other_clinic, home_test):
    verified_login(client, member(other_clinic, "clinician"))
    assert client.get(evidence_url(home_test)).status_code == 404
    assert views_of(home_test) == []


def test_the_anonymous_are_sent_to_log_in(client, home_test):
    response = client.get(evidence_url(home_test))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert views_of(home_test) == []


def test_the_patients_own_link_does_not_reach_it(home_test):
    visitor = Client()
    page = visitor.get(reverse("self_service:page", args=[signing.page_token(home_test.patient)]))
    assert page.status_code == 200
    response = visitor.get(evidence_url(home_test))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_a_test_without_evidence_is_a_404(client, staff, builder, patient):
    medical = builder.test(patient, "screening", -1)
    verified_login(client, staff)
    assert client.get(evidence_url(medical)).status_code == 404


def test_the_patient_page_links_the_evidence_on_the_home_tests_row_only(
    client, staff, builder, patient, home_test
):
    medical = builder.test(patient, "screening", -2)
    verified_login(client, staff)
    html = client.get(patient.get_absolute_url()).content.decode()
    assert f'href="{evidence_url(home_test)}"' in html
    assert ">View evidence</a>" in html
    assert evidence_url(medical) not in html


def test_a_pdf_is_sent_as_a_pdf(client, staff, builder, patient):
    from django.core.files.base import ContentFile

    from patients import services

    pdf = b"%PDF-1.4\n%readout\n"
    test = services.record_pregnancy_test(
        patient,
        by=staff,
        data={
            "kind": "screening",
            "collected_on": builder.day(-1),
            "result": "negative",
            "setting": "home",
            "clia_lab": False,
            "method": "urine",
            "evidence": ContentFile(pdf, name="scan.pdf"),
        },
    )
    verified_login(client, staff)
    response = client.get(evidence_url(test))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].endswith('.pdf"')
    assert b"".join(response.streaming_content) == pdf
