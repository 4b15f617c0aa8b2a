"""Enrolment, channel addresses, Telegram link codes, consent and outbox delivery in storage (issue 4).

The contract tests run against every `Storage` (SQLite with each runner on a real file); the
tests at the end are SQLite-only: migration 3, indexes, constraints and transactions.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import IntegrityError

from storage import (
    AddressChange,
    AddressStatus,
    ChannelAddress,
    CommitStatus,
    ConsentChange,
    Enrollment,
    EscalationRecord,
    Identity,
    InboundRecord,
    OutboundRecord,
    OutboxRow,
    Participant,
    SqlStorage,
    StepRecord,
    UnknownOutboxError,
    UnknownParticipantError,
    open_storage,
)
from storage.legacy_migrations import MIGRATIONS
from storage.upgrade import current, head

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
SCHEMA_V1 = Path(__file__).with_name("schema_v1.sql")
SCHEMA_V2 = Path(__file__).with_name("schema_v2.sql")
NAME = "Mette Kirstine Sørensen"  # personal data: never in the audit log or an error message
PHONE = "+4520123456"
OTHER_PHONE = "+4520654321"
CHAT = "987654321"  # a Telegram chat id
ACTIVE, OPTED_OUT, UNREACHABLE = AddressStatus.ACTIVE, AddressStatus.OPTED_OUT, AddressStatus.UNREACHABLE


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def enrollment(ref: str = "p-anna", phone: str | None = PHONE, **kw: Any) -> Enrollment:
    return Enrollment(ref=ref, name=kw.pop("name", NAME), lang=kw.pop("lang", "da"), phone=phone, **kw)


async def enrolled(store: SqlStorage, ref: str = "p-anna", phone: str | None = PHONE, **kw: Any) -> Participant:
    return await store.enroll(enrollment(ref, phone, **kw), T0)


async def queue(store: SqlStorage, pid: int, *channels: str, rev: int = 0) -> tuple[int, ...]:
    """Commit a step for `pid` whose outbox has one message per channel given; returns the outbox ids."""
    outbox = [OutboundRecord(channel, {"text": f"m{i}"}, T0) for i, channel in enumerate(channels)]
    result = await store.commit_step(StepRecord(pid, rev, {"rev": rev}, T0, outbox=outbox))
    assert result.status is CommitStatus.COMMITTED
    return result.outbox_ids


async def pending_ids(store: SqlStorage, channel: str = "sms", now: datetime | None = None,
                      limit: int = 100) -> list[int]:
    return [row.id for row in await store.pending_outbox(channel, limit, now=now)]


async def delivery(store: SqlStorage, outbox_id: int) -> dict[str, Any]:
    """The delivery columns of one outbox row (no method returns them: they are for people and tools)."""
    columns = ("sent_at", "attempts", "provider_id", "delivery_status", "delivery_detail", "not_before", "given_up_at")
    async with store.engine.connect() as conn:
        found = (await conn.execute(text(f"SELECT {', '.join(columns)} FROM outbox WHERE id = :id"), {"id": outbox_id}))
        raw = dict(found.mappings().one())
    for c in ("sent_at", "not_before", "given_up_at"):  # ISO text on SQLite, timestamptz on PostgreSQL
        raw[c] = raw[c] if raw[c] is None or isinstance(raw[c], datetime) else datetime.fromisoformat(raw[c])
    return raw


async def audit_rows(store: SqlStorage) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(actor, action, subject, detail), oldest first."""
    return [(e.actor, e.action, e.subject, dict(e.detail)) for e in reversed(await store.audit_entries())]


async def everything(store: SqlStorage, *pids: int) -> tuple[Any, ...]:
    """What the contact methods can observe, to show that a refused call changed nothing."""
    return (
        [await store.profile(pid) for pid in pids],
        [await store.addresses(pid) for pid in pids],
        await store.audit_entries(),
    )


# --- enrolment ---


async def test_enroll_creates_participant_profile_and_active_sms_address(store: SqlStorage) -> None:
    participant = await store.enroll(
        enrollment(start_date=date(2026, 11, 23), coach_id="coach-ida", lang="en"), at(1)
    )
    assert (participant.ref, participant.lang, participant.created_at) == ("p-anna", "en", at(1))
    profile = await store.profile(participant.id)
    assert profile is not None
    assert profile.participant == participant
    assert (profile.name, profile.start_date, profile.coach_id) == (NAME, date(2026, 11, 23), "coach-ida")
    assert (profile.consent_version, profile.consent_at) == (None, None)
    assert await store.addresses(participant.id) == [ChannelAddress(participant.id, "sms", PHONE, ACTIVE, at(1))]
    assert await store.participant_by_address("sms", PHONE) == participant
    # The same participant as everywhere else: found by ref, with a conversation to start.
    assert await store.get_or_create_participant("p-anna", "da", at(2)) == participant
    assert (await store.load_conversation(participant.id)).revision == 0
    assert await audit_rows(store) == [
        ("admin", "participant.enrolled", "participant:p-anna", {"lang": "en", "coach_id": "coach-ida",
                                                                 "channels": ["sms"]}),
    ]


async def test_enroll_without_a_phone_has_no_address(store: SqlStorage) -> None:
    participant = await enrolled(store, phone=None)
    assert await store.addresses(participant.id) == []
    profile = await store.profile(participant.id)
    assert profile is not None and (profile.start_date, profile.coach_id) == (None, None)
    assert (await store.audit_entries())[0].detail == {"lang": "da", "coach_id": None, "channels": []}


