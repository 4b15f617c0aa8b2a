"""How values are stored: datetimes as fixed-width ISO-8601 UTC text on SQLite (text order is time order) and
``timestamptz`` on PostgreSQL, JSON as strict text (``jsonb`` on PostgreSQL), answers split so ints, floats and
strings round-trip; and the checks of short identifiers.

Every refusal is an `InvalidRecord` (storage/errors.py), raised before any transaction so it fails only its caller.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import URL, Dialect, String, Text
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator, TypeEngine

from storage.errors import Corrupt, InvalidRecord
from storage.records import AnswerValue

Row = dict[str, Any]


def require_utc(value: datetime) -> datetime:
    """Return `value` in UTC; refuse naive datetimes, whose meaning would be a guess."""
    if value.tzinfo is UTC:  # already normalised: the common case, and on bulk paths the checks add up
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRecord("naive datetime refused: storage needs timezone-aware datetimes")
    return value.astimezone(UTC)


def utc_text(value: datetime) -> str:
    """Fixed-width ISO-8601 UTC text, e.g. ``2025-01-31T08:00:00.000000+00:00``; sorts chronologically."""
    return require_utc(value).isoformat(timespec="microseconds")


_last_text: tuple[datetime | None, str] = (None, "")  # the last UTC datetime written as text, and that text


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime: fixed-width ISO-8601 text on SQLite (sortable; code reads that text in places),
    ``timestamptz`` on PostgreSQL."""

    impl = String(32)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        return dialect.type_descriptor(String(32))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | str | None:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return require_utc(value)
        if value.tzinfo is UTC:  # already normalised (rows built by this package are): skip the checks
            global _last_text
            seen, text = _last_text
            if seen is not value:  # a step's rows carry its one `at` several times: written once
                text = value.isoformat(timespec="microseconds")
                _last_text = (value, text)
            return text
        return utc_text(value)

    def process_result_value(self, value: datetime | str | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):  # timestamptz, in the session's time zone
            return value.astimezone(UTC)
        return datetime.fromisoformat(value).astimezone(UTC)


def _json_default(value: object) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default)


# `json.dumps` with options builds an encoder, and `JSONEncoder.encode` a C encoder, on every call: more than half
# the cost of encoding a small object, which adds up to seconds when a cohort's programme (1.5 million rows) is
# planned. So the C encoder, built with the same options, is built once. Without the circular-reference check,
# which needs a fresh dict per call: a cyclic object still fails, with RecursionError instead of ValueError.
_make_c_encoder: Callable[..., Callable[[Any, int], Any]] | None = getattr(json.encoder, "c_make_encoder", None)


_C_JSON = (
    None
    if _make_c_encoder is None
    else _make_c_encoder(None, _json_default, encode_basestring, None, ":", ",", False, False, False)
)


def dump_json(value: Mapping[str, Any]) -> str:
    """Serialise a JSON object strictly (no NaN), so every backend can read it back."""
    return _dump(value)


def dump_list(values: list[Any]) -> str:
    """A JSON array, as strictly as `dump_json` (a bulk write's rows as one parameter)."""
    return _dump(values)


def _dump(value: Any) -> str:
    if _C_JSON is None:
        return _JSON.encode(value)
    return "".join(_C_JSON(value, 0))


def load_json(raw: str) -> dict[str, Any]:
    loaded = json.loads(raw)
    if not isinstance(loaded, dict):
        raise Corrupt("stored JSON is not an object")
    return loaded


