"""The unique constraint on (clinic, mrn_key), built without blocking writes (docs/operations.md,
"Upgrading: safe migrations"): on PostgreSQL the unique index is built CONCURRENTLY, outside a
transaction, and the constraint then takes it over (ADD CONSTRAINT ... USING INDEX, a catalogue
change); other databases run the constraint's own SQL.
"""

from django.db import migrations, models

NAME = "mrn_key_unique_in_clinic"
CONSTRAINT = models.UniqueConstraint(fields=("clinic", "mrn_key"), name=NAME)


def add_unique(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    if schema_editor.connection.vendor != "postgresql":
        # The constraint's own SQL (SQLite: a unique index), not add_constraint, which on SQLite
        # rebuilds the table from this historical model, which does not have the constraint yet.
        schema_editor.execute(CONSTRAINT.create_sql(Patient, schema_editor))
        return
    table = schema_editor.quote_name(Patient._meta.db_table)
    name = schema_editor.quote_name(NAME)
    schema_editor.execute(
        f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} (clinic_id, mrn_key)"
    )
    schema_editor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}")


def remove_unique(apps, schema_editor):
    schema_editor.remove_constraint(apps.get_model("patients", "Patient"), CONSTRAINT)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("patients", "0003_patient_mrn_key")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(add_unique, remove_unique)],
            state_operations=[
                migrations.AddConstraint(model_name="patient", constraint=CONSTRAINT)
            ],
        )
    ]
