"""Enrolment, channel addresses, Telegram link codes, consent and outbox delivery: rules and SQL for SQLite.

The rules (checking input, which columns a delivery report changes, which rows are due) are plain functions
shared with `MemoryStorage`, so both implementations decide the same way. The SQL is portable Core in functions
of a sync `Connection`: writes are `ContactOp`s that `storage.sqlite` runs inside its writer's transaction
(durable, serialized with steps), reads run as single statements or in one read transaction.

Names, phone numbers and Telegram chat ids never reach the audit log or an error message: audit details carry
channels, statuses, versions and ids only. At rest they are Fernet tokens (storage/crypto.py): an address is
`Sealed` (its keyed hash, which finds it, and its token) before any transaction, and a name is sealed with it, so the
SQL below never sees a plaintext address or name and needs no key.

Outbox rows, as `pending_outbox` sees them:

- to send: ``sent_at`` and ``given_up_at`` are NULL;
- due: to send, and ``not_before`` is NULL, or at or before `now` (without a `now`, a deferred row is never due:
  whoever defers rows must pass the time when asking for them again);
- a participant's order on a channel: most urgent first (`Priority`), then oldest first;
- held: to send but not due. A held row holds back the rows of the same participant on its channel that come after
  it in that order, so a conversation's messages never overtake each other across a rate limit or a retry, and
  nothing less urgent reaches the person while their crisis reply waits for a retry.

`pending_outbox` returns the due rows that are not held back, in sending order: priority, then id.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, delete, exists, insert, or_, select, update

from storage import schema as s
from storage.crypto import LOOKUP_KEY, KeyConfigError, Keys
from storage.interface import (
    AddressStatus,
    AuditRecord,
    ChannelAddress,
    Enrollment,
    Identity,
    OutboxRow,
    Participant,
    Priority,
    Profile,
)

ENROLLED = "participant.enrolled"
ADDRESS_CHANGED = "address.changed"
CONSENT_RECORDED = "consent.recorded"
OUTBOX_GIVEN_UP = "outbox.given_up"
SMS = "sms"

SENT = "sent"
DELIVERED = "delivered"
FAILED = frozenset({"undelivered", "failed"})  # the provider could not deliver it
# How far along a message is (Twilio's statuses; an unknown one counts as "sent"). Callbacks can arrive out of
# order: a status never replaces one further along, so a late "sending" or "sent" cannot hide "delivered".
_PROGRESS = {"accepted": 0, "scheduled": 0, "queued": 0, "sending": 1, SENT: 2, DELIVERED: 3}
_PROGRESS.update(dict.fromkeys(FAILED, 3))

REF_TAKEN = "ref: a participant with this ref already exists"
PHONE_TAKEN = "phone: this number is already enrolled for another participant"
ADDRESS_TAKEN = "address: this address already belongs to another participant"
PROVIDER_ID_TAKEN = "provider_id: this provider id is already recorded for another outbox row"
_E164 = re.compile(r"\+[0-9]{7,15}")


def linked_action(channel: str) -> str:
    """The audit action of a redeemed link code, e.g. ``telegram.linked``."""
    return f"{channel}.linked"


# --- checking input (errors name the field, never echo its value) ---


def _required(value: object, field: str, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field} is required")
    if len(value) > max_length:
        raise ValueError(f"{field} is longer than {max_length} characters")
    return value


def _optional(value: object, field: str, max_length: int) -> str | None:
    return None if value is None else _required(value, field, max_length)


def check_address(channel: str, address: str, status: AddressStatus | str) -> tuple[str, str, AddressStatus]:
    """A channel, an address on it and a status, checked; SMS addresses must be E.164 (+ and digits)."""
    _required(channel, "channel", 32)
    _required(address, "address", 200)
    if channel == SMS and not _E164.fullmatch(address):
        raise ValueError("address: an SMS address must be an E.164 number (+ and 7 to 15 digits)")
    try:
        checked = AddressStatus(status)
    except ValueError:
        raise ValueError(f"status must be one of {[str(v) for v in AddressStatus]}") from None
    return channel, address, checked


@dataclass(frozen=True)
class Sealed:
    """An address as stored: the keyed hash it is found by, and the encrypted address."""

    hash: str
    token: str


def seal_address(keys: Keys, channel: str, address: str) -> Sealed:
    return Sealed(keys.digest(channel, address), keys.seal(address))


@dataclass(frozen=True)
class NewParticipant:
    """An `Enrollment` checked and encoded into rows (name and phone sealed) before any transaction."""

    participant: s.Row  # ref, lang, created_at
    profile: s.Row  # everything but participant_id
    phone: Sealed | None
    at: datetime

    @property
    def ref(self) -> str:
        return str(self.participant["ref"])

    def audit(self) -> s.Row:
        """Who enrolled whom, with which language, coach and channels: never the name or the number."""
        detail = {
            "lang": self.participant["lang"],
            "coach_id": self.profile["coach_id"],
            "channels": [SMS] if self.phone else [],
        }
        return audit_row("admin", ENROLLED, self.ref, self.at, detail)


def new_participant(enrollment: Enrollment, now: datetime, keys: Keys) -> NewParticipant:
    at = s.require_utc(now)
    start = enrollment.start_date
    if start is not None and (isinstance(start, datetime) or not isinstance(start, date)):
        raise ValueError("start_date must be a date (without a time)")
    phone = enrollment.phone
    if phone is not None:
        _required(phone, "phone", 16)
        if not _E164.fullmatch(phone):
            raise ValueError("phone: must be an E.164 number (+ and 7 to 15 digits), normalised before enrolment")
    return NewParticipant(
        participant={
            "ref": _required(enrollment.ref, "ref", 64),
            "lang": _required(enrollment.lang, "lang", 16),
            "created_at": at,
        },
        profile={
            "name": keys.seal(_required(enrollment.name, "name", 200)),
            "start_date": start,
            "coach_id": _optional(enrollment.coach_id, "coach_id", 200),
            "consent_version": None,
            "consent_at": None,
            "cohort": _optional(enrollment.cohort, "cohort", 100),
            "consent_channel": None,
        },
        phone=None if phone is None else seal_address(keys, SMS, phone),
        at=at,
    )


def check_version(version: str) -> str:
    return _required(version, "version", 100)


def check_consent_channel(channel: str | None) -> str | None:
    return _optional(channel, "channel", 32)


def check_digest(code_digest: str) -> str:
    return _required(code_digest, "code_digest", 128)


def check_status(status: str) -> str:
    return _required(status, "status", 32)


# --- rows, records and audit ---


def audit_row(actor: str, action: str, ref: str, at: datetime, detail: Mapping[Any, Any]) -> s.Row:
    return s.audit_row(AuditRecord(actor=actor, action=action, subject=f"participant:{ref}", at=at, detail=detail))


def address_audit(ref: str, channel: str, status: AddressStatus, at: datetime) -> s.Row:
    """The channel and the new status only: never the address."""
    return audit_row("system", ADDRESS_CHANGED, ref, at, {"channel": channel, "status": status.value})


def linked_audit(ref: str, channel: str, at: datetime) -> s.Row:
    return audit_row(f"participant:{ref}", linked_action(channel), ref, at, {"channel": channel})


def consent_audit(ref: str, version: str, channel: str | None, at: datetime) -> s.Row:
    return audit_row(f"participant:{ref}", CONSENT_RECORDED, ref, at, {"version": version, "channel": channel})


def given_up_audit(ref: str, row: Mapping[Any, Any], at: datetime) -> s.Row:
    """Which row, on which channel, after how many attempts: not the reason, which may quote an address."""
    detail = {"outbox_id": row["id"], "channel": row["channel"], "attempts": row["attempts"]}
    return audit_row("system", OUTBOX_GIVEN_UP, ref, at, detail)


def address_row(participant_id: int, channel: str, address: Sealed, status: AddressStatus, at: datetime) -> s.Row:
    return {
        "participant_id": participant_id,
        "channel": channel,
        "address_hash": address.hash,
        "address_enc": address.token,
        "status": status.value,
        "updated_at": at,
    }


def address_changes(current: Mapping[Any, Any] | None, address: Sealed, status: AddressStatus) -> bool:
    """Whether setting (address, status) changes anything: a repeated STOP is not a change."""
    return current is None or current["address_hash"] != address.hash or current["status"] != status.value


def participant_from_row(row: Mapping[Any, Any]) -> Participant:
    return Participant(id=row["id"], ref=row["ref"], lang=row["lang"], created_at=row["created_at"])


def address_from_row(row: Mapping[Any, Any], keys: Keys) -> ChannelAddress:
    return ChannelAddress(
        participant_id=row["participant_id"],
        channel=row["channel"],
        address=keys.open(row["address_enc"]),
        status=AddressStatus(row["status"]),
        updated_at=row["updated_at"],
    )


def profile_from_row(participant: Participant, row: Mapping[Any, Any], keys: Keys) -> Profile:
    return Profile(
        participant=participant,
        name=keys.open(row["name"]),
        start_date=row["start_date"],
        coach_id=row["coach_id"],
        consent_version=row["consent_version"],
        consent_at=row["consent_at"],
        cohort=row["cohort"],
        consent_channel=row["consent_channel"],
    )


def outbox_from_row(row: Mapping[Any, Any]) -> OutboxRow:
    return OutboxRow(
        id=row["id"],
        participant_id=row["participant_id"],
        channel=row["channel"],
        payload=s.load_json(row["payload"]),
        created_at=row["created_at"],
        attempts=row["attempts"],
        priority=Priority(row["priority"]),
    )


def empty_profile(sealed_name: str) -> s.Row:
    """The profile of a participant who was never enrolled (e.g. on the console) when they consent; its name is
    the empty string, sealed like every other (`sealed_name`)."""
    return {"name": sealed_name, "start_date": None, "coach_id": None, "consent_version": None, "consent_at": None,
            "cohort": None, "consent_channel": None}


# --- delivery rules: the columns each report changes on an outbox row (empty: none) ---


def progress(status: str | None) -> int:
    return -1 if status is None else _PROGRESS.get(status, _PROGRESS[SENT])


def delivery_changes(row: Mapping[Any, Any], provider_id: str | None, status: str, at: datetime, detail: str) -> s.Row:
    """What `mark_delivery` changes.

    "sent" on a row not yet sent is a send: ``sent_at``, ``attempts + 1``, status "sent", its detail, and the
    provider id when one is given (a retry's new send replaces the old one's). Any other report records its
    status and detail, unless the row's status is further along (see `_PROGRESS`), and fills in the provider
    id if the row has none; "delivered" also sets a missing ``sent_at``, as the message evidently went out.
    """
    changes: s.Row = {}
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


def defer_changes(row: Mapping[Any, Any], not_before: datetime, detail: str) -> s.Row:
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


def give_up_changes(row: Mapping[Any, Any], at: datetime, detail: str) -> s.Row:
    """What `give_up_outbox` changes: never sent from now on (nothing changes if it was given up already)."""
    if row["given_up_at"] is not None:
        return {}
    return {"given_up_at": at, "delivery_detail": detail or None, "attempts": row["attempts"] + 1}


def to_send(row: Mapping[Any, Any]) -> bool:
    return row["sent_at"] is None and row["given_up_at"] is None


def is_due(row: Mapping[Any, Any], now: datetime | None) -> bool:
    """To send and not deferred past `now` (without a `now`, a deferred row is not due)."""
    not_before = row["not_before"]
    return to_send(row) and (not_before is None or (now is not None and not_before <= now))


def sending_order(row: Mapping[Any, Any]) -> tuple[int, int]:
    return row["priority"], row["id"]


def pending(rows: list[Mapping[Any, Any]], channel: str, limit: int, now: datetime | None,
            only_urgent_for: frozenset[int] = frozenset()) -> list[OutboxRow]:
    """`pending_outbox` over rows in any order (MemoryStorage); the SQL below is the same rule."""
    held: set[int] = set()  # participants with a held row on this channel
    found: list[OutboxRow] = []
    for row in sorted((r for r in rows if r["channel"] == channel and to_send(r)), key=sending_order):
        if len(found) >= limit:
            break
        if row["participant_id"] in held:
            continue
        if not is_due(row, now):
            held.add(row["participant_id"])
        elif row["priority"] == Priority.URGENT or row["participant_id"] not in only_urgent_for:
            found.append(outbox_from_row(row))
    return found


# --- SQL: statements built once ---

_p, _pr, _ad, _lc, _o, _al = s.participants, s.profiles, s.addresses, s.link_codes, s.outbox, s.audit_log
_earlier = _o.alias("earlier")

_PARTICIPANT = select(_p).where(_p.c.id == bindparam("pid"))
_REF_TAKEN = select(_p.c.id).where(_p.c.ref == bindparam("ref"))
_INSERT_PARTICIPANT = insert(_p).returning(*_p.c)
_OWNER = select(_ad.c.participant_id).where(
    _ad.c.channel == bindparam("channel"), _ad.c.address_hash == bindparam("address_hash")
)
_CURRENT_ADDRESS = (
    select(_ad).where(_ad.c.participant_id == bindparam("pid"), _ad.c.channel == bindparam("channel")).with_for_update()
)
_UPDATE_ADDRESS = update(_ad).where(_ad.c.participant_id == bindparam("b_pid"), _ad.c.channel == bindparam("b_channel"))
_HAS_PROFILE = select(_pr.c.participant_id).where(_pr.c.participant_id == bindparam("pid"))
_LINK_CODE = select(_lc).where(_lc.c.code_digest == bindparam("digest"))
_USE_LINK_CODE = update(_lc).where(_lc.c.code_digest == bindparam("b_digest"), _lc.c.used_at.is_(None))
_OUTBOX_ROW = select(_o).where(_o.c.id == bindparam("oid")).with_for_update()
_PROVIDER_OWNER = select(_o.c.id).where(_o.c.provider_id == bindparam("provider_id"))
_OUTBOX_COLUMNS = (_o.c.id, _o.c.participant_id, _o.c.channel, _o.c.payload, _o.c.created_at, _o.c.attempts,
                   _o.c.priority)


def _participant(conn: Connection, participant_id: int) -> Participant | None:
    row = conn.execute(_PARTICIPANT, {"pid": participant_id}).mappings().first()
    return None if row is None else participant_from_row(row)


def _owner(conn: Connection, channel: str, address: Sealed) -> int | None:
    owner = conn.execute(_OWNER, {"channel": channel, "address_hash": address.hash}).scalar()
    return None if owner is None else int(owner)


def _put_address(
    conn: Connection, participant_id: int, channel: str, address: Sealed, status: AddressStatus, at: datetime
) -> bool:
    """Insert or replace the participant's address on `channel`; False if nothing changed. The caller has
    checked that the address is not someone else's."""
    current = conn.execute(_CURRENT_ADDRESS, {"pid": participant_id, "channel": channel}).mappings().first()
    if not address_changes(current, address, status):
        return False
    row = address_row(participant_id, channel, address, status, at)
    if current is None:
        conn.execute(insert(_ad), row)
    else:
        values = {"address_hash": address.hash, "address_enc": address.token, "status": status.value,
                  "updated_at": at}
        conn.execute(_UPDATE_ADDRESS, {"b_pid": participant_id, "b_channel": channel, **values})
    return True


# --- SQL: writes, inside the writer's transaction ---


class ContactOp(ABC):
    """A write queued on the writer and run in queue order inside its transaction.

    Each checks before it writes, so when only its own caller is at fault it returns the exception (having
    written nothing) instead of raising it, and the rest of the batch still commits.
    """

    @abstractmethod
    def run(self, conn: Connection) -> Any: ...


@dataclass(frozen=True)
class Enroll(ContactOp):
    new: NewParticipant

    def run(self, conn: Connection) -> Participant | Exception:
        if conn.execute(_REF_TAKEN, {"ref": self.new.ref}).first() is not None:
            return ValueError(REF_TAKEN)
        if self.new.phone is not None and _owner(conn, SMS, self.new.phone) is not None:
            return ValueError(PHONE_TAKEN)
        participant = participant_from_row(conn.execute(_INSERT_PARTICIPANT, self.new.participant).mappings().one())
        conn.execute(insert(_pr), {"participant_id": participant.id, **self.new.profile})
        if self.new.phone is not None:
            sms = address_row(participant.id, SMS, self.new.phone, AddressStatus.ACTIVE, self.new.at)
            conn.execute(insert(_ad), sms)
        conn.execute(insert(_al), self.new.audit())
        return participant


@dataclass(frozen=True)
class SetAddress(ContactOp):
    participant_id: int
    channel: str
    address: Sealed
    status: AddressStatus
    at: datetime

    def run(self, conn: Connection) -> Exception | None:
        participant = _participant(conn, self.participant_id)
        if participant is None:
            return s.unknown_participant(self.participant_id)
        if _owner(conn, self.channel, self.address) not in (None, self.participant_id):
            return ValueError(ADDRESS_TAKEN)
        if _put_address(conn, self.participant_id, self.channel, self.address, self.status, self.at):
            conn.execute(insert(_al), address_audit(participant.ref, self.channel, self.status, self.at))
        return None