class JSONText(TypeDecorator[str]):
    """A JSON object as its text (what `dump_json` writes and `load_json` reads): text on SQLite, ``jsonb`` on
    PostgreSQL, so the code around it is the same on both.

    With psycopg the text goes to the server as it is (`psycopg.types.json.Jsonb` with `json_text` as its dumps)
    and, on an engine made with `JSON_TEXT_OPTIONS`, comes back as the server's text (`text_of_json` as the
    driver's loads). Otherwise psycopg parsed each value read into a dict, which was written back to text here and
    parsed again by the caller, and each value written was parsed here for psycopg to write it out again: a claim
    of 1,000 schedule rows did 2,000 parses and 1,000 dumps for 1,000 values (benchmarks/schedule.py --postgres).
    An engine without those options still reads correctly: a parsed value is written back as text."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.JSONB())
        return dialect.type_descriptor(Text())

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "postgresql":  # the text as it is: no call per value on the hot paths
            return None
        if dialect.driver == "psycopg":
            from psycopg.types.json import Jsonb

            return lambda value: None if value is None else Jsonb(value, dumps=json_text)
        return super().bind_processor(dialect)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name != "postgresql":
            return None
        return super().result_processor(dialect, coltype)

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "postgresql":
            return value
        return json.loads(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return dump_json(value)


def json_text(value: Any) -> str:
    """psycopg's dumps for `JSONText`: the value is already the JSON text."""
    if not isinstance(value, str):
        raise TypeError(f"JSONText takes the JSON text, not {type(value).__name__}")
    return value


def text_of_json(data: bytes | str) -> str:
    """psycopg's loads for ``json``/``jsonb`` (`JSON_TEXT_OPTIONS`): the server's text, not parsed."""
    return data if isinstance(data, str) else data.decode()


# An engine's options with psycopg so that `JSONText` reads the server's text as it is (every JSON column is one)
JSON_TEXT_OPTIONS: dict[str, Any] = {"json_deserializer": text_of_json}


def json_text_options(url: URL) -> dict[str, Any]:
    """`JSON_TEXT_OPTIONS` for a psycopg URL, nothing for any other driver (which keeps the parse and dump)."""
    return JSON_TEXT_OPTIONS if url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg" else {}


def encode_answer(value: AnswerValue) -> tuple[str, float | None, str | None]:
    """Split an answer into (kind, value_num, value_text) so ints, floats and strings round-trip exactly.

    Numbers keep a numeric column for analysis in SQL; ints beyond 2**53 would not survive a REAL column and
    are refused, as are NaN and infinities (not answers a participant can give).
    """
    if isinstance(value, bool):
        raise TypeError("bool is not an answer value; use int")
    if isinstance(value, int):
        if abs(value) > 2**53:
            raise InvalidRecord("integer answer too large to store exactly")
        return "int", float(value), None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRecord("non-finite float answer refused")
        return "float", value, None
    if isinstance(value, str):
        return "str", None, value
    raise TypeError(f"unsupported answer value type: {type(value).__name__}")


def decode_answer(kind: str, num: float | None, txt: str | None) -> AnswerValue:
    if kind == "int" and num is not None:
        return int(num)
    if kind == "float" and num is not None:
        return float(num)
    if kind == "str" and txt is not None:
        return txt
    raise Corrupt(f"corrupt answer value (kind={kind!r})")


Seal = Callable[[str], str]  # storage/crypto.Keys.seal: what a person wrote is a sealed token at rest


Open = Callable[[str], str]  # storage/crypto.Keys.open


def require_actor(coach_id: str) -> str:
    if not coach_id or not coach_id.strip():
        raise InvalidRecord("a coach id is required")
    return coach_id


def require_tier(tier: int) -> int:
    if isinstance(tier, bool) or not isinstance(tier, int) or tier < 0:
        raise InvalidRecord(f"tier must be a non-negative int, not {tier!r}")
    return tier


def check_message_id(value: object) -> str:
    """A channel's id of a message (update id, MessageSid), as the inbox keeps it."""
    return require_name(value, "channel_message_id", 200)


def require_name(value: object, field: str, max_length: int) -> str:
    """A required short identifier (a key or a kind), checked against its column's length."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRecord(f"{field} is required")
    if len(value) > max_length:
        raise InvalidRecord(f"{field} is longer than {max_length} characters")
    return value