async def test_enroll_refuses_a_taken_ref_or_phone_and_writes_nothing(store: SqlStorage) -> None:
    first = await enrolled(store)
    before = await everything(store, first.id)
    with pytest.raises(ValueError, match="ref") as taken_ref:
        await store.enroll(enrollment("p-anna", OTHER_PHONE, name="Someone Else"), at(1))
    with pytest.raises(ValueError, match="phone") as taken_phone:
        await store.enroll(enrollment("p-bo", PHONE, name="Someone Else"), at(1))
    for error in (taken_ref, taken_phone):
        assert PHONE not in str(error.value) and OTHER_PHONE not in str(error.value) and NAME not in str(error.value)
    assert await everything(store, first.id) == before
    assert await store.participant_by_address("sms", OTHER_PHONE) is None
    # Neither refused enrolment left anything behind: the ref and the other number are still free.
    second = await store.enroll(enrollment("p-bo", OTHER_PHONE), at(2))
    assert second.id != first.id
    assert await store.participant_by_address("sms", OTHER_PHONE) == second


async def test_a_participant_created_by_a_conversation_cannot_be_enrolled_under_its_ref(store: SqlStorage) -> None:
    await store.get_or_create_participant("p-console", "da", T0)
    with pytest.raises(ValueError, match="ref"):
        await store.enroll(enrollment("p-console"), T0)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phone": "20123456"}, "phone"),  # not normalised
        ({"phone": "+45 20 12 34 56"}, "phone"),
        ({"name": "  "}, "name"),
        ({"ref": ""}, "ref"),
        ({"lang": ""}, "lang"),
        ({"start_date": datetime(2026, 11, 23, 9, tzinfo=UTC)}, "start_date"),
    ],
)
async def test_enroll_checks_its_input_without_echoing_it(store: SqlStorage, change: dict[str, Any],
                                                           field: str) -> None:
    values: dict[str, Any] = {"ref": "p-anna", "name": NAME, "lang": "da", "phone": PHONE, **change}
    with pytest.raises(ValueError, match=field) as refused:
        await store.enroll(Enrollment(**values), T0)
    assert "20123456" not in str(refused.value).replace(" ", "")
    assert await store.audit_entries() == []


async def test_enroll_refuses_naive_datetimes(store: SqlStorage) -> None:
    with pytest.raises(ValueError, match="naive"):
        await store.enroll(enrollment(), datetime(2025, 3, 3, 8, 0))


async def test_racing_enrolments_of_one_ref_or_one_phone_exactly_one_wins(store: SqlStorage) -> None:
    same_ref = await asyncio.gather(
        *(store.enroll(enrollment("p-race", f"+45301000{i:02d}"), T0) for i in range(20)), return_exceptions=True
    )
    assert sum(isinstance(r, Participant) for r in same_ref) == 1
    assert all(isinstance(r, ValueError) and "ref" in str(r) for r in same_ref if not isinstance(r, Participant))
    same_phone = await asyncio.gather(
        *(store.enroll(enrollment(f"p-{i}", OTHER_PHONE), T0) for i in range(20)), return_exceptions=True
    )
    winners = [r for r in same_phone if isinstance(r, Participant)]
    assert len(winners) == 1 and await store.participant_by_address("sms", OTHER_PHONE) == winners[0]
    assert all(isinstance(r, ValueError) and "phone" in str(r) for r in same_phone if r is not winners[0])
    assert len(await store.audit_entries()) == 2


# --- addresses ---


async def test_participant_by_address_whatever_the_status(store: SqlStorage) -> None:
    anna = await enrolled(store)
    assert await store.participant_by_address("sms", OTHER_PHONE) is None
    assert await store.participant_by_address("telegram", PHONE) is None  # channels are separate
    for status in (OPTED_OUT, UNREACHABLE, ACTIVE):
        await store.set_address(anna.id, "sms", PHONE, status, at(1))
        assert await store.participant_by_address("sms", PHONE) == anna
        assert [a.status for a in await store.addresses(anna.id)] == [status]


async def test_identify_gives_the_participant_and_the_address_status_in_one_read(store: SqlStorage) -> None:
    anna = await enrolled(store)
    assert await store.identify("sms", OTHER_PHONE) is None
    for status in (OPTED_OUT, UNREACHABLE, ACTIVE):
        await store.set_address(anna.id, "sms", PHONE, status, at(1))
        assert await store.identify("sms", PHONE) == Identity(anna, status)


async def test_a_steps_address_and_consent_changes_commit_with_it_and_only_with_it(store: SqlStorage) -> None:
    """STOP over SMS and the terms accepted are written in the step's transaction: a duplicate or conflicting
    step (a retried webhook, another process) changes neither."""
    anna = await enrolled(store)
    inbound = InboundRecord("sms", "SM-stop", at(2))
    step = StepRecord(anna.id, 0, {"lang": "da"}, at(2), inbound=inbound,
                      address=AddressChange("sms", PHONE, OPTED_OUT), consent=ConsentChange("terms-1", "sms"))
    assert (await store.commit_step(step)).status is CommitStatus.COMMITTED
    assert await store.identify("sms", PHONE) == Identity(anna, OPTED_OUT)
    profile = await store.profile(anna.id)
    assert profile is not None and (profile.consent_version, profile.consent_channel) == ("terms-1", "sms")
    await store.set_address(anna.id, "sms", PHONE, ACTIVE, at(3))  # START meanwhile
    again = StepRecord(anna.id, 1, {"lang": "da"}, at(4), inbound=inbound,  # the same webhook once more
                       address=AddressChange("sms", PHONE, OPTED_OUT), consent=ConsentChange("terms-0", "sms"))
    assert (await store.commit_step(again)).status is CommitStatus.DUPLICATE
    stale = StepRecord(anna.id, 0, {"lang": "da"}, at(4), address=AddressChange("sms", PHONE, OPTED_OUT))
    assert (await store.commit_step(stale)).status is CommitStatus.CONFLICT
    assert await store.identify("sms", PHONE) == Identity(anna, ACTIVE)
    profile = await store.profile(anna.id)
    assert profile is not None and profile.consent_version == "terms-1"


