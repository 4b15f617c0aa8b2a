"""The outbox's rules, shared by the writes, the reads and the claims (storage/sql/claims.py): which rows are still
to send and due (storage/sql/outbox.py's docstring), what each provider report, deferral or giving up changes, and
rows decoded into `OutboxRow`s. No SQL runs here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, or_

from storage.records import OutboxRow, Priority
from storage.sql import schema as s
from storage.sql.codecs import Row, load_json
from storage.sql.directory_rows import participant_audit

OUTBOX_GIVEN_UP = "outbox.given_up"
SENT = "sent"
DELIVERED = "delivered"
FAILED = frozenset({"undelivered", "failed"})  # the provider could not deliver it

# How far along a message is (Twilio's statuses; an unknown one counts as "sent"). Callbacks can arrive out of
# order: a status never replaces one further along, so a late "sending" or "sent" cannot hide "delivered".
_PROGRESS = {"accepted": 0, "scheduled": 0, "queued": 0, "sending": 1, SENT: 2, DELIVERED: 3}
_PROGRESS.update(dict.fromkeys(FAILED, 3))
PROVIDER_ID_TAKEN = "provider_id: this provider id is already recorded for another outbox row"


def given_up_audit(ref: str, row: Mapping[Any, Any], at: datetime) -> Row:
    """Which row, on which channel, after how many attempts: not the reason, which may quote an address."""
    detail = {"outbox_id": row["id"], "channel": row["channel"], "attempts": row["attempts"]}
    return participant_audit("system", OUTBOX_GIVEN_UP, ref, at, detail)


_o = s.outbox
OUTBOX_COLUMNS = (_o.c.id, _o.c.participant_id, _o.c.channel, _o.c.payload, _o.c.created_at, _o.c.attempts,
                  _o.c.priority)  # what `outbox_from_row` reads


def to_send(row: Mapping[Any, Any]) -> bool:
    """Neither sent nor given up."""
    return row["sent_at"] is None and row["given_up_at"] is None


def is_due(row: Mapping[Any, Any], now: datetime | None) -> bool:
    """To send and not deferred past `now` (without a `now`, a deferred row is not due)."""
    not_before = row["not_before"]
    return to_send(row) and (not_before is None or (now is not None and not_before <= now))


def outbox_from_row(row: Mapping[Any, Any]) -> OutboxRow:
    return OutboxRow(
        id=row["id"],
        participant_id=row["participant_id"],
        channel=row["channel"],
        payload=load_json(row["payload"]),
        created_at=row["created_at"],
        attempts=row["attempts"],
        priority=Priority(row["priority"]),
    )


def progress(status: str | None) -> int:
    return -1 if status is None else _PROGRESS.get(status, _PROGRESS[SENT])


def delivery_changes(row: Mapping[Any, Any], provider_id: str | None, status: str, at: datetime, detail: str) -> Row:
    """What `mark_delivery` changes.

    "sent" on a row not yet sent is a send: ``sent_at``, ``attempts + 1``, status "sent", its detail, and the
    provider id when one is given (a retry's new send replaces the old one's). Any other report records its
    status and detail, unless the row's status is further along (see `_PROGRESS`), and fills in the provider
    id if the row has none; "delivered" also sets a missing ``sent_at``, as the message evidently went out.
    """
    changes: Row = {}
    if status == SENT and row["sent_at"] is None:
        changes.update(sent_at=at, attempts=row["attempts"] + 1, delivery_status=SENT, delivery_detail=detail or None)
        if provider_id is not None and provider_id != row["provider_id"]:
            changes["provider_id"] = provider_id
        return changes
    if provider_id is not None and row["provider_id"] is None:
        changes["provider_id"] = provider_id
    if progress(status) >= progress(row["delivery_status"]):
        if status != row["delivery_status"]:
            changes["delivery_status"] = status
        if (detail or None) != row["delivery_detail"]:
            changes["delivery_detail"] = detail or None
    if status == DELIVERED and row["sent_at"] is None:
        changes["sent_at"] = at
    return changes


def defer_changes(row: Mapping[Any, Any], not_before: datetime, detail: str) -> Row:
    """What `defer_outbox` changes: the attempt counts and the row waits until `not_before`, unsent.

    A row reported undelivered or failed after it was sent goes back to the queue (its ``sent_at`` is cleared),
    so a failed delivery can be retried. Nothing changes for a row given up, or one that is sent and not
    reported failed (it may arrive: sending it again could duplicate it).
    """
    if row["given_up_at"] is not None:
        return {}
    if row["sent_at"] is not None and row["delivery_status"] not in FAILED:
        return {}
    return {
        "attempts": row["attempts"] + 1,
        "not_before": not_before,
        "delivery_detail": detail or None,
        "sent_at": None,
    }


def give_up_changes(row: Mapping[Any, Any], at: datetime, detail: str) -> Row:
    """What `give_up_outbox` changes: never sent from now on (nothing changes if it was given up already)."""
    if row["given_up_at"] is not None:
        return {}
    return {"given_up_at": at, "delivery_detail": detail or None, "attempts": row["attempts"] + 1}


def held_back(row: Any, earlier: Any, held: ColumnElement[bool]) -> ColumnElement[bool]:
    """`row` (of the outbox) comes after an unfinished row of the same person on the same channel that is `held`
    (an `earlier` alias of the outbox): a person's order is kept behind a deferred or leased row."""
    return exists().where(
        earlier.c.participant_id == row.c.participant_id,
        earlier.c.channel == row.c.channel,
        or_(earlier.c.priority < row.c.priority,
            and_(earlier.c.priority == row.c.priority, earlier.c.id < row.c.id)),  # before it
        earlier.c.sent_at.is_(None),
        earlier.c.given_up_at.is_(None),
        held,
    )


def only_urgent_of(query: Select[Any], row: Any, participant_ids: Collection[int],
                   everyone: bool = False) -> Select[Any]:
    """Of these participants (or of `everyone`), only URGENT rows (their ordinary ones are waiting in the dispatcher
    anyway)."""
    if everyone:
        return query.where(row.c.priority == int(Priority.URGENT))
    if not participant_ids:
        return query
    others = row.c.participant_id.not_in(sorted(participant_ids))
    return query.where(or_(row.c.priority == int(Priority.URGENT), others))
