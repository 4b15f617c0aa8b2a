"""`Bulk` (storage/sql/bulk.py) writes exactly what SQLAlchemy's own executemany writes, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, create_engine, insert, select, update

from storage.sql import schema as s
from storage.sql.bulk import MAX_VALUES_ROWS, Bulk
from storage.sql.codecs import dump_json
from storage.sql.metadata import metadata

T0 = datetime(2026, 12, 7, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'bulk.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    made = create_engine(url)
    metadata.create_all(made)
    with made.begin() as conn:
        conn.execute(insert(s.participants), [{"ref": f"P{i}", "lang": "da", "created_at": T0} for i in range(2)])
    yield made
    made.dispose()


def outbox_rows(n: int) -> list[dict[str, Any]]:
    return [{"participant_id": 1 + i % 2, "channel": "console", "payload": dump_json({"n": i}),
             "created_at": T0 + timedelta(seconds=i), "sent_at": None, "attempts": 0, "priority": i % 3}
            for i in range(n)]


def test_rows_written_are_the_ones_sqlalchemy_writes(engine: Engine) -> None:
    rows = outbox_rows(5)
    with engine.begin() as conn:
        conn.execute(insert(s.outbox), rows)
        Bulk(insert(s.outbox)).run(conn, rows)
        written = conn.execute(select(s.outbox).order_by(s.outbox.c.id)).mappings().all()
    columns = [c for c in written[0] if c != "id"]
    ours, theirs = written[5:], written[:5]
    assert [[row[c] for c in columns] for row in ours] == [[row[c] for c in columns] for row in theirs]
    assert ours[0]["created_at"] == T0  # the datetime went through its type (text on SQLite) and comes back the same


def test_an_update_counts_the_rows_it_changed(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(s.conversations), [{"participant_id": p, "state": "{}", "revision": 1, "updated_at": T0}
                                               for p in (1, 2)])
        changes = [{"b_pid": 1, "b_rev": 1, "state": "a", "revision": 2, "updated_at": T0},
                   {"b_pid": 2, "b_rev": 7, "state": "b", "revision": 8, "updated_at": T0}]  # a stale revision
        by_revision = update(s.conversations).where(s.conversations.c.participant_id == bindparam("b_pid"),
                                                    s.conversations.c.revision == bindparam("b_rev"))
        assert Bulk(by_revision).run(conn, changes).rowcount == 1
        states = dict(conn.execute(select(s.conversations.c.participant_id, s.conversations.c.state)).all())
    assert states == {1: "a", 2: "{}"}


def test_ids_come_back_in_the_rows_order_past_one_statement(engine: Engine) -> None:
    rows = outbox_rows(MAX_VALUES_ROWS * 2 + 3)
    with engine.begin() as conn:
        ids = Bulk(insert(s.outbox)).insert_ids(conn, rows)
        payloads = dict(conn.execute(select(s.outbox.c.id, s.outbox.c.payload)).all())
    assert len(set(ids)) == len(rows)
    assert [payloads[i] for i in ids] == [row["payload"] for row in rows]


def test_a_default_made_in_python_is_left_to_sqlalchemy(engine: Engine) -> None:
    """`answers.superseded` has a Python-side default: rows without it still get it."""
    row = {"participant_id": 1, "run_seq": 1, "flow_id": "pss10", "flow_version": 1, "item_id": "q1",
           "value_kind": "int", "value_num": 2.0, "value_text": None, "raw_text": "x", "answered_at": T0}
    with engine.begin() as conn:
        Bulk(insert(s.answers)).run(conn, [row, row])
        assert conn.execute(select(s.answers.c.superseded)).scalars().all() == [False, False]
