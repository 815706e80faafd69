"""`make backup-drill`: back up a seeded clinic, restore it into a new database, and prove the
copy is whole (docs/operations.md, "The backup drill").

1. drill_source (dropped first): migrate, `seed_demo` (DJANGO_DEBUG=true: it is demo data), then
   home tests with real PNG and PDF evidence recorded through the service, so the files go to
   the configured storage.
2. Back up as docs/operations.md says: `pg_dump -Fc`, then, when the evidence storage is a
   directory (FileSystemStorage), an archive of that directory taken after the dump.
3. Restore: drill_restore (dropped first) with `pg_restore`, the archive unpacked into a new,
   empty MEDIA_ROOT (a storage in the database gets an empty directory: the files must come
   from the dump); `migrate --check` says the schema is the code's.
4. Compare, in both databases: the rows of every table of the public schema (count and a
   digest of their contents), and every evidence file read back through Django's storage API
   (sha256 and size).

Prints the figures; exits 1 on any mismatch, 2 when the drill could not run.
DRILL_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/) names the server;
DRILL_SOURCE_DB and DRILL_RESTORE_DB the two databases.
"""

# ruff: noqa: S603, S608 - it runs PostgreSQL's tools and counts the tables it listed itself

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
SERVER_URL = os.environ.get("DRILL_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/"
SOURCE_DB = os.environ.get("DRILL_SOURCE_DB") or "drill_source"
RESTORE_DB = os.environ.get("DRILL_RESTORE_DB") or "drill_restore"
WORK = ROOT / "var" / "backup-drill"
EVIDENCE_FILES = 8  # home tests added to the demo's own, half photos and half PDFs
MARK = "DRILL "


class DrillError(Exception):
    """The drill could not run (as opposed to: it ran and found the copy differs)."""


@dataclasses.dataclass
class Snapshot:
    """What one database holds: per table (rows, digest of the rows), and per evidence file
    (sha256, bytes), as read back through Django."""

    tables: dict[str, tuple[int, str]]
    evidence: dict[str, dict]
    unreadable: dict[str, str]
    storage: dict

    @property
    def rows(self) -> int:
        return sum(rows for rows, _ in self.tables.values())

    @property
    def evidence_bytes(self) -> int:
        return sum(file["bytes"] for file in self.evidence.values())


def compare(source: Snapshot, restored: Snapshot) -> list[str]:
    """Every way the restored copy differs from the source, in words; empty when it is whole."""
    found = []
    for table in sorted(source.tables.keys() | restored.tables.keys()):
        if table not in restored.tables:
            found.append(f"table {table}: missing from the restored database")
            continue
        if table not in source.tables:
            found.append(f"table {table}: only in the restored database")
            continue
        (rows, digest), (rows_back, digest_back) = source.tables[table], restored.tables[table]
        if rows != rows_back:
            found.append(f"table {table}: {rows} rows in the source, {rows_back} restored")
        elif digest != digest_back:
            found.append(f"table {table}: same {rows} rows, different contents")
    for name, error in sorted(source.unreadable.items()):
        found.append(f"evidence {name}: unreadable in the source ({error})")
    for name in sorted(source.evidence.keys() | restored.evidence.keys()):
        if name in restored.unreadable:
            found.append(f"evidence {name}: unreadable after restore ({restored.unreadable[name]})")
        elif name not in restored.evidence:
            found.append(f"evidence {name}: not named by the restored database")
        elif name not in source.evidence:
            found.append(f"evidence {name}: only in the restored database")
        elif source.evidence[name] != restored.evidence[name]:
            before, after = source.evidence[name], restored.evidence[name]
            found.append(
                f"evidence {name}: sha256 {before['sha256'][:12]}… ({before['bytes']} bytes) "
                f"in the source, {after['sha256'][:12]}… ({after['bytes']} bytes) restored"
            )
    if not source.evidence:
        found.append("evidence: the source has no evidence file, so the drill proves nothing")
    return found


# --- PostgreSQL ----------------------------------------------------------------------------


def database_url(name: str) -> str:
    return urlunsplit(urlsplit(SERVER_URL)._replace(path=f"/{name}"))


def conninfo(name: str) -> str:
    return database_url(name).replace("postgres://", "postgresql://", 1)


def drop(name: str) -> None:
    with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
        statement = sql.SQL("drop database if exists {} with (force)")
        conn.execute(statement.format(sql.Identifier(name)))


def recreate(name: str) -> None:
    drop(name)
    with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


def tables(name: str) -> dict[str, tuple[int, str]]:
    """Rows and a digest of the rows of every table in the public schema. The digest hashes
    each row's text and joins the hashes in sorted order, so it ignores the physical order
    (which a restore changes) and notices any changed value."""
    figures = {}
    with psycopg.connect(conninfo(name)) as conn:
        names = conn.execute(
            "select tablename from pg_tables where schemaname = 'public' order by tablename"
        ).fetchall()
        for (table,) in names:
            query = sql.SQL(
                "select count(*), md5(coalesce(string_agg(md5(t::text), '' "
                "order by md5(t::text)), '')) from {} t"
            ).format(sql.Identifier("public", table))
            rows, digest = conn.execute(query).fetchone()
            figures[table] = (rows, digest)
    return figures


def server_major() -> int:
    with psycopg.connect(conninfo("postgres")) as conn:
        return conn.info.server_version // 10000


def pg_tool(tool: str, major: int) -> str:
    """pg_dump or pg_restore of the server's major version (Debian keeps each version's tools
    in /usr/lib/postgresql/N/bin); else the one on PATH, if it is at least as new as the server
    (an older pg_dump refuses a newer server)."""
    candidates = [f"/usr/lib/postgresql/{major}/bin/{tool}", shutil.which(tool)]
    for path in filter(None, candidates):
        if not os.access(path, os.X_OK):
            continue
        version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
        found = re.search(r"(\d+)(?:\.\d+)?", version)
        if found and int(found.group(1)) >= major:
            return path
    raise DrillError(f"no {tool} of PostgreSQL {major} or newer: install postgresql-client-{major}")


def run(args: list[str], env: dict | None = None) -> str:
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode:
        raise DrillError(f"{' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    return done.stdout


# --- Django ----------------------------------------------------------------------------------


def django_env(name: str, media: Path, work: Path) -> dict:
    """The application's settings for one database. DJANGO_DEBUG=true because seed_demo
    refuses production settings; the storage settings are the application's own, so the
    evidence goes wherever the configured storage puts it."""
    inherited = {key: value for key, value in os.environ.items() if key != "DJANGO_TESTING"}
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": database_url(name),
        "MEDIA_ROOT": str(media),
        # Nothing of the drill lands in the developer's var/: mail and queued tasks stay in its
        # work folder (the services queue reminder work on commit).
        "REDIS_URL": "",
        "CELERY_BROKER_DIR": str(work / "broker"),
        "EMAIL_FILE_PATH": str(work / "mail"),
        "DEMO_OTP": "off",
    }


def manage(env: dict, *args: str) -> str:
    return run([sys.executable, "manage.py", *args], env=env)


def django_side(env: dict, *args: str) -> dict:
    out = run([sys.executable, str(ROOT / "ops" / "backup_drill_django.py"), *args], env=env)
    for line in out.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    raise DrillError(f"backup_drill_django.py {args} printed no result:\n{out[-2000:]}")


# --- The drill -------------------------------------------------------------------------------


@dataclasses.dataclass
class Drill:
    source: str = SOURCE_DB
    restored: str = RESTORE_DB
    work: Path = WORK
    seed_patients: int | None = None  # seed_demo's own default when None
    evidence_files: int = EVIDENCE_FILES
    seconds: dict = dataclasses.field(default_factory=dict)
    sizes: dict = dataclasses.field(default_factory=dict)
    storage: dict = dataclasses.field(default_factory=dict)
    schema_checked: bool = False

    @property
    def source_media(self) -> Path:
        return self.work / "source-media"

    @property
    def restored_media(self) -> Path:
        return self.work / "restored-media"

    @property
    def dump_file(self) -> Path:
        return self.work / f"{self.source}.dump"

    @property
    def media_archive(self) -> Path:
        return self.work / f"{self.source}-media.tar.gz"

    def env(self, database: str) -> dict:
        media = self.source_media if database == self.source else self.restored_media
        return django_env(database, media, self.work)

    def timed(self, step: str, action):
        started = time.monotonic()
        result = action()
        self.seconds[step] = time.monotonic() - started
        return result

    def prepare_source(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        self.source_media.mkdir(parents=True)
        recreate(self.source)
        env = self.env(self.source)
        seed = ["--patients", str(self.seed_patients)] if self.seed_patients else []

        def build():
            manage(env, "migrate", "--noinput", "-v0")
            manage(env, "seed_demo", *seed)
            django_side(env, "add-evidence", str(self.evidence_files))

        self.timed("seed", build)

    def back_up(self) -> None:
        major = server_major()
        dump = pg_tool("pg_dump", major)
        self.timed(
            "dump",
            lambda: run([dump, "-Fc", "-d", conninfo(self.source), "-f", str(self.dump_file)]),
        )
        self.sizes["dump"] = self.dump_file.stat().st_size
        # The evidence's storage decides whether the files are in the dump or beside it.
        self.storage = django_side(self.env(self.source), "evidence")["storage"]
        if self.storage.get("location") == str(self.source_media.resolve()):
            self.timed("files", self.archive_media)
            self.sizes["files"] = self.media_archive.stat().st_size

    def archive_media(self) -> None:
        with tarfile.open(self.media_archive, "w:gz") as archive:
            archive.add(self.source_media, arcname=".")

    def restore(self) -> None:
        """Into a new database and a new, empty media folder."""
        shutil.rmtree(self.restored_media, ignore_errors=True)
        self.restored_media.mkdir(parents=True)
        recreate(self.restored)
        restore = pg_tool("pg_restore", server_major())

        def load():
            run(
                [restore, "--exit-on-error", "--no-owner", "-d", conninfo(self.restored)]
                + [str(self.dump_file)]
            )
            if self.media_archive.exists():
                with tarfile.open(self.media_archive) as archive:
                    archive.extractall(self.restored_media, filter="data")

        self.timed("restore", load)

    def check_schema(self) -> None:
        """The restored schema is the one the code's migrations make: none left to apply."""
        manage(self.env(self.restored), "migrate", "--check", "-v0")
        self.schema_checked = True

    def snapshot(self, database: str) -> Snapshot:
        read = django_side(self.env(database), "evidence")
        return Snapshot(
            tables=tables(database),
            evidence=read["files"],
            unreadable=read["unreadable"],
            storage=read["storage"],
        )

    def clean_up(self) -> None:
        drop(self.source)
        drop(self.restored)
        shutil.rmtree(self.work, ignore_errors=True)


def report(drill: Drill, source: Snapshot, restored: Snapshot, mismatches: list[str]) -> int:
    """The figures, then each mismatch; the exit status (1 on any mismatch)."""
    archived = drill.sizes.get("files")
    where = "beside the dump (archived MEDIA_ROOT)" if archived else "in the dump"
    dump_size = f"{drill.sizes.get('dump', 0):,} bytes"
    if archived:
        dump_size += f" (+ {archived:,} bytes of archived files)"
    seconds = drill.seconds.get
    side_by_side = [
        ("tables", len(source.tables), len(restored.tables)),
        ("rows", source.rows, restored.rows),
        ("evidence files", len(source.evidence), len(restored.evidence)),
        ("evidence bytes", source.evidence_bytes, restored.evidence_bytes),
    ]
    lines = [
        "",
        f"backup drill: {drill.source} -> pg_dump -Fc -> pg_restore -> {drill.restored}",
        f"  evidence storage   {source.storage.get('backend', '?')}, {where}",
        "",
        f"  {'':19}{'source':>12}{'restored':>12}",
        *(f"  {label:19}{before:>12,}{after:>12,}" for label, before, after in side_by_side),
        "",
        f"  dump size          {dump_size}",
        f"  migrate and seed   {seconds('seed', 0):.1f} s",
        f"  dump               {seconds('dump', 0) + seconds('files', 0):.2f} s",
        f"  restore            {seconds('restore', 0):.2f} s",
        f"  tables compared    {len(source.tables)} (row count and contents of each)",
        *(
            ["  schema             migrate --check: no migration left to apply"]
            if drill.schema_checked
            else []
        ),
        f"  mismatches         {len(mismatches)}",
        *(f"    MISMATCH {line}" for line in mismatches),
        "  RESULT " + ("FAIL: the restored copy differs" if mismatches else "PASS"),
    ]
    print("\n".join(lines), flush=True)
    return 1 if mismatches else 0


def main() -> int:
    drill = Drill()
    try:
        print(f"backup drill on {SERVER_URL} (work folder {drill.work})", flush=True)
        drill.prepare_source()
        drill.back_up()
        drill.restore()
        drill.check_schema()
        source, restored = drill.snapshot(drill.source), drill.snapshot(drill.restored)
    except (DrillError, psycopg.Error) as error:
        print(f"backup drill could not run: {error}", file=sys.stderr)
        return 2
    return report(drill, source, restored, compare(source, restored))


if __name__ == "__main__":
    sys.exit(main())
