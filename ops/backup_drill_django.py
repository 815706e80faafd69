"""The backup drill's steps that run inside Django, one per call, each printing one JSON line.

    python ops/backup_drill_django.py add-evidence N   home tests with evidence, through the service
    python ops/backup_drill_django.py evidence         sha256 of every evidence file, read back

ops/backup_drill.py calls these with DATABASE_URL (and MEDIA_ROOT) pointing at the database
being drilled: the source before the dump, the restored copy after.
"""

import hashlib
import json
import os
import random
import struct
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.files.base import ContentFile  # noqa: E402
from django.core.files.storage import FileSystemStorage  # noqa: E402

from clinic.models import Clinic, Membership  # noqa: E402
from patients import services  # noqa: E402
from patients.models import Patient, PregnancyTest  # noqa: E402

DEMO_CLINIC = "Demo Dermatology"
MARK = "DRILL "


def png(seed: int, side: int) -> bytes:
    """A real PNG of noise, `side` pixels square: every file differs and barely compresses, so
    a checksum that matched by accident, or a truncated copy, would show."""
    rng = random.Random(seed)  # noqa: S311 # nosec B311 - synthetic pixels, not a secret
    rows = b"".join(b"\x00" + rng.randbytes(side * 3) for _ in range(side))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def pdf(seed: int) -> bytes:
    """A one-page PDF whose text names the drill file, with a correct cross-reference table."""
    text = f"Home pregnancy test readout - backup drill file {seed}: negative".encode()
    stream = b"BT /F1 14 Tf 72 720 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def add_evidence(count: int) -> dict:
    """`count` home tests with a photo or PDF each, recorded as staff would record them (the
    service stores the file in the configured storage), on as many demo patients."""
    clinic = Clinic.objects.get(name=DEMO_CLINIC)
    staff = Membership.objects.filter(clinic=clinic, role="staff").select_related("user")[0].user
    patients = list(Patient.objects.filter(clinic=clinic).order_by("pk")[:count])
    today = clinic.today()
    made = 0
    for index, patient in enumerate(patients):
        body, name = (
            (png(index, 40 + 8 * index), "readout.png")
            if index % 2 == 0
            else (pdf(index), "readout.pdf")
        )
        services.record_pregnancy_test(
            patient,
            by=staff,
            data={
                "kind": "monthly",
                "collected_on": max(today, patient.enrolled_on),
                "result": "negative",
                "setting": "home",
                "clia_lab": False,
                "method": "urine",
                "evidence": ContentFile(body, name=name),
            },
        )
        made += 1
    return {"added": made}


def storage_description(storage) -> dict:
    kind = storage.__class__  # default_storage is a lazy wrapper: its __class__ is the backend's
    described = {"backend": f"{kind.__module__}.{kind.__qualname__}"}
    if isinstance(storage, FileSystemStorage):
        described["location"] = str(Path(storage.location).resolve())
    return described


def evidence() -> dict:
    """Every evidence file the database names, read back through Django's storage API: its
    sha256 and size, or what went wrong reading it."""
    field = PregnancyTest._meta.get_field("evidence")
    files, unreadable = {}, {}
    names = (
        PregnancyTest.objects.exclude(evidence="").order_by("pk").values_list("evidence", flat=True)
    )
    for name in names:
        try:
            with field.storage.open(name, "rb") as handle:
                body = handle.read()
        except Exception as error:  # any failure to read it back is the finding
            unreadable[name] = f"{type(error).__name__}: {error}"
            continue
        files[name] = {"sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)}
    return {"storage": storage_description(field.storage), "files": files, "unreadable": unreadable}


def main(argv: list[str]) -> None:
    if argv[:1] == ["add-evidence"] and len(argv) == 2:
        result = add_evidence(int(argv[1]))
    elif argv == ["evidence"]:
        result = evidence()
    else:
        raise SystemExit(__doc__)
    print(MARK + json.dumps(result), flush=True)  # the line the drill reads


if __name__ == "__main__":
    main(sys.argv[1:])