async def test_a_message_of_no_participant_is_seen_once_unless_forgotten(store: SqlStorage) -> None:
    assert await store.first_sighting("telegram", "1001", at(1)) is True
    assert await store.first_sighting("telegram", "1001", at(2)) is False  # redelivered
    assert await store.first_sighting("sms", "1001", at(2)) is True  # channels are separate
    await store.forget_sighting("telegram", "1001")  # acting on it failed: the redelivery is acted on
    assert await store.first_sighting("telegram", "1001", at(3)) is True
    racing = await asyncio.gather(*(store.first_sighting("telegram", "2002", at(4)) for _ in range(10)))
    assert sorted(racing) == [False] * 9 + [True]


async def test_opt_out_and_back_in_round_trip_and_audit_only_changes(store: SqlStorage) -> None:
    anna = await enrolled(store)
    await store.set_address(anna.id, "sms", PHONE, OPTED_OUT, at(10))
    await store.set_address(anna.id, "sms", PHONE, OPTED_OUT, at(11))  # a second STOP changes nothing
    assert await store.addresses(anna.id) == [ChannelAddress(anna.id, "sms", PHONE, OPTED_OUT, at(10))]
    await store.set_address(anna.id, "sms", PHONE, ACTIVE, at(20))
    assert await store.addresses(anna.id) == [ChannelAddress(anna.id, "sms", PHONE, ACTIVE, at(20))]
    assert (await audit_rows(store))[1:] == [
        ("system", "address.changed", "participant:p-anna", {"channel": "sms", "status": "opted_out"}),
        ("system", "address.changed", "participant:p-anna", {"channel": "sms", "status": "active"}),
    ]


async def test_one_address_per_channel_and_a_new_one_replaces_the_old(store: SqlStorage) -> None:
    anna = await enrolled(store)
    await store.set_address(anna.id, "telegram", CHAT, ACTIVE, at(1))
    await store.set_address(anna.id, "sms", OTHER_PHONE, ACTIVE, at(2))  # a new number
    assert await store.addresses(anna.id) == [
        ChannelAddress(anna.id, "sms", OTHER_PHONE, ACTIVE, at(2)),
        ChannelAddress(anna.id, "telegram", CHAT, ACTIVE, at(1)),
    ]
    assert await store.participant_by_address("sms", PHONE) is None  # the old number is free again
    assert await store.participant_by_address("sms", OTHER_PHONE) == anna
    bo = await enrolled(store, "p-bo", PHONE)
    assert await store.participant_by_address("sms", PHONE) == bo
    details = [detail for _, action, _, detail in await audit_rows(store) if action == "address.changed"]
    assert details == [{"channel": "telegram", "status": "active"}, {"channel": "sms", "status": "active"}]


async def test_an_address_of_another_participant_is_refused(store: SqlStorage) -> None:
    anna, bo = await enrolled(store), await enrolled(store, "p-bo", OTHER_PHONE)
    before = await everything(store, anna.id, bo.id)
    with pytest.raises(ValueError, match="another participant") as refused:
        await store.set_address(bo.id, "sms", PHONE, ACTIVE, at(1))
    assert PHONE not in str(refused.value)
    assert await everything(store, anna.id, bo.id) == before


async def test_set_address_checks_its_input(store: SqlStorage) -> None:
    anna = await enrolled(store)
    with pytest.raises(UnknownParticipantError):
        await store.set_address(999, "telegram", CHAT, ACTIVE, T0)
    with pytest.raises(ValueError, match=r"E\.164") as refused:
        await store.set_address(anna.id, "sms", "20654321", ACTIVE, T0)
    assert "20654321" not in str(refused.value)
    with pytest.raises(ValueError, match="status"):
        await store.set_address(anna.id, "telegram", CHAT, "paused", T0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="address"):
        await store.set_address(anna.id, "telegram", "", ACTIVE, T0)
    with pytest.raises(ValueError, match="naive"):
        await store.set_address(anna.id, "telegram", CHAT, ACTIVE, datetime(2025, 3, 3))
    assert [a.channel for a in await store.addresses(anna.id)] == ["sms"]


# --- Telegram link codes ---


async def test_a_link_code_links_once(store: SqlStorage) -> None:
    anna = await enrolled(store)
    await store.add_link_code(anna.id, "digest-1", at(3600), T0)
    assert await store.redeem_link_code("digest-1", "telegram", CHAT, at(60)) == anna
    assert await store.participant_by_address("telegram", CHAT) == anna
    assert await store.addresses(anna.id) == [
        ChannelAddress(anna.id, "sms", PHONE, ACTIVE, T0),
        ChannelAddress(anna.id, "telegram", CHAT, ACTIVE, at(60)),
    ]
    before = await everything(store, anna.id)
    assert await store.redeem_link_code("digest-1", "telegram", CHAT, at(61)) is None  # used
    assert await store.redeem_link_code("digest-1", "telegram", "555", at(62)) is None
    assert await everything(store, anna.id) == before
    assert (await audit_rows(store))[-1] == (
        "participant:p-anna", "telegram.linked", "participant:p-anna", {"channel": "telegram"}
    )


