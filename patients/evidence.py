"""A home pregnancy test's evidence: what file it may be, how large, and the name it is kept
under. The one check for every door (the web form and the API): docs/domain.md section 8 says an
image or a PDF of at most 10 MB, and the type is told from the file's first bytes, never from
its name or the type the client declares.
"""

import secrets

from django.conf import settings


def _iso_media(head: bytes, brands: set[bytes]) -> bool:
    return head[4:8] == b"ftyp" and head[8:12] in brands


# (content type, the extension it is stored with, a test of the first bytes)
TYPES = (
    ("image/jpeg", ".jpg", lambda head: head.startswith(b"\xff\xd8\xff")),
    ("image/png", ".png", lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    ("application/pdf", ".pdf", lambda head: head.startswith(b"%PDF-")),
    ("image/webp", ".webp", lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP"),
    (
        "image/heic",
        ".heic",
        lambda head: _iso_media(
            head, {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
        ),
    ),
)
WRONG_TYPE = "Send a photo (JPEG, PNG, WebP or HEIC) or a PDF of the result."


def max_bytes() -> int:
    return settings.MAX_EVIDENCE_UPLOAD_BYTES


def too_large_message() -> str:
    return f"The evidence file is larger than {max_bytes() // (1024 * 1024)} MB."


def sniff(upload) -> tuple[str, str] | None:
    """(content type, extension) of an accepted evidence file, else None."""
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    for content_type, extension, matches in TYPES:
        if matches(head):
            return content_type, extension
    return None


def problem(upload) -> str | None:
    """Why this file cannot be kept as evidence, or None."""
    if upload.size > max_bytes():
        return too_large_message()
    if sniff(upload) is None:
        return WRONG_TYPE
    return None


def prepared(upload):
    """The upload with its sniffed type and a random name: no one can guess where it lies."""
    content_type, extension = sniff(upload)
    upload.content_type = content_type
    upload.name = secrets.token_hex(16) + extension
    return upload
