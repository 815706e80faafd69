"""Requests released at the same moment from threads, for the tests of row locks. Each thread
has its own database connection, so the tests need `django_db(transaction=True)` and a server
that locks rows: PostgreSQL (CI's database; SQLite skips)."""

import threading

import pytest
from django.db import connection


def require_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL: run with DATABASE_URL=postgres://... (CI does)")


def at_once(*requests):
    """Run the callables in threads released together; return their answers in order."""
    barrier = threading.Barrier(len(requests))
    answers = [None] * len(requests)

    def run(index, request):
        try:
            barrier.wait(timeout=10)
            answers[index] = request()
        finally:
            connection.close()  # the thread's own connection

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers
