"""What autovacuum switched off costs Today: the dead rows the nightly triage refresh leaves.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<a seeded throwaway database> \
        .venv/bin/python bench/dead_rows.py [--days 14]

On a database seeded with `seed_demo --patients N --bulk`, for the clinic with the most kept
triage rows: VACUUM ANALYZE (the state autovacuum keeps), then the nightly re-date of every kept
row, once per day for --days days, with autovacuum off for the table, then VACUUM ANALYZE again.
After each stage it prints the table's live and dead rows, its size and its indexes' size, and
the median time of the two reads Today makes on every request: the freshness count
(monitoring.worklist.all_fresh) and the count per group (today_page).

The re-date is the statement the refresh runs when a patient's answer is the day before's (the
usual case, monitoring.worklist.refresh), for the whole clinic at once: a row whose answer
changed is rewritten instead, which leaves a dead row all the same. It moves the kept rows'
dates into the future, so use a throwaway database: the app recomputes the rows afterwards.
The table's own autovacuum setting is restored at the end. docs/operations.md quotes a run.
"""

# ruff: noqa: S608 - the SQL is built from a constant table name and an id read from the database

import argparse
import os
import statistics
import time

import psycopg

TABLE = "monitoring_patienttriage"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=14)
    days = parser.parse_args().days
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        clinic = one(conn, f"SELECT clinic_id FROM {TABLE} GROUP BY 1 ORDER BY count(*) DESC")
        reads = {
            "freshness count": f"SELECT count(*) FROM {TABLE} WHERE clinic_id = {clinic} "
            f"AND computed_on = (SELECT max(computed_on) FROM {TABLE} WHERE clinic_id = "
            f"{clinic}) AND format = (SELECT max(format) FROM {TABLE})",
            "count per group": f'SELECT "group", count(patient_id) FROM {TABLE} '
            f"WHERE clinic_id = {clinic} GROUP BY 1",
        }
        print(f"clinic {clinic}; autovacuum {one(conn, 'SHOW autovacuum')} on the server")
        conn.execute(f"ALTER TABLE {TABLE} SET (autovacuum_enabled = false)")
        try:
            conn.execute(f"VACUUM ANALYZE {TABLE}")
            report(conn, "vacuumed (what autovacuum keeps)", reads)
            started = time.perf_counter()
            for _ in range(days):
                conn.execute(
                    f"UPDATE {TABLE} SET computed_on = computed_on + 1 WHERE clinic_id = {clinic}"
                )
            print(f"{days} re-dates in {time.perf_counter() - started:.1f} s")
            report(conn, f"after {days} nightly refreshes, no vacuum", reads)
            started = time.perf_counter()
            conn.execute(f"VACUUM ANALYZE {TABLE}")
            print(f"VACUUM ANALYZE in {time.perf_counter() - started:.1f} s")
            report(conn, "vacuumed again", reads)
        finally:
            conn.execute(f"ALTER TABLE {TABLE} RESET (autovacuum_enabled)")


def one(conn, sql: str):
    return conn.execute(sql).fetchone()[0]


def report(conn, stage: str, reads: dict[str, str]) -> None:
    # A backend publishes its row counts at most once a second, and later when idle: ask now.
    conn.execute("SELECT pg_stat_force_next_flush()")
    time.sleep(1.5)
    live, dead, heap, indexes = conn.execute(
        "SELECT n_live_tup, n_dead_tup, pg_size_pretty(pg_table_size(relid)), "
        "pg_size_pretty(pg_indexes_size(relid)) FROM pg_stat_user_tables WHERE relname = %s",
        [TABLE],
    ).fetchone()
    print(f"{stage}: {live:,} live rows, {dead:,} dead; table {heap}, indexes {indexes}")
    for name, sql in reads.items():
        print(f"  {name}: median {median_ms(conn, sql):.1f} ms ({plan(conn, sql)})")


def median_ms(conn, sql: str, runs: int = 21) -> float:
    conn.execute(sql).fetchall()  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        conn.execute(sql).fetchall()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def plan(conn, sql: str) -> str:
    """The scan and the pages it read: the heap fetches of an index-only scan count the rows
    whose page the visibility map (kept by vacuum) does not vouch for."""
    lines = [row[0].strip() for row in conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")]
    scan = next(line for line in lines if "Scan on" in line or "Scan using" in line)
    kept = [scan.split("  (")[0].lstrip("-> ")]
    kept += [line for line in lines if line.startswith(("Heap Fetches", "Buffers"))][:2]
    return "; ".join(kept)


if __name__ == "__main__":
    main()
