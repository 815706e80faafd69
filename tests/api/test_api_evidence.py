"""Home pregnancy tests through the API: multipart/form-data with an `evidence` file, its type
told from its bytes, at most 10 MB, kept where the web page keeps evidence (docs/domain.md §8):
the database storage (docs/storage.md), never a web host's disk."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from clinic.models import StoredFile
from patients.models import PregnancyTest
from tests.api.conftest import database_state

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SAMPLES = {
    "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64, ".jpg"),
    "png": (PNG, ".png"),
    "pdf": (b"%PDF-1.7\n%synthetic readout\n", ".pdf"),
    "webp": (b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64, ".webp"),
    "heic": (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64, ".heic"),
}
TEN_MB = 10 * 1024 * 1024


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """MEDIA_ROOT, which must stay empty: no upload lands on one web host's disk."""
    settings.MEDIA_ROOT = tmp_path
    yield tmp_path
    assert not any(tmp_path.rglob("*"))


def home_test(today, **extra):
    return {
        "kind": "monthly",
        "collected_on": today.isoformat(),
        "result": "negative",
        "setting": "home",
        "method": "urine",
        **extra,
    }


def upload(client, patient, body):
    return client.post(f"/api/v1/patients/{patient.pk}/pregnancy-tests/", body, format="multipart")


def stored_files():
    return list(StoredFile.objects.values_list("name", "size", "content_type"))


@pytest.mark.parametrize("kind", SAMPLES)
def test_a_home_test_with_a_photo_or_pdf_is_recorded_with_its_evidence(
    api, staff, patient, today, media, kind
):
    content, extension = SAMPLES[kind]
    evidence = SimpleUploadedFile("readout.bin", content, content_type="text/plain")
    response = upload(api(staff), patient, home_test(today, evidence=evidence))
    assert response.status_code == 201, response.content
    assert response.json()["has_evidence"] is True
    assert "evidence" not in response.json()  # never a URL to the file
    test = PregnancyTest.objects.get(pk=response.json()["id"])
    assert (test.setting, test.verified_by, test.is_verified) == ("home", staff, True)
    # Where the web page keeps evidence (the model's upload path), under a random name.
    folder, name = test.evidence.name.rsplit("/", 1)
    assert folder == f"evidence/{patient.clinic_id}/{patient.pk}"
    assert name.endswith(extension) and "readout" not in name and len(name) >= 32
    assert test.evidence.read() == content
    # In the database with the type told from its bytes, not the one the client declared.
    content_type = "application/pdf" if kind == "pdf" else f"image/{kind}"
    assert stored_files() == [(test.evidence.name, len(content), content_type)]


def test_two_uploads_with_the_same_name_get_different_unguessable_names(api, staff, patient, today):
    names = set()
    for _ in range(2):
        evidence = SimpleUploadedFile("photo.png", PNG, content_type="image/png")
        response = upload(api(staff), patient, home_test(today, evidence=evidence))
        names.add(PregnancyTest.objects.get(pk=response.json()["id"]).evidence.name)
    assert len(names) == 2


def test_the_evidence_is_not_served_at_any_url(api, client_for, staff, patient, today):
    evidence = SimpleUploadedFile("photo.png", PNG, content_type="image/png")
    response = upload(api(staff), patient, home_test(today, evidence=evidence))
    name = PregnancyTest.objects.get(pk=response.json()["id"]).evidence.name
    client = client_for(staff)
    assert client.get(f"/media/{name}").status_code == 404
    assert client.get(f"/{name}").status_code == 404