async def test_unknown_and_expired_codes_change_nothing(store: SqlStorage) -> None:
    anna = await enrolled(store)
    await store.add_link_code(anna.id, "digest-1", at(3600), T0)
    before = await everything(store, anna.id)
    assert await store.redeem_link_code("no-such-digest", "telegram", CHAT, at(1)) is None
    assert await store.redeem_link_code("digest-1", "telegram", CHAT, at(3600)) is None  # expires_at <= at
    assert await store.redeem_link_code("digest-1", "telegram", CHAT, at(7200)) is None
    assert await everything(store, anna.id) == before
    assert await store.redeem_link_code("digest-1", "telegram", CHAT, at(3599)) == anna  # still unused


async def test_a_code_for_an_address_of_someone_else_changes_nothing_and_stays_usable(store: SqlStorage) -> None:
    anna, bo = await enrolled(store), await enrolled(store, "p-bo", OTHER_PHONE)
    await store.set_address(bo.id, "telegram", CHAT, ACTIVE, T0)
    await store.add_link_code(anna.id, "digest-anna", at(3600), T0)
    before = await everything(store, anna.id, bo.id)
    assert await store.redeem_link_code("digest-anna", "telegram", CHAT, at(1)) is None
    assert await everything(store, anna.id, bo.id) == before
    assert await store.redeem_link_code("digest-anna", "telegram", "111", at(2)) == anna


async def test_relinking_replaces_the_old_chat_and_reactivates(store: SqlStorage) -> None:
    anna = await enrolled(store)
    await store.set_address(anna.id, "telegram", CHAT, UNREACHABLE, T0)  # had blocked the bot
    await store.add_link_code(anna.id, "d1", at(3600), T0)
    await store.add_link_code(anna.id, "d2", at(3600), T0)
    assert await store.redeem_link_code("d1", "telegram", CHAT, at(1)) == anna  # the same chat: active again
    assert [(a.address, a.status) for a in await store.addresses(anna.id) if a.channel == "telegram"] == [
        (CHAT, ACTIVE)
    ]
    assert await store.redeem_link_code("d2", "telegram", "222", at(2)) == anna  # a new account replaces it
    assert await store.participant_by_address("telegram", CHAT) is None
    assert await store.participant_by_address("telegram", "222") == anna


async def test_twenty_racing_redeems_of_one_code_exactly_one_wins(store: SqlStorage) -> None:
    anna = await enrolled(store)
    await store.add_link_code(anna.id, "digest-1", at(3600), T0)
    results = await asyncio.gather(
        *(store.redeem_link_code("digest-1", "telegram", f"chat-{i}", at(1)) for i in range(20))
    )
    winners = [i for i, r in enumerate(results) if r is not None]
    assert len(winners) == 1 and results[winners[0]] == anna
    assert [a.address for a in await store.addresses(anna.id) if a.channel == "telegram"] == [f"chat-{winners[0]}"]
    assert [action for _, action, _, _ in await audit_rows(store)].count("telegram.linked") == 1
    # The same person pressing /start twenty times: linked once.
    await store.add_link_code(anna.id, "digest-2", at(3600), T0)
    again = await asyncio.gather(*(store.redeem_link_code("digest-2", "telegram", CHAT, at(2)) for _ in range(20)))
    assert again.count(anna) == 1 and again.count(None) == 19


async def test_add_link_code_checks(store: SqlStorage) -> None:
    anna = await enrolled(store)
    with pytest.raises(UnknownParticipantError):
        await store.add_link_code(999, "digest-1", at(3600), T0)
    await store.add_link_code(anna.id, "digest-1", at(3600), T0)
    with pytest.raises(ValueError, match="exists"):
        await store.add_link_code(anna.id, "digest-1", at(7200), T0)
    with pytest.raises(ValueError, match="code_digest"):
        await store.add_link_code(anna.id, "", at(3600), T0)
    assert await store.redeem_link_code("digest-1", "telegram", CHAT, at(3599)) == anna  # the first expiry holds


# --- consent and profiles ---


async def test_consent_is_recorded_on_the_profile_and_audited_with_its_version(store: SqlStorage) -> None:
    anna = await enrolled(store)
    await store.record_consent(anna.id, "terms-2025-01", at(5), "sms")
    profile = await store.profile(anna.id)
    assert profile is not None and (profile.consent_version, profile.consent_at) == ("terms-2025-01", at(5))
    assert (profile.name, profile.consent_channel) == (NAME, "sms")
    await store.record_consent(anna.id, "terms-2025-06", at(9), "telegram")
    profile = await store.profile(anna.id)
    assert profile is not None and (profile.consent_version, profile.consent_at) == ("terms-2025-06", at(9))
    assert profile.consent_channel == "telegram"
    await store.record_consent(anna.id, "terms-2025-07", at(10))  # e.g. on paper, recorded by an administrator
    profile = await store.profile(anna.id)
    assert profile is not None and (profile.consent_version, profile.consent_channel) == ("terms-2025-07", None)
    assert [(actor, action, detail) for actor, action, _, detail in await audit_rows(store)][1:] == [
        ("participant:p-anna", "consent.recorded", {"version": "terms-2025-01", "channel": "sms"}),
        ("participant:p-anna", "consent.recorded", {"version": "terms-2025-06", "channel": "telegram"}),
        ("participant:p-anna", "consent.recorded", {"version": "terms-2025-07", "channel": None}),
    ]


async def test_consent_of_a_participant_never_enrolled_gets_a_profile_without_a_name(store: SqlStorage) -> None:
    console = await store.get_or_create_participant("p-console", "da", T0)
    assert await store.profile(console.id) is None
    await store.record_consent(console.id, "terms-1", at(1))
    profile = await store.profile(console.id)
    assert profile is not None
    assert (profile.participant, profile.name, profile.start_date, profile.coach_id) == (console, "", None, None)
    assert (profile.consent_version, profile.consent_at) == ("terms-1", at(1))


