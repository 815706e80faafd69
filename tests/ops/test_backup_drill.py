"""The backup drill (ops/backup_drill.py, docs/operations.md) against the real PostgreSQL: a
restored copy that is whole passes, and a copy missing a row, with one value changed, or with
an evidence file altered by one byte or lost, is reported by name and fails the drill.

One seeded source and its dump serve the module; each test restores afresh and damages the
copy the way a faulty backup would.
"""

import subprocess
import sys

import psycopg
import pytest

from ops import backup_drill
from ops.backup_drill import Drill, compare, report

pytestmark = pytest.mark.slow

SOURCE = "backup_test_drill_source"
RESTORED = "backup_test_drill_restore"


def postgres_available() -> bool:
    try:
        backup_drill.server_major()
    except psycopg.Error:
        return False
    return True


@pytest.fixture(scope="module")
def drill(tmp_path_factory):
    if not postgres_available():
        pytest.skip(f"no PostgreSQL at {backup_drill.SERVER_URL}")
    drill = Drill(
        source=SOURCE,
        restored=RESTORED,
        work=tmp_path_factory.mktemp("backup-drill"),
        seed_patients=4,
        evidence_files=4,
    )
    drill.prepare_source()
    drill.back_up()
    drill.source_snapshot = drill.snapshot(SOURCE)
    yield drill
    drill.clean_up()


@pytest.fixture
def restored(drill):
    drill.restore()
    return drill


def execute(statement: str) -> None:
    with psycopg.connect(backup_drill.conninfo(RESTORED)) as conn:
        assert conn.execute(statement).rowcount == 1


# Run inside the restored copy's Django, through the storage API, so the same damage is done
# whether the evidence lives on disk or in the database.
CHANGE_ONE_BYTE = """
from django.core.files.base import ContentFile
from patients.models import PregnancyTest
storage = PregnancyTest._meta.get_field("evidence").storage
names = PregnancyTest.objects.exclude(evidence="").values_list("evidence", flat=True)
name = names.order_by("pk")[0]
body = bytearray(storage.open(name, "rb").read())
body[len(body) // 2] ^= 0x01
storage.delete(name)
assert storage.save(name, ContentFile(bytes(body))) == name
print("DAMAGED", name)
"""
LOSE_A_FILE = """
from patients.models import PregnancyTest
storage = PregnancyTest._meta.get_field("evidence").storage
names = PregnancyTest.objects.exclude(evidence="").values_list("evidence", flat=True)
name = names.order_by("-pk")[0]
storage.delete(name)
print("DAMAGED", name)
"""


def damage_evidence(drill: Drill, code: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        env=drill.env(RESTORED),
        capture_output=True,
        text=True,
        cwd=backup_drill.ROOT,
        check=True,
    )
    return done.stdout.split("DAMAGED ", 1)[1].strip()


def about_evidence(found: list[str]) -> list[str]:
    """The findings about files (a storage in the database also shows the change in a table)."""
    return [line for line in found if line.startswith("evidence")]


def test_a_whole_copy_has_every_row_and_every_evidence_file(restored, capsys):
    source = restored.source_snapshot
    copy = restored.snapshot(RESTORED)

    assert compare(source, copy) == []
    assert report(restored, source, copy, []) == 0
    assert "RESULT PASS" in capsys.readouterr().out
    # The drill proves something: the four added files, photos and PDFs, and rows in
    # the tables that matter.
    assert len(source.evidence) >= 4
    assert {".png", ".pdf"} <= {name[-4:] for name in source.evidence}
    assert source.tables["patients_pregnancytest"][0] >= 4
    assert source.tables["patients_patient"][0] > 0


def test_a_row_lost_in_the_copy_fails_the_drill_naming_its_table(restored, capsys):
    source = restored.source_snapshot
    rows = source.tables["auditlog_logentry"][0]
    execute("delete from auditlog_logentry where id = (select max(id) from auditlog_logentry)")

    found = compare(source, restored.snapshot(RESTORED))

    assert found == [f"table auditlog_logentry: {rows} rows in the source, {rows - 1} restored"]
    assert report(restored, source, restored.snapshot(RESTORED), found) == 1
    assert "RESULT FAIL" in capsys.readouterr().out


def test_a_changed_value_with_the_same_row_count_fails_the_drill(restored):
    source = restored.source_snapshot
    execute(
        "update patients_patient set mrn = mrn || 'x' "
        "where id = (select min(id) from patients_patient)"
    )

    found = compare(source, restored.snapshot(RESTORED))

    rows = source.tables["patients_patient"][0]
    assert found == [f"table patients_patient: same {rows} rows, different contents"]


def test_an_evidence_file_changed_by_one_byte_fails_the_drill_naming_the_file(restored):
    source = restored.source_snapshot
    name = damage_evidence(restored, CHANGE_ONE_BYTE)

    found = about_evidence(compare(source, restored.snapshot(RESTORED)))

    size = source.evidence[name]["bytes"]
    assert len(found) == 1
    assert found[0].startswith(f"evidence {name}: sha256 ")
    assert f"({size} bytes) in the source" in found[0]
    assert found[0].endswith(f"({size} bytes) restored")


def test_an_evidence_file_lost_from_the_copy_fails_the_drill(restored):
    source = restored.source_snapshot
    name = damage_evidence(restored, LOSE_A_FILE)

    found = about_evidence(compare(source, restored.snapshot(RESTORED)))

    assert len(found) == 1
    assert found[0].startswith(f"evidence {name}: unreadable after restore")