@dataclass(frozen=True)
class AddLinkCode(ContactOp):
    participant_id: int
    code_digest: str
    expires_at: datetime
    at: datetime

    def run(self, conn: Connection) -> Exception | None:
        if _participant(conn, self.participant_id) is None:
            return s.unknown_participant(self.participant_id)
        if conn.execute(_LINK_CODE, {"digest": self.code_digest}).first() is not None:
            return ValueError("code_digest: this code exists already")
        conn.execute(insert(_lc), self.row())
        return None

    def row(self) -> s.Row:
        return {
            "code_digest": self.code_digest,
            "participant_id": self.participant_id,
            "expires_at": self.expires_at,
            "used_at": None,
            "created_at": self.at,
        }


def redeemable(code: Mapping[Any, Any] | None, owner: int | None, at: datetime) -> bool:
    """A code that exists, is unused and unexpired, for an address that is free or already the code owner's."""
    return (
        code is not None
        and code["used_at"] is None
        and code["expires_at"] > at
        and owner in (None, code["participant_id"])
    )


@dataclass(frozen=True)
class RedeemLinkCode(ContactOp):
    code_digest: str
    channel: str
    address: Sealed
    at: datetime

    def run(self, conn: Connection) -> Participant | None:
        code = conn.execute(_LINK_CODE, {"digest": self.code_digest}).mappings().first()
        if code is None or not redeemable(code, _owner(conn, self.channel, self.address), self.at):
            return None
        # The conditional UPDATE is the arbiter, here and on a database with weaker locking.
        if conn.execute(_USE_LINK_CODE, {"b_digest": self.code_digest, "used_at": self.at}).rowcount != 1:
            return None
        participant = _participant(conn, code["participant_id"])
        assert participant is not None  # the foreign key
        _put_address(conn, participant.id, self.channel, self.address, AddressStatus.ACTIVE, self.at)
        conn.execute(insert(_al), linked_audit(participant.ref, self.channel, self.at))
        return participant


