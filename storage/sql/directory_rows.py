"""The directory's rules: enrolment, addresses, link codes and consent checked and encoded before any
transaction, their audit entries, and rows decoded into records.

Names, phone numbers and Telegram chat ids never reach the audit log or an error message: audit details carry
channels, statuses, versions and ids only. At rest they are sealed tokens (storage/crypto.py): an address is
`Sealed` (its keyed hash, which finds it, and its token) before any transaction, and a name is sealed with it, so the
SQL never sees a plaintext address or name and needs no key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from storage.crypto import Keys
from storage.errors import InvalidRecord
from storage.records import AddressStatus, AuditRecord, ChannelAddress, Enrollment, Participant, Profile
from storage.sql.codecs import Row, require_utc
from storage.sql.rows import audit_row

ENROLLED = "participant.enrolled"
ADDRESS_CHANGED = "address.changed"
CONSENT_RECORDED = "consent.recorded"
SMS = "sms"
REF_TAKEN = "ref: a participant with this ref already exists"
PHONE_TAKEN = "phone: this number is already enrolled for another participant"
ADDRESS_TAKEN = "address: this address already belongs to another participant"
_E164 = re.compile(r"\+[0-9]{7,15}")


def linked_action(channel: str) -> str:
    """The audit action of a redeemed link code, e.g. ``telegram.linked``."""
    return f"{channel}.linked"


def _required(value: object, field: str, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRecord(f"{field} is required")
    if len(value) > max_length:
        raise InvalidRecord(f"{field} is longer than {max_length} characters")
    return value


def _optional(value: object, field: str, max_length: int) -> str | None:
    return None if value is None else _required(value, field, max_length)


def check_address(channel: str, address: str, status: AddressStatus | str) -> tuple[str, str, AddressStatus]:
    """A channel, an address on it and a status, checked; SMS addresses must be E.164 (+ and digits)."""
    _required(channel, "channel", 32)
    _required(address, "address", 200)
    if channel == SMS and not _E164.fullmatch(address):
        raise InvalidRecord("address: an SMS address must be an E.164 number (+ and 7 to 15 digits)")
    try:
        checked = AddressStatus(status)
    except ValueError:
        raise InvalidRecord(f"status must be one of {[str(v) for v in AddressStatus]}") from None
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

    participant: Row  # ref, lang, created_at
    profile: Row  # everything but participant_id
    phone: Sealed | None
    at: datetime

    @property
    def ref(self) -> str:
        return str(self.participant["ref"])

    def audit(self) -> Row:
        """Who enrolled whom, with which language, coach, channels and programme (when one was chosen): never the
        name or the number."""
        detail = {
            "lang": self.participant["lang"],
            "coach_id": self.profile["coach_id"],
            "channels": [SMS] if self.phone else [],
            **({"programme": self.profile["programme"]} if self.profile["programme"] else {}),
        }
        return participant_audit("admin", ENROLLED, self.ref, self.at, detail)


def new_participant(enrollment: Enrollment, now: datetime, keys: Keys) -> NewParticipant:
    at = require_utc(now)
    start = enrollment.start_date
    if start is not None and (isinstance(start, datetime) or not isinstance(start, date)):
        raise InvalidRecord("start_date must be a date (without a time)")
    phone = enrollment.phone
    if phone is not None:
        _required(phone, "phone", 16)
        if not _E164.fullmatch(phone):
            raise InvalidRecord("phone: must be an E.164 number (+ and 7 to 15 digits), normalised before enrolment")
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
            "programme": _optional(enrollment.programme, "programme", 100),
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


def participant_audit(actor: str, action: str, ref: str, at: datetime, detail: Mapping[Any, Any]) -> Row:
    return audit_row(AuditRecord(actor=actor, action=action, subject=f"participant:{ref}", at=at, detail=detail))


def address_audit(ref: str, channel: str, status: AddressStatus, at: datetime) -> Row:
    """The channel and the new status only: never the address."""
    return participant_audit("system", ADDRESS_CHANGED, ref, at, {"channel": channel, "status": status.value})


def linked_audit(ref: str, channel: str, at: datetime) -> Row:
    return participant_audit(f"participant:{ref}", linked_action(channel), ref, at, {"channel": channel})


def consent_audit(ref: str, version: str, channel: str | None, at: datetime) -> Row:
    return participant_audit(f"participant:{ref}", CONSENT_RECORDED, ref, at, {"version": version, "channel": channel})


def address_row(participant_id: int, channel: str, address: Sealed, status: AddressStatus, at: datetime) -> Row:
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
        programme=row["programme"],
    )


def empty_profile(sealed_name: str) -> Row:
    """The profile of a participant who was never enrolled (e.g. on the console) when they consent; its name is
    the empty string, sealed like every other (`sealed_name`)."""
    return {"name": sealed_name, "start_date": None, "coach_id": None, "consent_version": None, "consent_at": None,
            "cohort": None, "consent_channel": None, "programme": None}


def redeemable(code: Mapping[Any, Any] | None, owner: int | None, at: datetime) -> bool:
    """A code that exists, is unused and unexpired, for an address that is free or already the code owner's."""
    return (
        code is not None
        and code["used_at"] is None
        and code["expires_at"] > at
        and owner in (None, code["participant_id"])
    )
