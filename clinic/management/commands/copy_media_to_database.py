"""Copy the files an earlier release kept under MEDIA_ROOT into the database storage.

Each file keeps its name (the path under MEDIA_ROOT), which is what the records point at, so
nothing else changes. Running it again copies nothing twice. Files on disk are left in place:
delete them once a backup of the database holds them (docs/storage.md).
"""

from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import models

from clinic.models import StoredFile
from clinic.storage import DatabaseStorage


def referenced_names() -> set[str]:
    """Every file name a record's FileField points at, whatever the app."""
    names: set[str] = set()
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, models.FileField):
                names.update(
                    model._default_manager.exclude(**{field.name: ""})
                    .values_list(field.name, flat=True)
                    .iterator()
                )
    return names


class Command(BaseCommand):
    help = "Copy files kept under MEDIA_ROOT by earlier releases into the database storage."

    def add_arguments(self, parser):
        parser.add_argument(
            "--media-root", type=Path, help="The folder to read (default: MEDIA_ROOT)."
        )

    def handle(self, *args, media_root: Path | None = None, **options):
        root = Path(media_root or settings.MEDIA_ROOT)
        if not root.is_dir():
            raise CommandError(f"--media-root: {root} is not a folder.")
        storage = DatabaseStorage()
        copied = already = differing = 0
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            name = path.relative_to(root).as_posix()
            data = path.read_bytes()
            kept = StoredFile.objects.filter(name=name).values_list("content", flat=True).first()
            if kept is None:
                with path.open("rb") as file:
                    storage._save(name, file)  # the exact name: records point at it
                copied += 1
            elif bytes(kept) == data:
                already += 1
            else:
                # Never overwrite: the database's copy may be the newer one. Said, not guessed.
                differing += 1
                self.stderr.write(f"{name}: differs from the stored file of that name; left alone.")
        missing = sum(1 for name in referenced_names() if not storage.exists(name))
        self.stdout.write(
            f"{copied} copied, {already} already stored, {differing} differing (left alone); "
            f"{missing} referenced by a record and not stored."
        )
        if differing or missing:
            raise CommandError("Some files are not in the database storage: see above.")