@dataclass(frozen=True)
class FirstSighting(ContactOp):
    """Record a message that belongs to no participant; True only the first time (of racing calls, one)."""

    channel: str
    message_id: str
    at: datetime

    def run(self, conn: Connection) -> bool:
        key = {"channel": self.channel, "channel_message_id": self.message_id}
        seen = s.seen_messages
        if conn.execute(select(seen.c.seen_at).filter_by(**key)).first() is not None:
            return False
        conn.execute(insert(seen), {**key, "seen_at": self.at})
        return True


@dataclass(frozen=True)
class ForgetSighting(ContactOp):
    """Undo `FirstSighting` when the message could not be acted on, so its redelivery is."""

    channel: str
    message_id: str

    def run(self, conn: Connection) -> None:
        seen = s.seen_messages
        conn.execute(delete(seen).where(seen.c.channel == self.channel, seen.c.channel_message_id == self.message_id))


@dataclass(frozen=True)
class RecordConsent(ContactOp):
    participant_id: int
    version: str
    channel: str | None
    at: datetime
    sealed_empty_name: str  # the name of a profile made for the consent (never enrolled)

    def run(self, conn: Connection) -> Exception | None:
        participant = _participant(conn, self.participant_id)
        if participant is None:
            return s.unknown_participant(self.participant_id)
        consent = {"consent_version": self.version, "consent_at": self.at, "consent_channel": self.channel}
        if conn.execute(_HAS_PROFILE, {"pid": self.participant_id}).first() is None:
            conn.execute(insert(_pr), {**empty_profile(self.sealed_empty_name), "participant_id": self.participant_id,
                                       **consent})
        else:
            conn.execute(update(_pr).where(_pr.c.participant_id == self.participant_id).values(**consent))
        conn.execute(insert(_al), consent_audit(participant.ref, self.version, self.channel, self.at))
        return None


class _OutboxOp(ContactOp):
    """Reads the row (locked where the database can), decides with the shared rule, writes the changes."""

    outbox_id: int
    at: datetime

    def run(self, conn: Connection) -> Exception | None:
        row = conn.execute(_OUTBOX_ROW, {"oid": self.outbox_id}).mappings().first()
        if row is None:
            return s.UnknownOutboxError(f"outbox row {self.outbox_id} does not exist")
        changes = self.changes(row)
        provider_id = changes.get("provider_id")
        if provider_id is not None:
            other = conn.execute(_PROVIDER_OWNER, {"provider_id": provider_id}).scalar()
            if other is not None and other != self.outbox_id:
                return ValueError(PROVIDER_ID_TAKEN)
        if changes:
            # whatever it was, the sender's lease on it ends (storage/claims.py)
            conn.execute(update(_o).where(_o.c.id == self.outbox_id).values(**changes, claimed_by=None,
                                                                             claimed_until=None))
            self.after(conn, {**row, **changes})
        return None

    @abstractmethod
    def changes(self, row: Mapping[Any, Any]) -> s.Row: ...

    def after(self, conn: Connection, row: Mapping[Any, Any]) -> None:
        pass


@dataclass(frozen=True)
class MarkDelivery(_OutboxOp):
    outbox_id: int
    provider_id: str | None
    status: str
    at: datetime
    detail: str

    def changes(self, row: Mapping[Any, Any]) -> s.Row:
        return delivery_changes(row, self.provider_id, self.status, self.at, self.detail)


@dataclass(frozen=True)
class DeferOutbox(_OutboxOp):
    outbox_id: int
    not_before: datetime
    at: datetime
    detail: str

    def changes(self, row: Mapping[Any, Any]) -> s.Row:
        return defer_changes(row, self.not_before, self.detail)


@dataclass(frozen=True)
class GiveUpOutbox(_OutboxOp):
    outbox_id: int
    at: datetime
    detail: str

    def changes(self, row: Mapping[Any, Any]) -> s.Row:
        return give_up_changes(row, self.at, self.detail)

    def after(self, conn: Connection, row: Mapping[Any, Any]) -> None:
        participant = _participant(conn, row["participant_id"])
        assert participant is not None  # the foreign key
        conn.execute(insert(_al), given_up_audit(participant.ref, row, self.at))


# --- SQL: reads ---


def profile(conn: Connection, participant_id: int, keys: Keys) -> Profile | None:
    query = select(_pr, *_p.c).join_from(_pr, _p, _pr.c.participant_id == _p.c.id).where(_p.c.id == participant_id)
    row = conn.execute(query).mappings().first()
    return None if row is None else profile_from_row(participant_from_row(row), row, keys)


def participants_by_address(conn: Connection, wanted: list[Any]) -> list[Any]:
    """Batched lookups of (channel, address hash) -> Identity | None, one query per channel."""
    by_channel: dict[str, set[str]] = {}
    for channel, digest in wanted:
        by_channel.setdefault(channel, set()).add(digest)
    found: dict[tuple[str, str], Identity] = {}
    for channel, digests in by_channel.items():
        query = (
            select(_ad.c.address_hash, _ad.c.status.label("address_status"), *_p.c)
            .join_from(_ad, _p, _ad.c.participant_id == _p.c.id)
            .where(_ad.c.channel == channel, _ad.c.address_hash.in_(sorted(digests)))
        )
        for row in conn.execute(query).mappings():
            found[(channel, row["address_hash"])] = Identity(participant_from_row(row),
                                                             AddressStatus(row["address_status"]))
    return [found.get((channel, digest)) for channel, digest in wanted]


