"""Indexes for what the audit page filters on (docs/security.md: the audit log).

auditlog's LogEntry keeps the clinic and patient of an event in `additional_data` (JSON); the
page always filters by clinic and newest first, and often by patient. Expression indexes on
those keys keep it fast as the log grows. PostgreSQL and SQLite each get their own syntax;
Django's JSON lookups (`additional_data__clinic_id=…`) compile to these expressions.
"""

from django.db import migrations

POSTGRES = [
    (
        "CREATE INDEX IF NOT EXISTS audit_by_clinic ON auditlog_logentry "
        "((additional_data -> 'clinic_id'), timestamp DESC)",
        "DROP INDEX IF EXISTS audit_by_clinic",
    ),
    (
        "CREATE INDEX IF NOT EXISTS audit_by_patient ON auditlog_logentry "
        "((additional_data -> 'patient_id'))",
        "DROP INDEX IF EXISTS audit_by_patient",
    ),
]
SQLITE = [
    (
        "CREATE INDEX IF NOT EXISTS audit_by_clinic ON auditlog_logentry "
        "(JSON_EXTRACT(additional_data, '$.\"clinic_id\"'), timestamp DESC)",
        "DROP INDEX IF EXISTS audit_by_clinic",
    ),
    (
        "CREATE INDEX IF NOT EXISTS audit_by_patient ON auditlog_logentry "
        "(JSON_EXTRACT(additional_data, '$.\"patient_id\"'))",
        "DROP INDEX IF EXISTS audit_by_patient",
    ),
]


def create(apps, schema_editor):
    statements = POSTGRES if schema_editor.connection.vendor == "postgresql" else SQLITE
    if schema_editor.connection.vendor not in ("postgresql", "sqlite"):
        return
    for forward, _ in statements:
        schema_editor.execute(forward)


def drop(apps, schema_editor):
    for _, backward in POSTGRES:
        schema_editor.execute(backward)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0003_api_token"),
        ("auditlog", "0017_add_actor_email"),
    ]

    operations = [migrations.RunPython(create, drop)]
