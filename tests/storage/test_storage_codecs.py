"""The value codecs every implementation shares: answers, datetimes and JSON round-trip exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import create_async_engine

from storage import SqlStorage
from storage.sql.codecs import (
    JSON_TEXT_OPTIONS,
    JSONText,
    UTCDateTime,
    decode_answer,
    dump_json,
    encode_answer,
    load_json,
    utc_text,
)

answers = st.one_of(
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
aware = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 31), timezones=st.timezones()).filter(
    lambda d: d.utcoffset() is not None
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(answers)
def test_answer_values_round_trip_exactly(value: int | float | str) -> None:
    decoded = decode_answer(*encode_answer(value))
    assert decoded == value and type(decoded) is type(value)


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), 2**53 + 1, None, b"x"])
def test_unstorable_answer_values_are_refused(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        encode_answer(value)  # type: ignore[arg-type]


@given(aware, aware)
def test_utc_text_sorts_like_time(a: datetime, b: datetime) -> None:
    # Compared as UTC instants: `<` within one zone compares wall-clock time, ignoring DST folds.
    assert (utc_text(a) < utc_text(b)) == (a.astimezone(UTC) < b.astimezone(UTC))
    assert len(utc_text(a)) == len("2025-01-31T08:00:00.000000+00:00")


@given(aware)
def test_datetimes_come_back_equal_and_in_utc(moment: datetime) -> None:
    column = UTCDateTime()
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        stored = column.process_bind_param(moment, dialect)
        # SQLite: the fixed-width text; PostgreSQL: the instant, for a timestamptz column.
        assert stored == (utc_text(moment) if dialect.name == "sqlite" else moment.astimezone(UTC))
        back = column.process_result_value(stored, dialect)
        # Compared in UTC: PEP 495 makes == across zones False for wall times in a DST gap or fold.
        assert back == moment.astimezone(UTC) and back is not None and back.tzinfo is UTC


@given(st.dictionaries(st.text(), json_values, max_size=5))
def test_json_columns_keep_the_text_on_sqlite_and_a_value_on_postgresql(value: dict[str, object]) -> None:
    column, text = JSONText(), dump_json(value)
    assert column.process_bind_param(text, sqlite.dialect()) == text  # stored as it is
    assert column.process_bind_param(text, postgresql.dialect()) == value  # for jsonb, which the driver writes
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        assert load_json(column.process_result_value(value if dialect.name == "postgresql" else text, dialect)
                         or "") == value


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        utc_text(datetime(2025, 1, 1))
    assert utc_text(datetime(2025, 1, 1, 9, tzinfo=timezone(timedelta(hours=1)))).startswith("2025-01-01T08:00")


@given(st.dictionaries(st.text(), json_values, max_size=5))
def test_json_objects_round_trip(value: dict[str, object]) -> None:
    assert load_json(dump_json(value)) == value


def test_json_refuses_what_it_cannot_store_faithfully() -> None:
    with pytest.raises(ValueError):
        dump_json({"x": float("nan")})
    with pytest.raises(TypeError):
        dump_json({"when": datetime(2025, 1, 1, tzinfo=UTC)})
    with pytest.raises(ValueError):
        load_json("[1, 2]")


async def test_sqlite_urls_and_paths(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only for SQLite"):
        SqlStorage("postgresql+asyncpg://user@localhost/bot", runner="hybrid")
    # A plain (sync) SQLite URL is accepted, runs on aiosqlite, and gets its directory created.
    store = SqlStorage(f"sqlite:///{tmp_path / 'made' / 'bot.sqlite'}")
    try:
        await store.migrate()
        assert store.engine.url.drivername == "sqlite+aiosqlite"
        assert (tmp_path / "made" / "bot.sqlite").is_file()
    finally:
        await store.close()
    with pytest.raises(RuntimeError, match="closed"):
        await store.export_answers()


TRICKY_JSON = [
    {"name": "Søren Ærø Åby", "mood": "🙂", "said": 'he said "no" \\ then left', "tab": "a\tb\nc"},
    {"nested": [1, 2.5, -0.25, {"x": None, "y": [True, False]}], "big": 2**60, "small": 1e-7, "empty": {}},
]


@pytest.mark.parametrize("options", [JSON_TEXT_OPTIONS, {}], ids=["text-options", "plain-engine"])
async def test_json_text_round_trips_through_a_real_postgresql(postgres_url: str, options: dict[str, Any]) -> None:
    """Written as the text it is and, with the options, read as the server's text; an engine without them (a
    command's) reads the parsed value back as text. Either way the caller's object comes back."""
    table = Table("json_round_trip", MetaData(), Column("id", Integer, primary_key=True), Column("data", JSONText))
    engine = create_async_engine(postgres_url, **options)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(table.metadata.create_all)
            await conn.execute(table.insert(), [{"id": i, "data": dump_json(v)} for i, v in enumerate(TRICKY_JSON)])
        async with engine.connect() as conn:
            texts = (await conn.execute(select(table.c.data).order_by(table.c.id))).scalars().all()
    finally:
        await engine.dispose()
    assert all(isinstance(text, str) for text in texts)
    assert [load_json(text) for text in texts] == TRICKY_JSON