def addresses_of(conn: Connection, participant_ids: list[Any]) -> list[Any]:
    """Batched lookups of participant id -> their address rows (still sealed: see `address_from_row`), by channel."""
    query = select(_ad).where(_ad.c.participant_id.in_(sorted(set(participant_ids)))).order_by(_ad.c.channel)
    found: dict[int, list[s.Row]] = {}
    for row in conn.execute(query).mappings():
        found.setdefault(row["participant_id"], []).append(dict(row))
    return [list(found.get(pid, ())) for pid in participant_ids]


def check_keys(conn: Connection, keys: Keys) -> None:
    """Refuse keys that are not the ones the data was written with: one stored name and one address must open,
    and the address must hash to its stored hash (a wrong lookup key would find nobody, silently)."""
    name = conn.execute(select(_pr.c.name).limit(1)).scalar()
    if name is not None:
        keys.open(name)
    row = conn.execute(select(_ad.c.channel, _ad.c.address_hash, _ad.c.address_enc).limit(1)).first()
    if row is not None and keys.digest(row.channel, keys.open(row.address_enc)) != row.address_hash:
        raise KeyConfigError(f"stored addresses were hashed with another lookup key than the one from {keys.source}: "
                             f"is {LOOKUP_KEY} the key this database was written with?")


def outbox_by_provider_ids(conn: Connection, provider_ids: list[Any]) -> list[Any]:
    """Batched lookups of provider id -> OutboxRow | None."""
    query = select(*_OUTBOX_COLUMNS, _o.c.provider_id).where(_o.c.provider_id.in_(sorted(set(provider_ids))))
    found = {row["provider_id"]: outbox_from_row(row) for row in conn.execute(query).mappings()}
    return [found.get(provider_id) for provider_id in provider_ids]


def pending_outbox(conn: Connection, channel: str, limit: int, now: datetime | None,
                   only_urgent_for: frozenset[int] = frozenset()) -> list[OutboxRow]:
    """The module docstring's rule: due rows not held back by an earlier held row, in sending order; of the
    participants in `only_urgent_for`, only URGENT rows."""
    o, e = _o, _earlier
    due: ColumnElement[bool]
    held: ColumnElement[bool]
    if now is None:
        due, held = o.c.not_before.is_(None), e.c.not_before.is_not(None)
    else:
        at = bindparam("now", now, type_=s.UTCDateTime)
        due, held = or_(o.c.not_before.is_(None), o.c.not_before <= at), e.c.not_before > at
    held_back = exists().where(
        e.c.participant_id == o.c.participant_id,
        e.c.channel == o.c.channel,
        or_(e.c.priority < o.c.priority, and_(e.c.priority == o.c.priority, e.c.id < o.c.id)),  # before it
        e.c.sent_at.is_(None),
        e.c.given_up_at.is_(None),
        held,
    )
    query = (
        select(*_OUTBOX_COLUMNS)
        .where(and_(o.c.channel == channel, o.c.sent_at.is_(None), o.c.given_up_at.is_(None)), due, ~held_back)
        .order_by(o.c.priority, o.c.id)
        .limit(limit)
    )
    if only_urgent_for:
        others = o.c.participant_id.not_in(sorted(only_urgent_for))
        query = query.where(or_(o.c.priority == int(Priority.URGENT), others))
    return [outbox_from_row(row) for row in conn.execute(query).mappings()]
