"""The patient's search key (patients/search.py): a new column with a constant default (no table
rewrite), then filled for the patients already enrolled, a few thousand rows per transaction so
no long lock is held (docs/operations.md, "Safe migrations"). It can run twice: a second run
writes the same keys. Patients the previous release enrolls while this one is being installed
get theirs from `manage.py fill_search_keys` (docs/operations.md, step 6 of the upgrade)."""

import re
import unicodedata

import patients.models
from django.db import migrations, transaction

BATCH = 2000

# A copy of patients.search.key_for as it was when this migration was written: a migration
# must give the same keys whatever that function becomes.
_SPACES = re.compile(r"[\s,;]+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "`": "'", "|": " "})


def _fold(text):
    decomposed = unicodedata.normalize("NFKD", str(text).translate(_APOSTROPHES))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", bare.casefold()).strip()


# clinic.text.mrn_key as it was when this migration was written (zero-width characters
# removed, NFKC, case-folded, trimmed), with the search key's separator blanked.
_ZERO_WIDTH = {code: None for code in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF)}


def _mrn(mrn):
    value = unicodedata.normalize("NFKC", str(mrn).translate(_ZERO_WIDTH))
    return unicodedata.normalize("NFKC", value.casefold()).strip().replace("|", " ")


def _key(given_name, family_name, mrn, ipledge_id, birth_date):
    given, family = _fold(given_name), _fold(family_name)
    parts = [f"{given} {family}", f"{family} {given}", _mrn(mrn), _fold(ipledge_id)]
    if birth_date:
        parts.append(birth_date.isoformat())
    return "|" + "|".join(p for p in parts if p) + "|"


def fill_keys(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    after = 0
    while True:
        with transaction.atomic():
            rows = list(
                Patient.objects.filter(pk__gt=after)
                .order_by("pk")
                .values_list("pk", "given_name", "family_name", "mrn", "ipledge_id", "birth_date")[
                    :BATCH
                ]
            )
            for pk, *fields in rows:
                # update(), not save(): no auto_now, no audit entry for a derived column.
                Patient.objects.filter(pk=pk).update(search_key=_key(*fields))
        if len(rows) < BATCH:
            return
        after = rows[-1][0]


class Migration(migrations.Migration):
    atomic = False  # each batch is its own transaction

    dependencies = [
        ("patients", "0004_mrn_key_unique"),
    ]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="search_key",
            field=patients.models.SearchKeyField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop, elidable=True),
    ]