async def test_consent_and_profile_checks(store: SqlStorage) -> None:
    anna = await enrolled(store)
    assert await store.profile(999) is None
    with pytest.raises(UnknownParticipantError):
        await store.record_consent(999, "terms-1", T0)
    with pytest.raises(ValueError, match="version"):
        await store.record_consent(anna.id, " ", T0)
    profile = await store.profile(anna.id)
    assert profile is not None and profile.consent_version is None


# --- the outbox: pacing, retries, giving up, delivery reports ---


async def test_pending_rows_carry_their_attempts_and_deferred_rows_wait_until_due(store: SqlStorage) -> None:
    anna = await enrolled(store)
    first, second = await queue(store, anna.id, "sms", "sms")
    rows = await store.pending_outbox("sms")
    assert [(r.id, r.attempts) for r in rows] == [(first, 0), (second, 0)]
    await store.defer_outbox(first, at(30), at(1), "HTTP 503")
    assert await pending_ids(store) == []  # without `now` a deferred row is never due...
    assert await pending_ids(store, now=at(29)) == []  # ...and it holds back the later message
    assert await pending_ids(store, now=at(30)) == [first, second]  # due again, in order
    [row, _] = await store.pending_outbox("sms", now=at(30))
    assert row.attempts == 1 and row.payload == {"text": "m0"}
    await store.defer_outbox(first, at(90), at(31), "HTTP 429")
    state = await delivery(store, first)
    assert (state["attempts"], state["not_before"], state["delivery_detail"], state["sent_at"]) == (
        2, at(90), "HTTP 429", None
    )
    await store.mark_delivery(first, "SM-1", "sent", at(90))
    assert await pending_ids(store, now=at(90)) == [second]
    assert (await delivery(store, first))["attempts"] == 3


async def test_a_deferred_row_holds_back_only_its_participant_on_its_channel(store: SqlStorage) -> None:
    anna, bo = await enrolled(store), await enrolled(store, "p-bo", OTHER_PHONE)
    a1, a_tg, a2 = await queue(store, anna.id, "sms", "telegram", "sms")
    (b1,) = await queue(store, bo.id, "sms")
    await store.defer_outbox(a1, at(60), T0)
    assert await pending_ids(store, now=at(1)) == [b1]
    assert await pending_ids(store, now=at(1), limit=1) == [b1]  # the limit counts what is returned
    assert await pending_ids(store, "telegram", now=at(1)) == [a_tg]
    await store.give_up_outbox(a1, at(2), "opted out")  # a row given up holds nothing back
    assert await pending_ids(store, now=at(2)) == [a2, b1]
    assert await pending_ids(store, "sms", at(2), 0) == []


async def test_pending_outbox_keeps_the_protocol_signature(store: SqlStorage) -> None:
    anna = await enrolled(store)
    ids = await queue(store, anna.id, "sms", "sms", "sms")
    assert [r.id for r in await store.pending_outbox("sms", 2)] == list(ids[:2])
    assert [r.id for r in await store.pending_outbox("sms")] == list(ids)
    with pytest.raises(ValueError, match="naive"):
        await store.pending_outbox("sms", now=datetime(2025, 3, 3))


async def test_given_up_rows_are_never_pending_and_giving_up_is_audited_once(store: SqlStorage) -> None:
    anna = await enrolled(store)
    (row,) = await queue(store, anna.id, "sms")
    await store.give_up_outbox(row, at(5), "HTTP 400 code 21211")
    await store.give_up_outbox(row, at(6), "again")
    assert await pending_ids(store) == [] and await pending_ids(store, now=at(3600)) == []
    state = await delivery(store, row)
    assert (state["given_up_at"], state["attempts"], state["sent_at"]) == (at(5), 1, None)
    assert state["delivery_detail"] == "HTTP 400 code 21211"  # in the row, for people to see; not in the audit log
    await store.defer_outbox(row, at(60), at(7), "late retry")  # given up is final
    assert await pending_ids(store, now=at(3600)) == []
    assert (await audit_rows(store))[1:] == [
        ("system", "outbox.given_up", "participant:p-anna", {"outbox_id": row, "channel": "sms", "attempts": 1}),
    ]


async def test_a_send_and_its_status_callbacks(store: SqlStorage) -> None:
    anna = await enrolled(store)
    (row,) = await queue(store, anna.id, "sms")
    assert await store.outbox_by_provider_id("SM-1") is None
    await store.mark_delivery(row, "SM-1", "sent", at(1))
    assert await pending_ids(store, now=at(1)) == []
    found = await store.outbox_by_provider_id("SM-1")
    assert found == OutboxRow(row, anna.id, "sms", {"text": "m0"}, T0, attempts=1)
    state = await delivery(store, row)
    assert (state["sent_at"], state["provider_id"], state["delivery_status"]) == (at(1), "SM-1", "sent")
    await store.mark_delivery(row, "SM-1", "delivered", at(5))
    # Callbacks out of order: a late "sending" or "sent" does not hide "delivered" and sends nothing again.
    await store.mark_delivery(row, "SM-1", "sending", at(6))
    await store.mark_delivery(row, "SM-1", "sent", at(7))
    state = await delivery(store, row)
    assert (state["sent_at"], state["attempts"], state["delivery_status"]) == (at(1), 1, "delivered")
    assert state["provider_id"] == "SM-1"


