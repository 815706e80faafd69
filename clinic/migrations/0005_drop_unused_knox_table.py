"""Drop django-rest-knox's own token table, which nothing uses.

API tokens live in `clinic.ApiToken` (KNOX_TOKEN_MODEL swaps knox's model out), but knox's
first migration creates its table anyway. Django's test flush skips swapped models, and on
PostgreSQL a TRUNCATE of auth_user then fails because that table still points at it: every
browser and fault test that flushes the database failed. Without the table there is nothing
left to point at users.
"""

from django.db import migrations


def drop(apps, schema_editor):
    connection = schema_editor.connection
    if "knox_authtoken" in connection.introspection.table_names():
        schema_editor.execute("DROP TABLE knox_authtoken")


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0004_audit_indexes"),
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [migrations.RunPython(drop, migrations.RunPython.noop)]
