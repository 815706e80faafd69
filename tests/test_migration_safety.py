"""Every migration added from now on must be safe to run on PostgreSQL against a clinic's full
tables while the previous release still serves (docs/operations.md, "Upgrading").

Each new migration's operations are turned into the SQL Django would run on PostgreSQL (the
`sqlmigrate` way, offline: no server needed) and that SQL is read for what locks or rewrites a
large table: an index built without CONCURRENTLY, a constraint validated in one go, a column
type changed, NOT NULL set on an existing column. Operations that take columns or tables away
from the code still running are flagged too: they need two releases. Operations on a table the
same migration creates are exempt (it is empty).

A migration a reviewer has checked by hand can say so in a comment that gives the reason,
`# migration-safety: <why this is safe>`, and is then left alone.
"""

import dataclasses
import importlib.util
import re
from pathlib import Path

import psycopg.sql
from django.apps import apps
from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import connections, migrations
from django.db.backends.postgresql.base import DatabaseWrapper
from django.db.migrations.loader import MigrationLoader

GUIDE = "docs/operations.md (Upgrading: safe migrations)"
REVIEWED = re.compile(r"^#\s*migration-safety:\s*\S", re.MULTILINE)

# The migrations made before this check, reviewed when it came in: each ran on tables holding
# only what the first clinics entered. Never add to this list; a new migration is checked.
EXISTING = {
    "clinic/migrations/0001_initial.py",
    "clinic/migrations/0002_triage_horizon.py",
    "clinic/migrations/0003_api_token.py",
    "clinic/migrations/0004_audit_indexes.py",
    "clinic/migrations/0005_drop_unused_knox_table.py",
    "monitoring/migrations/0001_initial.py",
    "monitoring/migrations/0002_staff_digest.py",
    "monitoring/migrations/0003_reminder_possible_duplicate.py",
    "monitoring/migrations/0004_patient_triage.py",
    "monitoring/migrations/0005_ipledge_entry.py",
    "monitoring/migrations/0006_readable_names.py",
    "monitoring/migrations/0007_triage_row_format.py",
    "monitoring/migrations/0008_triage_sort_names.py",
    "patients/migrations/0001_initial.py",
    "patients/migrations/0002_patient_preferred_language.py",
}

# What in PostgreSQL's SQL takes a lock for as long as the table is large, and why it matters.
# Each pattern is matched against one statement.
DANGERS = (
    (
        re.compile(r"^CREATE (UNIQUE )?INDEX (?!CONCURRENTLY)", re.IGNORECASE),
        "builds an index while blocking every write to the table: use AddIndexConcurrently "
        "in a migration with atomic = False",
    ),
    (
        re.compile(
            r"\bADD CONSTRAINT \S+ (UNIQUE|PRIMARY KEY|EXCLUDE)\b(?! USING INDEX)", re.IGNORECASE
        ),
        "builds the constraint's index while blocking writes: create a unique index "
        "concurrently first, then add the constraint USING INDEX",
    ),
    (
        re.compile(r"\bADD CONSTRAINT \S+ (CHECK|FOREIGN KEY)\b(?!.*\bNOT VALID\b)", re.I | re.S),
        "checks every row while holding a lock: add it NOT VALID, then validate it in a "
        "second migration (django.contrib.postgres.operations.AddConstraintNotValid and "
        "ValidateConstraint)",
    ),
    (
        re.compile(r"\bALTER COLUMN \S+ TYPE\b", re.IGNORECASE),
        "changes a column's type, which rewrites the table under an exclusive lock: add a new "
        "column, copy in batches, then switch",
    ),
    (
        re.compile(r"\bALTER COLUMN \S+ SET NOT NULL\b", re.IGNORECASE),
        "makes a column NOT NULL, which scans the table under an exclusive lock: add a CHECK "
        "(column IS NOT NULL) NOT VALID, validate it, then set NOT NULL",
    ),
)
# Operations that take something away from the code of the release still running while the
# migration runs (migrations go first, docs/operations.md): they need two releases.
TAKES_AWAY = (
    migrations.RemoveField,
    migrations.DeleteModel,
    migrations.RenameField,
    migrations.RenameModel,
    migrations.AlterModelTable,
)


@dataclasses.dataclass
class Finding:
    migration: str
    operation: str
    problem: str

    def __str__(self) -> str:
        return f"{self.migration}: {self.operation} {self.problem}"


def postgresql() -> DatabaseWrapper:
    """A PostgreSQL backend that only writes SQL: the server version is given, not asked, so
    no server is needed (the oldest PostgreSQL docs/operations.md supports)."""
    wrapper = DatabaseWrapper(
        {
            **connections["default"].settings_dict,
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "never_connected",
            "OPTIONS": {},
        }
    )
    wrapper.__dict__["pg_version"] = 150000
    # Values in DDL (a column's default) are quoted here as psycopg would quote them, instead
    # of through a server connection.
    wrapper.ops.compose_sql = lambda query, params: query % tuple(map(psycopg.sql.quote, params))
    return wrapper


