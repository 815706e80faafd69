"""A query compiled once per process and run with new values (docs/benchmarks.md, "CPU per
request").

Django compiles a queryset to SQL on every evaluation. For the few queries a hot page runs
several times per request with the same shape (Today's first rows of each group: eight of
them), compiling cost 40 % of the page's own CPU. `Prepared` compiles the shape once, with
stand-in values for what varies, and then runs the same SQL with the request's values, turning
each row into Python values with the compiler's own converters (a date from SQLite's text, a
JSON list), exactly as the queryset would.

Its plain twin is the queryset itself: `tests/monitoring/test_prepared.py` compares the two on
every shape the application prepares.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.models import QuerySet

# Stand-ins for the values a shape varies on, used only to compile it: unlikely to appear as a
# constant of the query, and inside every integer column's range, positive ones included
# (Django compiles an out-of-range integer to "no row").
_INT_STAND_IN = 31_000
_TEXT_STAND_IN = "\x00stand-in-"


class Prepared:
    """`build(**values)` makes the queryset (a `values_list`); `names` lists the keyword
    arguments that vary, each an int or a str."""

    def __init__(self, build: Callable[..., QuerySet], *, ints=(), texts=()):
        self.build, self.ints, self.texts = build, tuple(ints), tuple(texts)
        # Per thread: the compiler holds the connection it was made with, and each thread
        # has its own.
        self._local = threading.local()

    def _compile(self, using: str):
        stand_ins: dict[str, Any] = {}
        for i, name in enumerate(self.ints):
            stand_ins[name] = _INT_STAND_IN + i
        for i, name in enumerate(self.texts):
            stand_ins[name] = f"{_TEXT_STAND_IN}{i}"
        queryset = self.build(**stand_ins)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        by_value = {value: name for name, value in stand_ins.items()}
        slots = [by_value.get(p) if isinstance(p, int | str) else None for p in params]
        if set(name for name in slots if name) != set(stand_ins):
            raise ValueError("a stand-in value did not reach the query's parameters")
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        converters = compiler.get_converters(fields)
        return sql, tuple(params), slots, compiler, converters

    def __call__(self, using: str = "default", **values) -> list[tuple]:
        compiled = self._local.__dict__.setdefault("compiled", {})
        if using not in compiled:
            compiled[using] = self._compile(using)
        sql, params, slots, compiler, converters = compiled[using]
        bound = [values[name] if name else p for p, name in zip(params, slots, strict=True)]
        with connections[using].cursor() as cursor:
            cursor.execute(sql, bound)
            rows = cursor.fetchall()
        if converters:
            return [tuple(row) for row in compiler.apply_converters(rows, converters)]
        return [tuple(row) for row in rows]
