"""Uploaded files live in the database (clinic/storage.py, docs/storage.md): every web host
reads the same evidence, a rolled-back upload leaves nothing behind, and files an earlier
release kept under MEDIA_ROOT are copied in once."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import transaction

from clinic.models import StoredFile
from clinic.storage import DatabaseStorage
from patients.models import PregnancyTest
from tests.builders import PNG, Builder
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture
def superuser(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def builder(clinic, clinician, staff):
    return Builder(clinic, clinician, staff)


def test_a_home_tests_evidence_is_kept_in_the_database_not_on_the_hosts_disk(
    builder, patient, media
):
    test = builder.home_test(patient, "monthly", 0)
    # What another web host sees: a storage of its own, reading the shared database.
    assert DatabaseStorage().open(test.evidence.name).read() == PNG
    assert StoredFile.objects.get().content_type == "image/png"
    assert not any(media.rglob("*"))


def test_an_upload_whose_record_rolls_back_leaves_no_file(builder, patient, media):
    with pytest.raises(RuntimeError), transaction.atomic():
        builder.home_test(patient, "monthly", 0)
        raise RuntimeError("the request failed after the upload")
    assert not StoredFile.objects.exists()
    assert not any(media.rglob("*"))


def test_a_name_already_taken_gets_another_and_both_files_stay(db):
    first = default_storage.save("evidence/1/2/readout.png", ContentFile(b"first"))
    second = default_storage.save("evidence/1/2/readout.png", ContentFile(b"second"))
    assert first == "evidence/1/2/readout.png" and second != first
    assert second.startswith("evidence/1/2/readout_") and second.endswith(".png")
    assert [default_storage.open(n).read() for n in (first, second)] == [b"first", b"second"]
    assert default_storage.size(second) == 6
    assert default_storage.listdir("evidence/1") == (["2"], [])
    names = sorted(name.rsplit("/", 1)[1] for name in (first, second))
    assert default_storage.listdir("evidence/1/2/") == ([], names)
    default_storage.delete(first)
    assert not default_storage.exists(first) and default_storage.exists(second)


def test_a_missing_file_is_an_error_and_no_file_has_a_url(db):
    with pytest.raises(FileNotFoundError):
        default_storage.open("evidence/none.png")
    with pytest.raises(FileNotFoundError):
        default_storage.size("evidence/none.png")
    with pytest.raises(NotImplementedError):
        default_storage.url("evidence/1/2/readout.png")


def test_the_admin_shows_a_home_test_without_linking_its_evidence(
    client_for, builder, patient, superuser
):
    test = builder.home_test(patient, "monthly", 0)
    page = client_for(superuser).get(f"/admin/patients/pregnancytest/{test.pk}/change/")
    assert page.status_code == 200
    assert f"kept ({len(PNG)} bytes)" in page.content.decode()
    assert test.evidence.name not in page.content.decode()


def on_disk(media, name: str, content: bytes) -> None:
    path = media / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def test_files_an_earlier_release_kept_on_disk_are_copied_once_under_their_names(
    builder, patient, media, capsys
):
    test = builder.home_test(patient, "monthly", 0)
    # As an earlier release left it: the record names a file on disk, not in the database.
    StoredFile.objects.all().delete()
    on_disk(media, test.evidence.name, PNG)
    on_disk(media, "evidence/1/9/other.pdf", b"%PDF-1.7")
    call_command("copy_media_to_database")
    assert capsys.readouterr().out.strip() == (
        "2 copied, 0 already stored, 0 differing (left alone); "
        "0 referenced by a record and not stored."
    )
    assert PregnancyTest.objects.get().evidence.read() == PNG
    assert StoredFile.objects.get(name="evidence/1/9/other.pdf").content_type == "application/pdf"
    call_command("copy_media_to_database")
    assert capsys.readouterr().out.startswith("0 copied, 2 already stored, 0 differing")
    assert StoredFile.objects.count() == 2


def test_a_file_that_differs_or_is_missing_is_said_and_nothing_is_overwritten(
    builder, patient, media, capsys
):
    test = builder.home_test(patient, "monthly", 0)
    on_disk(media, test.evidence.name, b"\x89PNG another picture")
    other = builder.home_test(patient, "monthly", 0)
    StoredFile.objects.filter(name=other.evidence.name).delete()
    with pytest.raises(CommandError, match="not in the database storage"):
        call_command("copy_media_to_database")
    out, err = capsys.readouterr()
    assert out.strip() == (
        "0 copied, 0 already stored, 1 differing (left alone); "
        "1 referenced by a record and not stored."
    )
    assert test.evidence.name in err
    assert bytes(StoredFile.objects.get(name=test.evidence.name).content) == PNG


def test_a_media_root_that_is_not_a_folder_is_refused_naming_it(db, tmp_path):
    with pytest.raises(CommandError, match="--media-root"):
        call_command("copy_media_to_database", media_root=tmp_path / "nowhere")
