"""The directory of people and addresses: enrolment, profiles, channel addresses, Telegram link codes, consent
and sightings of messages from no participant. Writes are `ContactOp`s run in the writer's transaction (durable,
serialized with steps); reads run as single statements or in one read transaction. The rules are in
storage/sql/directory_rows.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from storage.crypto import LOOKUP_KEY, KeyConfigError, Keys
from storage.errors import AlreadyTaken, unknown_participant
from storage.records import AddressStatus, ChannelAddress, Enrollment, Identity, Participant, Profile
from storage.sql import schema as s
from storage.sql.base import StoreBase
from storage.sql.batcher import Kind
from storage.sql.codecs import Row, check_message_id, require_utc
from storage.sql.directory_rows import (
    ADDRESS_TAKEN,
    PHONE_TAKEN,
    REF_TAKEN,
    SMS,
    NewParticipant,
    Sealed,
    address_audit,
    address_changes,
    address_from_row,
    address_row,
    check_address,
    check_consent_channel,
    check_digest,
    check_status,
    check_version,
    consent_audit,
    empty_profile,
    linked_audit,
    new_participant,
    participant_from_row,
    profile_from_row,
    redeemable,
    seal_address,
)

_p, _pr, _ad, _lc, _al = s.participants, s.profiles, s.addresses, s.link_codes, s.audit_log
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
_PROGRAMME_OF = select(_pr.c.programme).where(_pr.c.participant_id == bindparam("pid"))
_HAS_PROFILE = select(_pr.c.participant_id).where(_pr.c.participant_id == bindparam("pid"))
_LINK_CODE = select(_lc).where(_lc.c.code_digest == bindparam("digest"))
_USE_LINK_CODE = update(_lc).where(_lc.c.code_digest == bindparam("b_digest"), _lc.c.used_at.is_(None))


def find_participant(conn: Connection, participant_id: int) -> Participant | None:
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


class ContactOp(ABC):
    """A write queued on the writer and run in queue order inside its transaction.

    Each checks before it writes, so when only its own caller is at fault it returns the exception (having
    written nothing) instead of raising it, and the rest of the batch still commits.
    """

    @abstractmethod
    def run(self, conn: Connection) -> Any: ...


def _programme_of(conn: Connection, participant_id: int) -> str | None:
    return cast(str | None, conn.execute(_PROGRAMME_OF, {"pid": participant_id}).scalar())


@dataclass(frozen=True)
class Enroll(ContactOp):
    new: NewParticipant

    def run(self, conn: Connection) -> Participant | Exception:
        if conn.execute(_REF_TAKEN, {"ref": self.new.ref}).first() is not None:
            return AlreadyTaken(REF_TAKEN)
        if self.new.phone is not None and _owner(conn, SMS, self.new.phone) is not None:
            return AlreadyTaken(PHONE_TAKEN)
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
        participant = find_participant(conn, self.participant_id)
        if participant is None:
            return unknown_participant(self.participant_id)
        if _owner(conn, self.channel, self.address) not in (None, self.participant_id):
            return AlreadyTaken(ADDRESS_TAKEN)
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
        if find_participant(conn, self.participant_id) is None:
            return unknown_participant(self.participant_id)
        if conn.execute(_LINK_CODE, {"digest": self.code_digest}).first() is not None:
            return AlreadyTaken("code_digest: this code exists already")
        conn.execute(insert(_lc), self.row())
        return None

    def row(self) -> Row:
        return {
            "code_digest": self.code_digest,
            "participant_id": self.participant_id,
            "expires_at": self.expires_at,
            "used_at": None,
            "created_at": self.at,
        }


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
        participant = find_participant(conn, code["participant_id"])
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
        participant = find_participant(conn, self.participant_id)
        if participant is None:
            return unknown_participant(self.participant_id)
        consent = {"consent_version": self.version, "consent_at": self.at, "consent_channel": self.channel}
        if conn.execute(_HAS_PROFILE, {"pid": self.participant_id}).first() is None:
            conn.execute(insert(_pr), {**empty_profile(self.sealed_empty_name), "participant_id": self.participant_id,
                                       **consent})
        else:
            conn.execute(update(_pr).where(_pr.c.participant_id == self.participant_id).values(**consent))
        conn.execute(insert(_al), consent_audit(participant.ref, self.version, self.channel, self.at))
        return None


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
    found: dict[int, list[Row]] = {}
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


def write_contact_ops(conn: Connection, payloads: list[Any]) -> list[Any]:
    return [cast(ContactOp, op).run(conn) for op in payloads]


class DirectoryMethods(StoreBase):
    """The `Directory` port."""

    async def enroll(self, enrollment: Enrollment, now: datetime) -> Participant:
        """Create the participant, their profile and (given a phone) their active SMS address, in one transaction.

        Raises AlreadyTaken, naming the field but never echoing it, when the ref or the phone number is taken."""
        new = new_participant(enrollment, now, self._keys)
        return cast(Participant, await self._writer.submit(Kind.CONTACT, Enroll(new)))

    async def profile(self, participant_id: int) -> Profile | None:
        async with self._connect() as conn:
            return await conn.run_sync(profile, participant_id, self._keys)

    async def programme_of(self, participant_id: int) -> str | None:
        return await self.lookup(_programme_of, participant_id)  # a person's first message: on the hot path

    async def programme_choices(self) -> dict[int, str]:
        query = select(_pr.c.participant_id, _pr.c.programme).where(_pr.c.programme.is_not(None))
        async with self._connect() as conn:
            return {int(pid): str(chosen) for pid, chosen in await conn.execute(query)}

    async def participant_ids(self, coach_id: str | None = None, *, without_coach: bool = False) -> list[int]:
        """Enrolled participants (those with a profile), of one coach or all (or those without a coach), in
        enrolment order."""
        query = select(s.profiles.c.participant_id).order_by(s.profiles.c.participant_id)
        if coach_id is not None:
            query = query.where(s.profiles.c.coach_id == coach_id)
        if without_coach:
            query = query.where(s.profiles.c.coach_id.is_(None))
        async with self._connect() as conn:
            return [int(pid) for pid in (await conn.execute(query)).scalars()]

    async def participant_by_address(self, channel: str, address: str) -> Participant | None:
        """Whoever the address belongs to, whatever its status (see `addresses` for that); found by its keyed hash."""
        found = await self.identify(channel, address)
        return None if found is None else found.participant

    async def first_sighting(self, channel: str, message_id: str, at: datetime) -> bool:
        op = FirstSighting(check_status(channel), check_message_id(message_id), require_utc(at))
        return cast(bool, await self._writer.submit(Kind.CONTACT, op))

    async def forget_sighting(self, channel: str, message_id: str) -> None:
        await self._writer.submit(Kind.CONTACT, ForgetSighting(channel, message_id))

    async def identify(self, channel: str, address: str) -> Identity | None:
        wanted = (channel, self._keys.digest(channel, address))
        return cast(Identity | None, await self._reader.submit(Kind.READ_BY_ADDRESS, wanted))

    async def addresses(self, participant_id: int) -> list[ChannelAddress]:
        """The participant's addresses, by channel (decrypted)."""
        rows = cast(list[Row], await self._reader.submit(Kind.READ_ADDRESSES, participant_id))
        return [address_from_row(row, self._keys) for row in rows]

    async def set_address(
        self, participant_id: int, channel: str, address: str, status: AddressStatus, at: datetime
    ) -> None:
        """Add or replace the participant's address on `channel`; audited ("address.changed") when it changes.

        Raises AlreadyTaken when the address belongs to another participant, UnknownParticipantError for an
        unknown id."""
        channel, address, status = check_address(channel, address, status)
        sealed = seal_address(self._keys, channel, address)
        op = SetAddress(participant_id, channel, sealed, status, require_utc(at))
        await self._writer.submit(Kind.CONTACT, op)

    async def add_link_code(self, participant_id: int, code_digest: str, expires_at: datetime, at: datetime) -> None:
        op = AddLinkCode(participant_id, check_digest(code_digest), require_utc(expires_at), require_utc(at))
        await self._writer.submit(Kind.CONTACT, op)

    async def redeem_link_code(self, code_digest: str, channel: str, address: str, at: datetime) -> Participant | None:
        """Use the code once (of racing calls exactly one succeeds). None, changing nothing, for a code that is
        unknown, used or expired (``expires_at <= at``), or an address that belongs to another participant."""
        channel, address, _ = check_address(channel, address, AddressStatus.ACTIVE)
        op = RedeemLinkCode(code_digest, channel, seal_address(self._keys, channel, address), require_utc(at))
        return cast(Participant | None, await self._writer.submit(Kind.CONTACT, op))

    async def record_consent(self, participant_id: int, version: str, at: datetime, channel: str | None = None) -> None:
        """Set the profile's consent version, time and channel (a participant never enrolled gets a profile
        without a name); audited with the version and channel."""
        op = RecordConsent(participant_id, check_version(version), check_consent_channel(channel),
                              require_utc(at), self._keys.seal(""))
        await self._writer.submit(Kind.CONTACT, op)
