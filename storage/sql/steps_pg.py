"""A batch's common rows in one statement on PostgreSQL: each table's rows as arrays, unnested in data-modifying CTEs.

Why: on the async driver each statement of a batch awaits its reply through the event loop, and on a busy loop each
such wait lasts a whole loop iteration (everything else ready runs first). A batch of answers wrote six tables in six
statements: the inbox, the conversations (inserted and updated, the update checked against the revision), the answers
(earlier ones superseded, new ones inserted), the scores, the outbox (its ids returned in order) and the audit log.
Here they are one statement, so a batch waits for the loop about half as often. The rarer writes (a language, the
schedule, coach tasks, marks, escalations, contacts) stay as they are in storage/sql/steps.py, after this one.

The rules are the ones `_apply_plan` keeps with one executemany per table: nothing is written blind (every planned
conversation update must find its revision, or the whole batch rolls back), and the outbox ids come back in the order
the rows were planned. The CTEs all see the snapshot from before the statement, so a batch that both inserts and
updates one participant's conversation, or updates it twice, is written the sequential way (`fits`).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, Dialect, Table, text

from storage.sql import schema as s
from storage.sql.codecs import Row

# After the participants' lock (its own statement: storage/sql/steps.py `_plan_steps`), what the plan reads, in one
# statement: each participant's revision, and which of the batch's messages the inbox has (one probe of its unique
# index per message, as `_SEEN_INBOUND_PG` there).
_REVISIONS_AND_SEEN = text(
    "SELECT p.id, c.revision, NULL AS seen FROM participants AS p LEFT JOIN conversations AS c "
    "ON c.participant_id = p.id WHERE p.id = ANY(CAST(:pids AS INTEGER[])) "
    "UNION ALL "
    "SELECT NULL, NULL, wanted.id FROM unnest(CAST(:ids AS VARCHAR[])) AS wanted(id) CROSS JOIN LATERAL "
    "(SELECT 1 FROM inbox WHERE inbox.channel = :channel AND inbox.channel_message_id = wanted.id LIMIT 1) AS found"
)
# An explicit cast to VARCHAR(n) cuts a longer value short without a word; the arrays are cast without the length,
# so the INSERT's assignment to the column refuses it ("value too long"), as the per-table statements did.
_LENGTH = re.compile(r"\(\d+\)")
_UPDATED_COLUMN = {"b_pid": "participant_id", "b_rev": "revision", "b_run": "run_seq", "b_item": "item_id"}


def read_revisions_and_seen(conn: Connection, pids: list[int], channel: str,
                            ids: list[str]) -> tuple[list[tuple[int, int | None]], set[str]]:
    """(id, revision or None) of each participant that exists among `pids`; the `ids` of `channel` already in the
    inbox."""
    found: list[tuple[int, int | None]] = []
    seen: set[str] = set()
    for row in conn.execute(_REVISIONS_AND_SEEN, {"pids": pids, "ids": ids, "channel": channel}):
        if row.seen is None:
            found.append((row.id, row.revision))
        else:
            seen.add(row.seen)
    return found, seen


def fits(conv_inserts: list[Row], conv_updates: list[Row]) -> bool:
    """Whether every conversation is written at most once in the batch (else the CTEs could not see the earlier
    write, and the revision check would refuse the batch)."""
    pids = [row["participant_id"] for row in conv_inserts] + [row["b_pid"] for row in conv_updates]
    return len(pids) == len(set(pids))


_TYPES: dict[tuple[str, str], str] = {}  # (table, column) -> its PostgreSQL type, compiled once per process


def _pg_type(table: Table, name: str, dialect: Dialect) -> str:
    """The column's type as PostgreSQL spells it, without a length (VARCHAR(200) -> VARCHAR)."""
    key = (table.name, name)
    found = _TYPES.get(key)
    if found is None:
        found = _TYPES[key] = _LENGTH.sub("", table.c[name].type.compile(dialect=dialect))
    return found


