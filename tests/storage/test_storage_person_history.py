"""One person's history for the desk's person page (storage/ports.py `PersonHistory`), on every `Storage`: found by
ref, their messages in and out newest first with what became of them, their escalations, and a coach's mark on one of
their planned events, which only a pending row of theirs takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage import (
    AnswerRecord,
    CommitStatus,
    EscalationRecord,
    InboundRecord,
    OutboundRecord,
    SqlStorage,
    StepRecord,
)
from storage.records import (
    CoachTaskRecord,
    Enrollment,
    HeardRecord,
    MarkRecord,
    ScheduledRecord,
    ScheduleOutcome,
    ScheduleStatus,
    ScoreRecord,
)

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def test_a_persons_messages_in_and_out_newest_first_with_their_delivery(store: SqlStorage) -> None:
    anna = await store.enroll(Enrollment("p-anna", "Anna Jensen", "da", None, "coach", "+4512345678"), T0)
    bo = await store.enroll(Enrollment("p-bo", "Bo Berg", "da", None, "backup"), T0)
    for rev, (who, text) in enumerate([(anna, "første"), (bo, "Bos besked"), (anna, "anden")]):
        step = StepRecord(who.id, 0 if who is bo or rev == 0 else 1, {"said": rev}, at(rev),
                          inbound=InboundRecord("sms", f"SM{rev}", at(rev)), heard=HeardRecord(text, "answer"),
                          outbox=[OutboundRecord("sms", {"text": f"svar {rev}"}, at(rev))])
        assert (await store.commit_step(step)).status is CommitStatus.COMMITTED
    found = await store.profile_by_ref("p-anna")
    assert found is not None and found.name == "Anna Jensen" and found.participant.id == anna.id
    assert await store.profile_by_ref("p-nobody") is None

    received = await store.received_messages(anna.id)
    assert [(m.body, m.outcome, m.for_coach) for m in received] == [("anden", "answer", False),
                                                                    ("første", "answer", False)]
    sent = await store.sent_messages(anna.id)
    assert [m.row.payload["text"] for m in sent] == ["svar 2", "svar 0"]
    assert all(m.sent_at is None and m.delivery_status is None for m in sent)
    await store.mark_sent(sent[1].row.id, at(5))
    await store.mark_delivery(sent[1].row.id, "SMabc", "delivered", at(6))
    await store.give_up_outbox(sent[0].row.id, at(7), "opted out")
    after = {m.row.id: m for m in await store.sent_messages(anna.id)}
    assert (after[sent[1].row.id].sent_at, after[sent[1].row.id].delivery_status) == (at(5), "delivered")
    assert (after[sent[0].row.id].given_up_at, after[sent[0].row.id].delivery_detail) == (at(7), "opted out")
    assert [m.row.payload["text"] for m in await store.sent_messages(anna.id, limit=1)] == ["svar 2"]


async def test_a_persons_escalations_with_their_triggers_closed_ones_too(store: SqlStorage) -> None:
    anna = await store.enroll(Enrollment("p-anna", "Anna Jensen", "da", None, "coach"), T0)
    bo = await store.enroll(Enrollment("p-bo", "Bo Berg", "da", None, "coach"), T0)
    for rev, who in enumerate((anna, bo)):
        risky = EscalationRecord("high", "text", {"text": "vil ikke leve", "matched": "NOT LIVE"}, at(rev), at(60))
        step = StepRecord(who.id, 0, {}, at(rev), escalations=[risky])
        assert (await store.commit_step(step)).status is CommitStatus.COMMITTED
    [first] = await store.escalations_of(anna.id)
    assert await store.close_escalation(first.id, "coach", "Ringede, hun er tryg", at(10))
    step = StepRecord(anna.id, 1, {}, at(20), escalations=[EscalationRecord("low", "text", {"text": "træt"}, at(20),
                                                                             at(80))])
    assert (await store.commit_step(step)).status is CommitStatus.COMMITTED
    mine = await store.escalations_of(anna.id)
    assert [(e.level, e.status.value, e.triggers[0].trigger["text"]) for e in mine] == [
        ("low", "open", "træt"), ("high", "closed", "vil ikke leve")]


async def test_a_coach_marks_a_pending_event_of_that_person_and_no_other(store: SqlStorage) -> None:
    anna = await store.enroll(Enrollment("p-anna", "Anna Jensen", "da", None, "coach"), T0)
    bo = await store.enroll(Enrollment("p-bo", "Bo Berg", "da", None, "coach"), T0)
    plan = [ScheduledRecord("module:1", "module", at(60), {"module": 1}),
            ScheduledRecord("module:2", "module", at(120), {"module": 2})]
    await store.add_schedule([(anna.id, r) for r in plan] + [(bo.id, plan[0])], T0)
    first, second = await store.schedule_of(anna.id)
    assert await store.annotate_schedule(anna.id, first.id, {"skipped_by": "coach"}, at(1))
    assert not await store.annotate_schedule(bo.id, first.id, {"skipped_by": "coach"}, at(1))  # not Bo's row
    [marked, _] = await store.schedule_of(anna.id)
    assert marked.data == {"module": 1, "skipped_by": "coach"} and marked.status is ScheduleStatus.PENDING
    assert await store.annotate_schedule(anna.id, first.id, {"skipped_by": None}, at(2))  # undone
    assert (await store.schedule_of(anna.id))[0].data == {"module": 1}
    [claimed] = [r for r in await store.claim_schedule(at(130), 10, at(140)) if r.id == second.id]
    step = StepRecord(anna.id, 0, {}, at(130), schedule_outcome=ScheduleOutcome(claimed.id, ScheduleStatus.SENT))
    assert (await store.commit_step(step)).status is CommitStatus.COMMITTED
    assert not await store.annotate_schedule(anna.id, second.id, {"skipped_by": "coach"}, at(131))  # sent already
    assert (await store.schedule_of(anna.id))[1].data == {"module": 2}


async def test_everything_the_page_shows_comes_in_one_read_of_that_person_only(store: SqlStorage) -> None:
    anna = await store.enroll(Enrollment("p-anna", "Anna Jensen", "da", None, "coach"), T0)
    bo = await store.enroll(Enrollment("p-bo", "Bo Berg", "da", None, "coach"), T0)
    for who in (anna, bo):
        step = StepRecord(who.id, 0, {}, at(1), inbound=InboundRecord("sms", f"SM-{who.id}", at(1)),
                          heard=HeardRecord("3", "answer"), outbox=[OutboundRecord("sms", {"text": "tak"}, at(1))],
                          answers=[AnswerRecord(1, "pss10", 1, "q1", 3, "3", at(1))],
                          scores=[ScoreRecord(1, "pss10", 1, "total", 22.0, "entry_criterion", at(1))],
                          marks=[MarkRecord("wave_run", "baseline", {"flow_id": "pss10", "run_seq": 1}, at(1))],
                          tasks=[CoachTaskRecord("wave_missed", {}, at(1), at(60))])
        assert (await store.commit_step(step)).status is CommitStatus.COMMITTED
    await store.add_schedule([(anna.id, ScheduledRecord("module:1", "module", at(60), {"module": 1})),
                              (anna.id, ScheduledRecord("checkin:1", "checkin", at(30), {"n": 1}))], T0)
    history = await store.person_history(anna.id)
    assert [m.row.payload["text"] for m in history.sent] == ["tak"] and [m.body for m in history.received] == ["3"]
    assert [(a["item_id"], a["value"]) for a in history.answers] == [("q1", 3)]
    assert [(s.flow_id, s.value, s.band) for s in history.scores] == [("pss10", 22.0, "entry_criterion")]
    assert [(m.kind, m.key) for m in history.marks] == [("wave_run", "baseline")]
    assert [t.kind for t in history.tasks] == ["wave_missed"] and history.escalations == []
    assert [r.key for r in history.pending] == ["checkin:1", "module:1"]  # by due time
    assert {m.row.participant_id for m in history.sent} == {anna.id}