async def test_a_failed_delivery_keeps_the_provider_id_and_a_retry_sends_it_again(store: SqlStorage) -> None:
    anna = await enrolled(store)
    (row,) = await queue(store, anna.id, "sms")
    await store.mark_delivery(row, "SM-1", "sent", at(1))
    await store.mark_delivery(row, None, "failed", at(2), "30008")
    state = await delivery(store, row)
    assert (state["provider_id"], state["delivery_status"], state["delivery_detail"]) == ("SM-1", "failed", "30008")
    assert state["sent_at"] == at(1)  # a report changes nothing about sending: the retry policy decides
    assert await pending_ids(store, now=at(2)) == []
    await store.defer_outbox(row, at(60), at(3), "30008")  # retry: back in the queue
    assert await pending_ids(store, now=at(59)) == []
    assert await pending_ids(store, now=at(60)) == [row]
    await store.mark_delivery(row, "SM-2", "sent", at(61))
    assert await store.outbox_by_provider_id("SM-1") is None  # old callbacks no longer find it
    found = await store.outbox_by_provider_id("SM-2")
    assert found is not None and (found.id, found.attempts) == (row, 3)
    state = await delivery(store, row)
    assert (state["sent_at"], state["delivery_status"], state["delivery_detail"]) == (at(61), "sent", None)


async def test_defer_leaves_a_message_that_may_arrive_alone(store: SqlStorage) -> None:
    anna = await enrolled(store)
    sent, delivered = await queue(store, anna.id, "sms", "sms")
    await store.mark_delivery(sent, "SM-1", "sent", at(1))
    await store.mark_delivery(delivered, "SM-2", "sent", at(1))
    await store.mark_delivery(delivered, "SM-2", "delivered", at(2))
    before = [await delivery(store, sent), await delivery(store, delivered)]
    await store.defer_outbox(sent, at(60), at(3))
    await store.defer_outbox(delivered, at(60), at(3))
    assert [await delivery(store, sent), await delivery(store, delivered)] == before
    assert await pending_ids(store, now=at(3600)) == []


async def test_delivered_without_a_sent_report_counts_as_sent(store: SqlStorage) -> None:
    anna = await enrolled(store)
    (row,) = await queue(store, anna.id, "sms")
    await store.mark_delivery(row, "SM-1", "delivered", at(4))
    assert await pending_ids(store, now=at(4)) == []
    state = await delivery(store, row)
    assert (state["sent_at"], state["provider_id"], state["delivery_status"]) == (at(4), "SM-1", "delivered")


async def test_a_provider_id_belongs_to_one_row(store: SqlStorage) -> None:
    anna = await enrolled(store)
    first, second = await queue(store, anna.id, "sms", "sms")
    await store.mark_delivery(first, "SM-1", "sent", at(1))
    before = await delivery(store, second)
    with pytest.raises(ValueError, match="provider_id"):
        await store.mark_delivery(second, "SM-1", "sent", at(2))
    assert await delivery(store, second) == before
    await store.mark_delivery(first, "SM-1", "sent", at(3))  # the same report again: fine, and idempotent
    assert (await delivery(store, first))["attempts"] == 1
    await store.mark_delivery(second, None, "sent", at(4))  # a channel without provider ids
    assert (await delivery(store, second))["provider_id"] is None
    assert (await store.outbox_by_provider_id("SM-1")) == OutboxRow(first, anna.id, "sms", {"text": "m0"}, T0, 1)


async def test_unknown_outbox_rows_and_bad_reports_are_refused(store: SqlStorage) -> None:
    anna = await enrolled(store)
    (row,) = await queue(store, anna.id, "sms")
    with pytest.raises(UnknownOutboxError):
        await store.mark_delivery(999, "SM-1", "sent", T0)
    with pytest.raises(UnknownOutboxError):
        await store.defer_outbox(999, at(60), T0)
    with pytest.raises(UnknownOutboxError):
        await store.give_up_outbox(999, T0, "x")
    with pytest.raises(ValueError, match="status"):
        await store.mark_delivery(row, "SM-1", "", T0)
    with pytest.raises(ValueError, match="naive"):
        await store.defer_outbox(row, datetime(2025, 3, 3), T0)
    assert await pending_ids(store) == [row] and (await delivery(store, row))["attempts"] == 0


async def test_delivery_writes_in_a_batch_stay_apart(store: SqlStorage) -> None:
    """Many reports at once (a backlog of callbacks): each lands on its own row, a bad one fails alone."""
    anna = await enrolled(store)
    ids = await queue(store, anna.id, *["sms"] * 30)
    results = await asyncio.gather(
        *(store.mark_delivery(oid, f"SM-{oid}", "sent", at(1)) for oid in ids),
        store.mark_delivery(999, "SM-x", "sent", at(1)),
        store.give_up_outbox(ids[0], at(1), "x"),
        return_exceptions=True,
    )
    assert [type(r) for r in results] == [type(None)] * 30 + [UnknownOutboxError, type(None)]
    for oid in ids:
        found = await store.outbox_by_provider_id(f"SM-{oid}")
        assert found is not None and found.id == oid


# --- privacy, closing ---


async def test_no_name_phone_number_or_chat_id_reaches_the_audit_log(store: SqlStorage) -> None:
    anna = await enrolled(store, coach_id="coach-ida")
    bo = await enrolled(store, "p-bo", OTHER_PHONE, name="Bo Ib Hansen")
    await store.set_address(anna.id, "sms", PHONE, OPTED_OUT, at(1))
    await store.set_address(anna.id, "sms", PHONE, ACTIVE, at(2))
    await store.set_address(bo.id, "telegram", "123456789", UNREACHABLE, at(2))
    await store.add_link_code(anna.id, "digest-1", at(3600), T0)
    await store.redeem_link_code("digest-1", "telegram", CHAT, at(3))
    await store.record_consent(anna.id, "terms-1", at(4))
    (row,) = await queue(store, anna.id, "sms")
    await store.mark_delivery(row, "SM-1", "failed", at(5), f"unreachable {PHONE}")
    await store.give_up_outbox(row, at(6), f"To {PHONE} ({NAME})")
    logged = json.dumps(await audit_rows(store), ensure_ascii=False)
    for secret in (NAME, "Bo Ib Hansen", PHONE, OTHER_PHONE, CHAT, "123456789", "digest-1"):
        assert secret not in logged
    actions = [action for _, action, _, _ in await audit_rows(store)]
    assert actions == [
        "participant.enrolled",
        "participant.enrolled",
        "address.changed",
        "address.changed",
        "address.changed",
        "telegram.linked",
        "consent.recorded",
        "outbox.given_up",
    ]


