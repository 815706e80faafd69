"""The default file storage: files kept as rows of the database (`StoredFile`).

Every web host reads and writes the same rows, so an upload taken by one gunicorn behind the
proxy is there for the next request on another host, and the database's backup and restore carry
the files with everything else (docs/storage.md says why the database and what it costs). A file
written inside a transaction that rolls back is gone with it: no orphan on a disk.

Files are read whole into memory: the one kind stored today, a home test's evidence, is at most
MAX_EVIDENCE_UPLOAD_BYTES (10 MB).
"""

import mimetypes
from datetime import datetime

from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import IntegrityError, transaction
from django.utils.deconstruct import deconstructible

from .models import StoredFile

# A name taken between get_available_name() and the insert (two uploads racing for one name) is
# given another name; after this many tries something else is wrong.
SAVE_TRIES = 5


@deconstructible(path="clinic.storage.DatabaseStorage")
class DatabaseStorage(Storage):
    def _open(self, name: str, mode: str = "rb") -> ContentFile:
        if "w" in mode or "a" in mode or "+" in mode:
            raise ValueError(f"Stored files are written with save(), not opened with {mode!r}.")
        content = StoredFile.objects.filter(name=name).values_list("content", flat=True).first()
        if content is None:
            raise FileNotFoundError(f"No stored file named {name!r}.")
        return ContentFile(bytes(content), name=name)

    def _save(self, name: str, content) -> str:
        data = b"".join(content.chunks()) if hasattr(content, "chunks") else content.read()
        content_type = getattr(content, "content_type", None) or (
            mimetypes.guess_type(name)[0] or "application/octet-stream"
        )
        for _ in range(SAVE_TRIES):
            try:
                with transaction.atomic():  # a savepoint: a taken name leaves the caller's
                    StoredFile.objects.create(  # transaction usable
                        name=name, content=data, size=len(data), content_type=content_type
                    )
                return name
            except IntegrityError:
                name = self.get_available_name(name)
        raise FileExistsError(f"Could not find a free name for {name!r}.")

    def delete(self, name: str) -> None:
        StoredFile.objects.filter(name=name).delete()

    def exists(self, name: str) -> bool:
        return StoredFile.objects.filter(name=name).exists()

    def size(self, name: str) -> int:
        size = StoredFile.objects.filter(name=name).values_list("size", flat=True).first()
        if size is None:
            raise FileNotFoundError(f"No stored file named {name!r}.")
        return size

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        folders, files = set(), []
        names = StoredFile.objects.filter(name__startswith=prefix).values_list("name", flat=True)
        for name in names.iterator():
            head, slash, rest = name[len(prefix) :].partition("/")
            if slash:
                folders.add(head)
            else:
                files.append(head)
        return sorted(folders), sorted(files)

    def get_created_time(self, name: str) -> datetime:
        created = StoredFile.objects.filter(name=name).values_list("created_at", flat=True).first()
        if created is None:
            raise FileNotFoundError(f"No stored file named {name!r}.")
        return created

    get_modified_time = get_created_time  # a stored file is never rewritten in place

    def url(self, name: str) -> str:
        # Evidence is patient data: no URL serves it outside the clinic-scoped pages
        # (tests/api/test_api_evidence.py), so asking for one is a bug to hear about.
        raise NotImplementedError("Stored files have no public URL.")
