"""A trigram index on the search key, on PostgreSQL: the search's `LIKE '%term%'` is then read
from the index instead of every patient's row (patients/search.py).

Built CONCURRENTLY, so enrolling and editing go on while it is built, hence `atomic = False`
and nothing else in this migration (docs/operations.md, "Safe migrations"). The index is not
declared on the model: Django's index classes cannot be built on SQLite, which runs the
development server and the tests, and where a search reads a small table anyway. pg_trgm is a
trusted extension (PostgreSQL 13 and later): the database's owner may create it.
"""

from django.db import migrations

INDEX = "patient_search_key_trgm"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} "
        "ON patients_patient USING gin (search_key gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("patients", "0005_patient_search_key"),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