class _Statement:
    """The statement being built: its CTEs and its parameters (one array per column)."""

    def __init__(self, conn: Connection) -> None:
        self._dialect = conn.dialect
        self.ctes: list[str] = []
        self.params: dict[str, list[Any]] = {}

    def source(self, table: Table, rows: list[Row], alias: str) -> tuple[list[str], str]:
        """The rows as `unnest(...) WITH ORDINALITY AS alias(columns..., _ord)`, and the columns' names."""
        names = list(rows[0])
        casts = []
        for k, name in enumerate(names):
            key = f"{alias}{k}"
            self.params[key] = [row[name] for row in rows]
            sql_type = _pg_type(table, _UPDATED_COLUMN.get(name, name), self._dialect)
            casts.append(f"CAST(:{key} AS {'TEXT' if sql_type == 'JSONB' else sql_type}[])")
        quoted = ", ".join(f'"{name}"' for name in names)
        return names, f"unnest({', '.join(casts)}) WITH ORDINALITY AS {alias}({quoted}, _ord)"

    def value(self, table: Table, alias: str, name: str) -> str:
        sql_type = _pg_type(table, name, self._dialect)
        return f'{alias}."{name}"::jsonb' if sql_type == "JSONB" else f'{alias}."{name}"'

    def insert(self, table: Table, rows: list[Row], alias: str, returning: str = "") -> None:
        if not rows:
            return
        names, source = self.source(table, rows, alias)
        values = ", ".join(self.value(table, alias, name) for name in names)
        columns = ", ".join(f'"{name}"' for name in names)
        self.ctes.append(f"{alias} AS (INSERT INTO {table.name} ({columns}) SELECT {values} FROM {source} "
                         f"ORDER BY {alias}._ord{returning})")


def write_rows(conn: Connection, *, inbox: list[Row], conv_inserts: list[Row], conv_updates: list[Row],
               answer_keys: list[Row], answers: list[Row], scores: list[Row], outbox: list[Row],
               audit: list[Row]) -> list[int]:
    """Write the rows in one statement; return the outbox ids in the order of `outbox`. Raises if a planned
    conversation update did not find its revision."""
    st = _Statement(conn)
    st.insert(s.inbox, inbox, "ib")
    st.insert(s.conversations, conv_inserts, "ci")
    if conv_updates:
        _, source = st.source(s.conversations, conv_updates, "cu")
        st.ctes.append('cu_done AS (UPDATE conversations AS c SET state = cu."state", revision = cu."revision", '
                       f'updated_at = cu."updated_at" FROM {source} '
                       'WHERE c.participant_id = cu."b_pid" AND c.revision = cu."b_rev" RETURNING 1)')
    if answer_keys:
        _, source = st.source(s.answers, answer_keys, "ak")
        st.ctes.append(f"ak_done AS (UPDATE answers AS a SET superseded = true FROM {source} "
                       'WHERE a.participant_id = ak."b_pid" AND a.run_seq = ak."b_run" AND a.item_id = ak."b_item" '
                       "AND a.superseded = false)")
    st.insert(s.answers, answers, "an")
    st.insert(s.scores, scores, "sc")
    st.insert(s.outbox, outbox, "ob", " RETURNING id")
    st.insert(s.audit_log, audit, "au")
    if not st.ctes:
        return []
    updated = "(SELECT count(*) FROM cu_done)" if conv_updates else "0"
    ids = "ARRAY(SELECT id FROM ob ORDER BY id)" if outbox else "ARRAY[]::INTEGER[]"
    row = conn.execute(text(f"WITH {', '.join(st.ctes)} SELECT {updated} AS updated, {ids} AS ids"), st.params).one()
    if row.updated != len(conv_updates):
        raise RuntimeError("conversation revision changed during a locked write")  # never write blind
    # ids from one INSERT ... SELECT ... ORDER BY rise in the order of the rows (as SQLAlchemy's insertmanyvalues
    # also relies on for PostgreSQL), so sorted they are in the order planned
    return list(row.ids)