async def test_closed_storage_refuses_contact_calls(store: SqlStorage) -> None:
    anna = await enrolled(store)
    await store.close()
    with pytest.raises(RuntimeError, match="closed"):
        await store.enroll(enrollment("p-bo", OTHER_PHONE), T0)
    with pytest.raises(RuntimeError, match="closed"):
        await store.participant_by_address("sms", PHONE)
    with pytest.raises(RuntimeError, match="closed"):
        await store.redeem_link_code("d", "telegram", CHAT, T0)
    with pytest.raises(RuntimeError, match="closed"):
        await store.profile(anna.id)


# --- SQLite only ---


def normalised_schema(path: Path) -> set[tuple[str, str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    conn.close()
    return {(kind, name, " ".join(sql.replace("(", " ( ").replace(")", " ) ").split())) for kind, name, sql in rows}


def version_2_database(path: Path) -> None:
    """A database as migrations 1 and 2 left it, with a participant, a conversation and some outbox rows."""
    stamp = "'2025-01-01T00:00:00.000000+00:00'"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_V2.read_text())
        conn.execute(f"INSERT INTO schema_migrations VALUES (1, 'create initial schema', {stamp})")
        conn.execute(f"INSERT INTO schema_migrations VALUES (2, 'escalations, ...', {stamp})")
        conn.execute(f"INSERT INTO participants VALUES (1, 'P-OLD', 'da', {stamp})")
        conn.execute(f"INSERT INTO conversations VALUES (1, '{{\"at\":\"q3\"}}', 4, {stamp})")
        conn.execute(f"INSERT INTO outbox VALUES (1, 1, 'console', '{{\"text\":\"sent\"}}', {stamp}, {stamp}, 1, NULL)")
        conn.execute(f"INSERT INTO outbox VALUES (2, 1, 'sms', '{{\"text\":\"unsent\"}}', {stamp}, NULL, 0, NULL)")
        conn.execute(f"INSERT INTO outbox VALUES (3, 1, 'sms', '{{\"text\":\"later\"}}', {stamp}, NULL, 2, NULL)")
    conn.close()


def test_schema_v2_sql_is_version_1_plus_migration_2(tmp_path: Path) -> None:
    """schema_v2.sql is what it claims: schema_v1.sql migrated by the frozen migration 2."""
    v1 = tmp_path / "v1.sqlite"
    with sqlite3.connect(v1) as conn:
        conn.executescript(SCHEMA_V1.read_text())
    conn.close()
    engine = create_engine(f"sqlite:///{v1}")
    try:
        with engine.begin() as sync:
            MIGRATIONS[1].apply(sync)
    finally:
        engine.dispose()
    v2 = tmp_path / "v2.sqlite"
    version_2_database(v2)
    assert normalised_schema(v1) == normalised_schema(v2)


async def test_migration_3_brings_a_version_2_database_to_the_current_schema(tmp_path: Path) -> None:
    old = tmp_path / "v2.sqlite"
    version_2_database(old)
    assert "addresses" not in {name for _, name, _ in normalised_schema(old)}
    store = SqlStorage(old)
    try:
        await store.migrate()
        await store.migrate()  # idempotent
        async with store.engine.connect() as conn:
            assert await conn.run_sync(current) == head()  # the numbered migrations, then Alembic's revisions
        # Old rows keep their ids, attempts and state; the new columns start empty.
        assert await store.pending_outbox("console") == []
        assert [(r.id, r.attempts, r.payload) for r in await store.pending_outbox("sms")] == [
            (2, 0, {"text": "unsent"}),
            (3, 2, {"text": "later"}),
        ]
        assert await delivery(store, 2) == {
            "sent_at": None, "attempts": 0, "provider_id": None, "delivery_status": None,
            "delivery_detail": None, "not_before": None, "given_up_at": None,
        }
        conversation = await store.load_conversation(1)
        assert (conversation.state, conversation.revision) == ({"at": "q3"}, 4)
        # ...and work with the new features.
        await store.defer_outbox(2, at(60), T0, "HTTP 429")
        assert await pending_ids(store, now=at(1)) == []
        await store.mark_delivery(3, "SM-3", "sent", at(2))
        assert (await store.outbox_by_provider_id("SM-3")) == OutboxRow(
            3, 1, "sms", {"text": "later"}, datetime(2025, 1, 1, tzinfo=UTC), 3
        )
        await store.set_address(1, "sms", PHONE, ACTIVE, T0)
        assert (await store.participant_by_address("sms", PHONE)) is not None
        await store.record_consent(1, "terms-1", T0)
        bo = await enrolled(store, "p-bo", OTHER_PHONE)
        assert bo.id == 2
        result = await store.commit_step(
            StepRecord(1, 4, {"at": "q4"}, T0, outbox=[OutboundRecord("sms", {"text": "new"}, T0)])
        )
        assert result.outbox_ids == (4,)
    finally:
        await store.close()

    fresh = tmp_path / "fresh.sqlite"
    new = await open_storage(fresh)
    await new.close()
    assert normalised_schema(old) == normalised_schema(fresh)


async def test_the_database_keeps_addresses_and_provider_ids_unique(sqlite_store: SqlStorage) -> None:
    anna = await enrolled(sqlite_store)
    bo = await enrolled(sqlite_store, "p-bo", OTHER_PHONE)
    carl = await sqlite_store.get_or_create_participant("p-carl", "da", T0)
    first, second = await queue(sqlite_store, anna.id, "sms", "sms")
    await sqlite_store.mark_delivery(first, "SM-1", "sent", T0)
    stamp = "'2025-03-03T08:00:00.000000+00:00'"
    phone = sqlite_store.keys.digest("sms", PHONE)  # addresses are found by their keyed hash
    refused = [
        f"INSERT INTO addresses VALUES ({carl.id}, 'sms', '{phone}', 'x', 'active', {stamp})",  # someone else's number
        f"INSERT INTO addresses VALUES ({anna.id}, 'sms', 'h2', 'x', 'active', {stamp})",  # a second SMS address
        f"INSERT INTO addresses VALUES ({bo.id}, 'telegram', 'h1', 'x', 'paused', {stamp})",  # the CHECK constraint
        f"INSERT INTO addresses VALUES (999, 'telegram', 'h1', 'x', 'active', {stamp})",  # the foreign key
        f"UPDATE outbox SET provider_id = 'SM-1' WHERE id = {second}",
    ]
    async with sqlite_store.engine.connect() as conn:
        for statement in refused:
            with pytest.raises(IntegrityError):
                await conn.execute(text(statement))
            await conn.rollback()
        await conn.execute(text(f"UPDATE outbox SET provider_id = NULL WHERE id = {second}"))  # many NULLs: fine
        await conn.commit()


async def test_contact_lookups_use_their_indexes(sqlite_store: SqlStorage) -> None:
    anna = await enrolled(sqlite_store)
    first, _ = await queue(sqlite_store, anna.id, "sms", "sms")
    await sqlite_store.defer_outbox(first, at(60), T0)
    plans: list[str] = []

    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT"):
            raw = conn.connection.dbapi_connection
            plans.append(" | ".join(str(row[-1]) for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)))

    for engine in sqlite_store.sync_engines:
        event.listen(engine, "before_cursor_execute", explain)
    try:
        await sqlite_store.pending_outbox("sms", now=at(1))
        await sqlite_store.pending_outbox("sms")
        await sqlite_store.outbox_by_provider_id("SM-1")
        await sqlite_store.participant_by_address("sms", PHONE)
        await sqlite_store.addresses(anna.id)
    finally:
        for engine in sqlite_store.sync_engines:
            event.remove(engine, "before_cursor_execute", explain)
    assert len(plans) == 5, plans
    assert all("SCAN" not in plan for plan in plans), plans
    # the rows in sending order from ix_outbox_unsent; whether a person's earlier row holds them back, from one of
    # the two partial indexes by person (the deferred rows, or since revision 0013 the rows still to send): SQLite
    # picks either, and both read only that person's rows
    indexes = ("ix_outbox_deferred", "ix_outbox_unsent_person")
    by_person = [f"{index} (participant_id=? AND channel=?" for index in indexes]
    for plan in plans[:2]:
        assert "ix_outbox_unsent (channel=?)" in plan and any(index in plan for index in by_person), plan
    assert "ux_outbox_provider_id" in plans[2], plans[2]