def load(path: Path):
    spec = importlib.util.spec_from_file_location(f"migration_under_check_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Migration


def statements(operation, app_label: str, state, backend) -> list[str]:
    """The SQL `operation` runs on PostgreSQL, deferred statements (indexes, foreign keys)
    included; `state` moves forward past it."""
    before = state.clone()
    operation.state_forwards(app_label, state)
    if isinstance(operation, migrations.RunPython):
        # Its code runs against the SQL-writing backend: what it executes through the schema
        # editor (a CREATE INDEX, say) is read like the rest. Code that reads the data needs a
        # database, is left to the reviewer (docs/operations.md's checklist), and stops here:
        # the test has no database.
        try:
            with backend.schema_editor(collect_sql=True, atomic=False) as editor:
                operation.database_forwards(app_label, editor, before, state)
        except Exception:  # noqa: S110 - any failure means "cannot be read offline"
            return []
        return editor.collected_sql
    if not operation.reduces_to_sql:
        return []
    with backend.schema_editor(collect_sql=True, atomic=False) as editor:
        operation.database_forwards(app_label, editor, before, state)
    return editor.collected_sql


def widens_text(operation, app_label: str, before, backend) -> bool:
    """A varchar made longer, or text: PostgreSQL changes only the catalogue, no rewrite."""
    if not isinstance(operation, migrations.AlterField):
        return False
    old = before.models[app_label, operation.model_name_lower].fields[operation.name]
    old_type, new_type = old.db_type(backend), operation.field.db_type(backend)
    old_length = re.fullmatch(r"varchar\((\d+)\)", old_type or "")
    new_length = re.fullmatch(r"varchar\((\d+)\)", new_type or "")
    return bool(old_length) and (
        new_type == "text" or (new_length and int(new_length[1]) >= int(old_length[1]))
    )


def check(path: Path, app_label: str) -> list[Finding]:
    """What in the migration at `path` would lock or rewrite a large table, or break the code
    still running; empty when it is safe."""
    if REVIEWED.search(path.read_text()):
        return []
    migration_class = load(path)
    migration = migration_class(path.stem, app_label)
    label = f"{app_label}.{path.stem}"
    backend = postgresql()
    loader = MigrationLoader(None, ignore_no_migrations=True)
    # The state the migration starts from: after its dependencies (an app's "__first__", as in
    # a swappable user model, named by its real first migration).
    after = [loader.check_key(key, app_label) for key in migration.dependencies]
    state = loader.project_state([key for key in after if key], at_end=True)
    found, created = [], set()
    concurrently = (AddIndexConcurrently, RemoveIndexConcurrently)
    for operation in migration.operations:
        name = type(operation).__name__
        if isinstance(operation, concurrently) and migration.atomic:
            found.append(Finding(label, name, "needs the migration to have atomic = False"))
        if isinstance(operation, migrations.CreateModel):
            created.add(operation.name_lower)
        model = getattr(operation, "model_name_lower", None)
        if isinstance(operation, TAKES_AWAY):
            found.append(
                Finding(
                    label,
                    name,
                    "takes away what the running release still uses: first a release whose "
                    "code no longer uses it, then this migration in the next one",
                )
            )
        before = state.clone()
        emitted = statements(operation, app_label, state, backend)
        if isinstance(operation, migrations.CreateModel) or model in created:
            continue  # a table made by this migration is empty
        for statement in emitted:
            for pattern, problem in DANGERS:
                if pattern.search(statement):
                    if "TYPE" in pattern.pattern and widens_text(
                        operation, app_label, before, backend
                    ):
                        continue
                    found.append(Finding(label, name, f"{problem} [{statement.strip()}]"))
    return found


def project_migrations() -> list[tuple[Path, str]]:
    """Every migration file of the project's own apps, with its app label."""
    root = Path(settings.BASE_DIR)
    found = []
    for config in apps.get_app_configs():
        folder = Path(config.path) / "migrations"
        if folder.is_relative_to(root) and ".venv" not in folder.parts:
            found += [(path, config.label) for path in sorted(folder.glob("[0-9]*.py"))]
    return found


def relative(path: Path) -> str:
    return path.relative_to(settings.BASE_DIR).as_posix()


def unsafe(files: list[tuple[Path, str]]) -> list[Finding]:
    return [finding for path, label in files for finding in check(path, label)]


def failure_message(found: list[Finding]) -> str:
    return (
        "These migrations would lock or rewrite a large table, or break the release still "
        f"running during the upgrade; see {GUIDE}:\n" + "\n".join(f"- {f}" for f in found)
    )


def test_every_new_migration_is_safe_on_a_large_postgresql_table():
    new = [(path, label) for path, label in project_migrations() if relative(path) not in EXISTING]
    found = unsafe(new)
    assert not found, failure_message(found)


def test_the_list_of_existing_migrations_names_only_files_that_exist():
    on_disk = {relative(path) for path, _ in project_migrations()}
    assert sorted(EXISTING - on_disk) == []


# --- the check itself, on migrations written to a temporary folder --------------------------

IMPORTS = """
from django.contrib.postgres.operations import AddIndexConcurrently, AddConstraintNotValid
from django.db import migrations, models
"""
HEADER = """

class Migration(migrations.Migration):
    dependencies = [("patients", "0002_patient_preferred_language")]
"""


def write(tmp_path: Path, body: str, *, functions: str = "") -> Path:
    path = tmp_path / "0099_fixture.py"
    path.write_text(IMPORTS + functions + HEADER + body)
    return path


def problems(tmp_path: Path, body: str, *, functions: str = "") -> list[str]:
    path = write(tmp_path, body, functions=functions)
    return [finding.problem for finding in check(path, "patients")]


INDEX = "models.Index(fields=['collected_on'], name='test_collected_idx')"


def test_an_index_built_without_concurrently_is_flagged(tmp_path):
    found = problems(
        tmp_path, f"    operations = [migrations.AddIndex('pregnancytest', {INDEX})]\n"
    )
    assert len(found) == 1
    assert "blocking every write" in found[0]
    assert 'CREATE INDEX "test_collected_idx"' in found[0]


def test_the_failure_names_the_migration_and_points_at_the_operations_guide(tmp_path):
    bad = write(tmp_path, f"    operations = [migrations.AddIndex('pregnancytest', {INDEX})]\n")
    message = failure_message(unsafe([(bad, "patients")]))
    assert "- patients.0099_fixture: AddIndex builds an index while blocking" in message
    assert "docs/operations.md" in message


def test_an_index_built_concurrently_outside_a_transaction_passes(tmp_path):
    body = (
        f"    atomic = False\n    operations = [AddIndexConcurrently('pregnancytest', {INDEX})]\n"
    )
    assert problems(tmp_path, body) == []


def test_a_concurrent_index_in_an_atomic_migration_is_flagged(tmp_path):
    body = f"    operations = [AddIndexConcurrently('pregnancytest', {INDEX})]\n"
    assert problems(tmp_path, body) == ["needs the migration to have atomic = False"]


def test_a_nullable_column_passes_and_a_type_change_is_flagged(tmp_path):
    nullable = "migrations.AddField('patient', 'nickname', models.CharField(max_length=40, null=True, blank=True))"  # noqa: E501
    assert problems(tmp_path, f"    operations = [{nullable}]\n") == []
    retyped = "migrations.AlterField('pregnancytest', 'result', models.IntegerField())"
    found = problems(tmp_path, f"    operations = [{retyped}]\n")
    assert len(found) == 1 and "rewrites the table" in found[0]


def test_a_longer_varchar_passes(tmp_path):
    longer = "migrations.AlterField('pregnancytest', 'result', models.CharField(max_length=40, choices=[('negative', 'Negative'), ('positive', 'Positive')]))"  # noqa: E501
    assert problems(tmp_path, f"    operations = [{longer}]\n") == []


def test_a_column_made_not_null_and_a_checked_constraint_are_flagged(tmp_path):
    not_null = "migrations.AlterField('pregnancytest', 'superseded_on', models.DateField())"
    assert "scans the table" in problems(tmp_path, f"    operations = [{not_null}]\n")[0]
    check_constraint = (
        "migrations.AddConstraint('pregnancytest', models.CheckConstraint("
        "condition=models.Q(clia_lab=False) | ~models.Q(setting='home'), name='test_home_clia'))"
    )
    assert "checks every row" in problems(tmp_path, f"    operations = [{check_constraint}]\n")[0]
    not_valid = check_constraint.replace("migrations.AddConstraint", "AddConstraintNotValid")
    assert problems(tmp_path, f"    operations = [{not_valid}]\n") == []


def test_a_new_table_with_its_indexes_passes(tmp_path):
    body = """    operations = [
        migrations.CreateModel(
            'TestNote',
            [
                ('id', models.BigAutoField(primary_key=True)),
                ('patient', models.ForeignKey('patients.patient', models.CASCADE)),
                ('text', models.TextField()),
            ],
        ),
        migrations.AddIndex('testnote', models.Index(fields=['text'], name='test_note_idx')),
    ]
"""
    assert problems(tmp_path, body) == []


def test_a_removed_column_is_flagged_unless_a_reviewer_says_why(tmp_path):
    body = "    operations = [migrations.RemoveField('pregnancytest', 'superseded_reason')]\n"
    assert "then this migration in the next one" in problems(tmp_path, body)[0]
    reviewed = "# migration-safety: the code stopped reading it in release 1.1\n" + body
    assert problems(tmp_path, reviewed) == []


def test_an_index_built_by_hand_in_run_python_is_flagged(tmp_path):
    functions = """

def index_by_hand(apps, schema_editor):
    schema_editor.execute("CREATE INDEX test_by_hand ON patients_patient (mrn)")
"""
    body = "    operations = [migrations.RunPython(index_by_hand, migrations.RunPython.noop)]\n"
    found = problems(tmp_path, body, functions=functions)
    assert len(found) == 1 and "CREATE INDEX test_by_hand" in found[0]
