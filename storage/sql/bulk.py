"""A Core statement run for many rows with the driver's own executemany: compiled once per dialect and set of keys.

Why not `Connection.execute(statement, rows)`: for every row it builds the parameters again (`construct_params`),
looks each value's type processor up and runs the execution events' bookkeeping: a step batch (about 8 statements
of a few rows each, on the event loop's thread) spent more time there than in SQLite. Here a statement is
compiled once into the driver's SQL, its parameters' order and their processors, and each batch only converts its
rows into tuples. `Connection.exec_driver_sql` still runs it, so the transaction, the engine's events (tests
listen to them) and errors are SQLAlchemy's as before. Measured (`benchmarks/answers.py`'s saturated phase, the
batch's statements timed): 64-78 -> 49-60 µs per answer, with the lookups of storage/sql/steps.py `_revisions_and_seen`.

Only what this can do exactly is done this way; anything else (a column default computed in Python, an expanding
parameter) goes to `Connection.execute` as before, so a schema change cannot make it write something different.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Insert, Update
from sqlalchemy.sql.compiler import SQLCompiler

from storage.sql.codecs import Row

MAX_VALUES_ROWS = 200  # rows per multi-row INSERT (SQLite allows 32,766 parameters a statement)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # each parameter's key in a row, in the order the SQL takes them
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position in `names`, its type's processor)
    positional: bool  # the driver takes a tuple per row (qmark, format); else a dict (named, pyformat)

    def parameters(self, rows: Sequence[Row]) -> list[Any]:
        """The rows as the driver takes them, each value through its type's processor (a datetime to text...)."""
        names = self.names
        if not names:
            values: list[Any] = [() for _ in rows]
        elif len(names) == 1:
            values = [(row[names[0]],) for row in rows]
        else:
            values = list(map(itemgetter(*names), rows))
        if self.processors:
            converted = []
            for row_values in values:
                listed = list(row_values)
                for position, process in self.processors:
                    listed[position] = process(listed[position])
                converted.append(tuple(listed))
            values = converted
        return values if self.positional else [dict(zip(names, v, strict=True)) for v in values]


class Bulk:
    """`statement` for many rows at once: `run(conn, rows)`; rows are dicts with the same keys."""

    def __init__(self, statement: Insert | Update) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled | None] = {}

    def run(self, conn: Connection, rows: Sequence[Row]) -> CursorResult[Any]:
        plan = self._plan(conn, tuple(rows[0]))
        if plan is None:
            return conn.execute(self.statement, list(rows))
        return conn.exec_driver_sql(plan.sql, plan.parameters(rows))

    def insert_ids(self, conn: Connection, rows: Sequence[Row]) -> list[int]:
        """Insert the rows (the statement is an INSERT into a table with an `id`) and return their ids in the rows'
        order: on SQLite one multi-row ``INSERT ... VALUES (...), (...) RETURNING id`` per `MAX_VALUES_ROWS`, the ids
        sorted (under the write lock an INTEGER PRIMARY KEY is given as the largest so far plus one, row after row,
        so they rise in the order of the VALUES, as storage/sql/steps_pg.py relies on for PostgreSQL); elsewhere
        SQLAlchemy's ``RETURNING id`` in the order of the parameters."""
        plan = self._plan(conn, tuple(rows[0]))
        head, _, group = (plan.sql.partition(" VALUES ") if plan is not None else ("", "", ""))
        if plan is None or conn.dialect.name != "sqlite" or not group.startswith("(") or not group.endswith(")"):
            statement = cast(Insert, self.statement)
            return list(conn.scalars(statement.returning(statement.table.c.id, sort_by_parameter_order=True),
                                     list(rows)))
        ids: list[int] = []
        for start in range(0, len(rows), MAX_VALUES_ROWS):
            chunk = plan.parameters(rows[start:start + MAX_VALUES_ROWS])
            sql = f"{head} VALUES {', '.join([group] * len(chunk))} RETURNING id"
            ids.extend(sorted(conn.exec_driver_sql(sql, tuple(v for row in chunk for v in row)).scalars()))
        return ids

    def _plan(self, conn: Connection, keys: tuple[str, ...]) -> _Compiled | None:
        plan_key = (conn.dialect.name, keys)
        if plan_key not in self._compiled:
            self._compiled[plan_key] = self._compile(conn, keys)
        return self._compiled[plan_key]

    def _compile(self, conn: Connection, keys: tuple[str, ...]) -> _Compiled | None:
        dialect = conn.dialect
        compiled = self.statement.compile(dialect=dialect, column_keys=list(keys))
        assert isinstance(compiled, SQLCompiler)
        if compiled.insert_prefetch or compiled.update_prefetch or compiled.literal_execute_params \
                or compiled.post_compile_params or compiled.effective_returning:
            return None  # a default made in Python, an expanding IN, RETURNING: SQLAlchemy's own path
        positional = compiled.positiontup is not None
        names = tuple(compiled.positiontup) if compiled.positiontup is not None else tuple(compiled.binds)
        if not set(names) <= set(keys):
            return None
        found = ((k, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
                 for k, name in enumerate(names))
        return _Compiled(compiled.string, names, tuple((k, p) for k, p in found if p is not None), positional)