async def test_contact_writes_go_through_the_writer_in_one_durable_commit(sqlite_store: SqlStorage) -> None:
    anna = await enrolled(sqlite_store)
    (row,) = await queue(sqlite_store, anna.id, "sms")
    await sqlite_store.add_link_code(anna.id, "digest-1", at(3600), T0)
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    for engine in sqlite_store.sync_engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        await asyncio.gather(
            sqlite_store.enroll(enrollment("p-bo", OTHER_PHONE), T0),
            sqlite_store.set_address(anna.id, "sms", PHONE, OPTED_OUT, at(1)),
            sqlite_store.redeem_link_code("digest-1", "telegram", CHAT, at(1)),
            sqlite_store.record_consent(anna.id, "terms-1", at(1)),
            sqlite_store.mark_delivery(row, "SM-1", "sent", at(1)),
            sqlite_store.commit_step(StepRecord(anna.id, 1, {"rev": 1}, at(1))),
        )
    finally:
        for engine in sqlite_store.sync_engines:
            event.remove(engine, "before_cursor_execute", record)
    assert [s for s in seen if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE"]


async def test_contacts_survive_closing_and_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite"
    store = await open_storage(path)
    try:
        anna = await store.enroll(enrollment(start_date=date(2026, 11, 23), coach_id="coach-ida"), T0)
        await store.add_link_code(anna.id, "digest-1", at(3600), T0)
        await store.record_consent(anna.id, "terms-1", at(1))
        risk = EscalationRecord("high", "text", {"text": "x"}, T0, at(900))
        result = await store.commit_step(
            StepRecord(anna.id, 0, {}, T0, outbox=[OutboundRecord("sms", {"text": "hi"}, T0)], escalations=[risk])
        )
        await store.defer_outbox(result.outbox_ids[0], at(60), T0, "HTTP 429")
        before = (await store.profile(anna.id), await store.addresses(anna.id), await store.audit_entries())
    finally:
        await store.close()

    reopened = await open_storage(path)
    try:
        assert (await reopened.profile(anna.id), await reopened.addresses(anna.id), await reopened.audit_entries()) == (
            before
        )
        profile = before[0]
        assert profile is not None and profile.start_date == date(2026, 11, 23)
        assert [r.attempts for r in await reopened.pending_outbox("sms", now=at(60))] == [1]
        assert await reopened.redeem_link_code("digest-1", "telegram", CHAT, at(2)) == anna
    finally:
        await reopened.close()