@pytest.mark.parametrize(
    ("filename", "content", "content_type"),
    [
        ("photo.png", b"just some text, not a picture", "image/png"),  # the name lies
        ("photo.jpg", b"MZ\x90\x00\x03\x00\x00\x00", "image/jpeg"),  # an executable
        ("scan.pdf", b"<html><script>alert(1)</script></html>", "application/pdf"),
        ("movie.heic", b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", "image/heic"),  # an MP4
        ("a.gif", b"GIF89a\x01\x00\x01\x00", "image/gif"),
    ],
)
def test_a_file_that_is_not_a_photo_or_pdf_is_refused_naming_evidence(
    api, staff, patient, today, media, filename, content, content_type
):
    before = database_state()
    evidence = SimpleUploadedFile(filename, content, content_type=content_type)
    response = upload(api(staff), patient, home_test(today, evidence=evidence))
    assert response.status_code == 400
    assert list(response.json()) == ["evidence"]
    assert database_state() == before
    assert stored_files() == []


def test_an_empty_file_is_refused_naming_evidence(api, staff, patient, today):
    before = database_state()
    evidence = SimpleUploadedFile("photo.png", b"", content_type="image/png")
    response = upload(api(staff), patient, home_test(today, evidence=evidence))
    assert (response.status_code, list(response.json())) == (400, ["evidence"])
    assert database_state() == before


@pytest.mark.parametrize("format", ["json", "multipart"])
def test_a_home_test_without_evidence_is_a_400_naming_evidence(api, staff, patient, today, format):
    before = database_state()
    response = api(staff).post(
        f"/api/v1/patients/{patient.pk}/pregnancy-tests/", home_test(today), format=format
    )
    assert response.status_code == 400
    assert list(response.json()) == ["evidence"]
    assert database_state() == before


def test_json_cannot_smuggle_evidence_as_text(api, staff, patient, today):
    before = database_state()
    body = home_test(today, evidence="iVBORw0KGgo=")
    response = api(staff).post(
        f"/api/v1/patients/{patient.pk}/pregnancy-tests/", body, format="json"
    )
    assert (response.status_code, list(response.json())) == (400, ["evidence"])
    assert database_state() == before


def test_a_medical_test_may_come_as_a_form_without_evidence(api, staff, patient, today):
    body = home_test(today, setting="medical", clia_lab="true")
    response = upload(api(staff), patient, body)
    assert response.status_code == 201, response.content
    assert response.json()["has_evidence"] is False
    assert response.json()["clia_lab"] is True


def test_evidence_of_exactly_10_mb_is_accepted(api, staff, patient, today):
    content = PNG + b"\x00" * (TEN_MB - len(PNG))
    evidence = SimpleUploadedFile("big.png", content, content_type="image/png")
    response = upload(api(staff), patient, home_test(today, evidence=evidence))
    assert response.status_code == 201
    assert PregnancyTest.objects.get().evidence.size == TEN_MB


@pytest.mark.parametrize("size", [TEN_MB + 1, TEN_MB + 1024 * 1024])
def test_evidence_over_10_mb_is_a_413_naming_evidence_and_nothing_is_kept(
    api, staff, patient, today, media, size
):
    before = database_state()
    evidence = SimpleUploadedFile("big.png", PNG + b"\x00" * (size - len(PNG)), "image/png")
    response = upload(api(staff), patient, home_test(today, evidence=evidence))
    assert response.status_code == 413
    assert list(response.json()) == ["evidence"]
    assert database_state() == before
    assert stored_files() == []


def test_the_form_fields_are_checked_like_json(api, staff, patient, today):
    before = database_state()
    evidence = SimpleUploadedFile("photo.png", PNG, content_type="image/png")
    body = home_test(today, evidence=evidence, collected_on="2026-02-30")
    response = upload(api(staff), patient, body)
    assert (response.status_code, list(response.json())) == (400, ["collected_on"])
    assert database_state() == before


def test_another_clinics_patient_is_404_and_an_admin_403(
    api, clinic_b_clinician, clinic_admin, patient, today, media
):
    before = database_state()
    for user, expected in ((clinic_b_clinician, 404), (clinic_admin, 403)):
        evidence = SimpleUploadedFile("photo.png", PNG, content_type="image/png")
        response = upload(api(user), patient, home_test(today, evidence=evidence))
        assert response.status_code == expected
    assert database_state() == before
    assert stored_files() == []
