"""A conversation step committed: planned under the write lock against the database and the steps before it in
the batch, then written with one executemany per table (`commit_step`'s rule: a duplicate inbound message or a
stale revision writes nothing), and the batched lookups every step makes first.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, bindparam, false, insert, select, text, true, update

from storage.crypto import Keys
from storage.errors import unknown_participant
from storage.records import CommitResult, CommitStatus, Participant, StepRecord
from storage.sql import schema as s
from storage.sql.bulk import Bulk
from storage.sql.claims import lock_participants
from storage.sql.codecs import Row, require_utc
from storage.sql.directory import ContactOp, RecordConsent, SetAddress
from storage.sql.directory_rows import check_address, check_consent_channel, check_version, seal_address
from storage.sql.engine import log
from storage.sql.escalations import write_signals
from storage.sql.rows import StepRows
from storage.sql.schedule import CANCEL_SCHEDULE, CANCEL_SCHEDULE_KEY, COMPLETE_SCHEDULE, SCHEDULE_STATES, plan_schedule
from storage.sql.schedule_rows import (
    PlannedRows,
    cancel_changes,
    cancels,
    outcome_applies,
    outcome_changes,
    replan_changes,
)
from storage.sql.steps_pg import fits, read_revisions_and_seen, write_rows

_tk, _mk = s.coach_tasks, s.programme_marks
_p, _c, _a, _o, _ib, _fv = (
    s.participants,
    s.conversations,
    s.answers,
    s.outbox,
    s.inbox,
    s.flow_versions,
)
_PARTICIPANTS_BY_REF = select(_p).where(_p.c.ref.in_(bindparam("refs", expanding=True)))
_INSERT_PARTICIPANTS = insert(_p).returning(*_p.c)  # matched back by ref, so no ordering needed
_CONVERSATIONS = select(_c.c.participant_id, _c.c.state, _c.c.revision).where(
    _c.c.participant_id.in_(bindparam("pids", expanding=True))
)
_REVISIONS = (  # one row per existing participant; revision is NULL when nothing is saved yet
    select(_p.c.id, _c.c.revision).select_from(_p.outerjoin(_c)).where(_p.c.id.in_(bindparam("pids", expanding=True)))
)
# PostgreSQL: one probe of the unique index per id, whatever the statistics say. The IN form above was planned, on an
# inbox not yet analysed (a new deployment's first minute, a benchmark), as a scan of the whole channel filtered by
# id: 15 ms a batch and growing with the table, 0.2 ms this way. One array parameter also keeps the text the same for
# every batch size, so the driver's prepared statement is reused.
_SEEN_INBOUND_PG = text(
    "SELECT wanted.id FROM unnest(CAST(:ids AS VARCHAR[])) AS wanted(id) CROSS JOIN LATERAL "
    "(SELECT 1 FROM inbox WHERE inbox.channel = :channel AND inbox.channel_message_id = wanted.id LIMIT 1) AS found"
)
_UPDATE_CONVERSATION = update(_c).where(_c.c.participant_id == bindparam("b_pid"), _c.c.revision == bindparam("b_rev"))
_SUPERSEDE_ANSWERS = (
    update(_a)
    .where(
        _a.c.participant_id == bindparam("b_pid"),
        _a.c.run_seq == bindparam("b_run"),
        _a.c.item_id == bindparam("b_item"),
        _a.c.superseded == false(),
    )
    .values(superseded=true())
)
# The batch's common writes, each compiled once into the driver's SQL (storage/sql/bulk.py)
_INSERT_INBOX, _INSERT_CONVERSATIONS, _INSERT_ANSWERS = Bulk(insert(_ib)), Bulk(insert(_c)), Bulk(insert(_a))
_INSERT_SCORES, _INSERT_AUDIT, _INSERT_OUTBOX_ROWS = Bulk(insert(s.scores)), Bulk(insert(s.audit_log)), Bulk(insert(_o))
_UPDATE_CONVERSATION_ROWS, _SUPERSEDE_ANSWER_ROWS = Bulk(_UPDATE_CONVERSATION), Bulk(_SUPERSEDE_ANSWERS)
_INSERT_TASKS, _INSERT_MARKS = insert(_tk), insert(_mk)
_SET_LANG = update(_p).where(_p.c.id == bindparam("b_id"))
FLOW_SOURCE = select(_fv.c.source).where(_fv.c.flow_id == bindparam("flow_id"), _fv.c.version == bindparam("version"))


def write_participants(conn: Connection, payloads: list[Any]) -> list[Any]:
    refs = [ref for ref, _, _ in payloads]
    found = dict(zip(refs, read_participants(conn, refs), strict=True))
    missing: dict[str, Row] = {}
    for ref, lang, now in payloads:
        if found[ref] is None and ref not in missing:
            missing[ref] = {"ref": ref, "lang": lang, "created_at": now}
    if missing:
        for row in conn.execute(_INSERT_PARTICIPANTS, list(missing.values())):
            found[row.ref] = participant_of(row)
    return [found[ref] for ref in refs]


def write_steps(conn: Connection, payloads: list[Any]) -> list[Any]:
    plan = _plan_steps(conn, cast(list[StepRows], payloads))
    _apply_plan(conn, plan)
    return plan.results()


def write_flows(conn: Connection, payloads: list[Any]) -> list[Any]:
    results: list[Any] = []
    for flow_id, version, source, at in payloads:
        previous = conn.scalar(FLOW_SOURCE, {"flow_id": flow_id, "version": version})
        if previous is None:
            sha = hashlib.sha256(source.encode()).hexdigest()
            row = {"flow_id": flow_id, "version": version, "source": source, "sha256": sha}
            conn.execute(insert(_fv), {**row, "first_seen_at": at})
        results.append(previous)
    return results


@dataclass
class _StepPlan:
    """What a batch of steps will write, decided under the write lock before any row is written."""

    outcomes: list[CommitResult | Exception] = field(default_factory=list)
    outbox_owner: list[int] = field(default_factory=list)  # index of the step owning each outbox row
    inbox: list[Row] = field(default_factory=list)
    conv_inserts: list[Row] = field(default_factory=list)
    conv_updates: list[Row] = field(default_factory=list)
    answers: list[Row] = field(default_factory=list)
    answer_keys: list[Row] = field(default_factory=list)
    scores: list[Row] = field(default_factory=list)
    outbox: list[Row] = field(default_factory=list)
    audit: list[Row] = field(default_factory=list)
    langs: list[Row] = field(default_factory=list)
    signals: list[tuple[int, int, tuple[Row, ...]]] = field(default_factory=list)  # (step index, pid, signals)
    outbox_ids: list[int] = field(default_factory=list)
    escalation_ids: dict[int, tuple[int, ...]] = field(default_factory=dict)  # by step index
    schedule_rounds: list[_ScheduleRound] = field(default_factory=list)
    schedule_turns: dict[int, int] = field(default_factory=dict)  # participant id -> rounds used
    tasks: list[Row] = field(default_factory=list)
    marks: list[Row] = field(default_factory=list)
    contacts: list[ContactOp] = field(default_factory=list)  # address and consent changes of committed steps

    def results(self) -> list[Any]:
        ids: dict[int, list[int]] = {}
        for owner, outbox_id in zip(self.outbox_owner, self.outbox_ids, strict=True):
            ids.setdefault(owner, []).append(outbox_id)
        return [
            CommitResult(r.status, r.revision, tuple(ids.get(i, ())), self.escalation_ids.get(i, ()))
            if isinstance(r, CommitResult) and r.status is CommitStatus.COMMITTED
            else r
            for i, r in enumerate(self.outcomes)
        ]


@dataclass
class _ScheduleRound:
    """The schedule changes of at most one step per participant, written as outcomes, then cancellations, then
    plans (each an executemany). A participant's next step in the batch goes to the next round, so every step's
    changes are written after those of the steps before it, as if the steps had been committed one by one."""

    outcomes: list[Row] = field(default_factory=list)
    cancels: list[Row] = field(default_factory=list)
    key_cancels: list[Row] = field(default_factory=list)
    plans: list[Row] = field(default_factory=list)


def _plan_steps(conn: Connection, batch: list[StepRows]) -> _StepPlan:
    """Check each step in queue order against the database plus the steps before it in this batch."""
    # PostgreSQL: what BEGIN IMMEDIATE does. A statement of its own, before the read: the read's snapshot then comes
    # after the lock, so it sees what the holder committed. Joined into one `FOR UPDATE` statement (a round trip
    # fewer) the revisions would come from the snapshot taken before the wait: a stale revision, a refused write.
    lock_participants(conn, {r.step.participant_id for r in batch})
    known: set[int] = set()
    revisions: dict[int, int] = {}
    found, seen = _revisions_and_seen(conn, batch)
    for pid, revision in found:
        known.add(pid)
        if revision is not None:
            revisions[pid] = revision
    has_row = set(revisions)
    handled = _schedule_states(conn, batch)  # the rows the outcomes name, kept as the batch's steps change them
    handled_of: dict[int, list[Row]] = {}  # the same rows by participant (not a scan of all per step)
    for row in handled.values():
        handled_of.setdefault(row["participant_id"], []).append(row)
    plan = _StepPlan()
    latest_answer: dict[tuple[int, int, str], Row] = {}
    for index, rows in enumerate(batch):
        step = rows.step
        pid = step.participant_id
        if pid not in known:
            plan.outcomes.append(unknown_participant(pid))
            continue
        current = revisions.get(pid, 0)
        key = None if step.inbound is None else (step.inbound.channel, step.inbound.channel_message_id)
        if key is not None and key in seen:
            plan.outcomes.append(CommitResult(CommitStatus.DUPLICATE, current))
            continue
        if rows.outcome is not None and not outcome_applies(handled.get(rows.outcome["id"]), pid):
            plan.outcomes.append(CommitResult(CommitStatus.DUPLICATE, current))  # handled already: write nothing
            continue
        if step.expected_revision != current:
            plan.outcomes.append(CommitResult(CommitStatus.CONFLICT, current))
            continue
        revisions[pid] = current + 1
        plan.outcomes.append(CommitResult(CommitStatus.COMMITTED, current + 1))
        plan.contacts.extend(rows.contacts)
        if key is not None and rows.inbox is not None:
            seen.add(key)
            plan.inbox.append(rows.inbox)
        conv = {"state": rows.state, "revision": current + 1, "updated_at": step.at}
        if pid in has_row:
            plan.conv_updates.append({"b_pid": pid, "b_rev": current, **conv})
        else:
            has_row.add(pid)
            plan.conv_inserts.append({"participant_id": pid, **conv})
        for answer in rows.answers:
            row = dict(answer)
            akey = (pid, row["run_seq"], row["item_id"])
            if akey in latest_answer:
                latest_answer[akey]["superseded"] = True
            else:
                plan.answer_keys.append({"b_pid": pid, "b_run": row["run_seq"], "b_item": row["item_id"]})
            latest_answer[akey] = row
            plan.answers.append(row)
        for retracted in step.retracted:
            akey = (pid, retracted.run_seq, retracted.item_id)
            if akey in latest_answer:
                latest_answer[akey]["superseded"] = True
            else:
                plan.answer_keys.append({"b_pid": pid, "b_run": retracted.run_seq, "b_item": retracted.item_id})
        plan.scores.extend(rows.scores)
        plan.outbox.extend(rows.outbox)
        plan.outbox_owner.extend([index] * len(rows.outbox))
        plan.audit.extend(rows.audit)
        if step.lang is not None:
            plan.langs.append({"b_id": pid, "lang": step.lang})
        if rows.escalations:
            plan.signals.append((index, pid, rows.escalations))
        if rows.changes_schedule:
            _plan_schedule_changes(plan, rows, handled_of.get(pid, []))
        plan.tasks.extend(rows.tasks)
        plan.marks.extend(rows.marks)
    return plan


def _schedule_states(conn: Connection, batch: list[StepRows]) -> dict[int, Row]:
    """The rows the batch's schedule outcomes name, by id, for their preconditions (`outcome_applies`)."""
    ids = {rows.outcome["id"] for rows in batch if rows.outcome is not None}
    if not ids:
        return {}
    return {row["id"]: dict(row) for row in conn.execute(SCHEDULE_STATES, {"ids": list(ids)}).mappings()}


def _plan_schedule_changes(plan: _StepPlan, rows: StepRows, handled: list[Row]) -> None:
    """Put a committed step's schedule changes in its round, and apply them to the participant's rows that later
    steps' outcomes name, so those see what this step left."""
    step = rows.step
    turn = plan.schedule_turns.get(step.participant_id, 0)
    plan.schedule_turns[step.participant_id] = turn + 1
    if turn == len(plan.schedule_rounds):
        plan.schedule_rounds.append(_ScheduleRound())
    writes = plan.schedule_rounds[turn]
    outcome = rows.outcome
    if outcome is not None:
        writes.outcomes.append(
            {"b_id": outcome["id"], "b_status": outcome["status"], "b_reason": outcome["reason"],
             "b_due": outcome["due_at"], "b_at": outcome["updated_at"]}
        )
    writes.cancels.extend({"b_pid": step.participant_id, "b_kind": kind, "b_at": step.at} for kind in rows.cancel_kinds)
    writes.key_cancels.extend({"b_pid": step.participant_id, "b_key": key, "b_at": step.at} for key in rows.cancel_keys)
    writes.plans.extend(rows.schedule)
    for row in handled:
        if outcome is not None and row["id"] == outcome["id"]:
            row.update(outcome_changes(outcome))
        if cancels(row, rows.cancel_kinds, rows.cancel_keys):
            row.update(cancel_changes(step.at))
        for planned in rows.schedule:
            if planned["key"] == row["key"]:
                row.update(replan_changes(row, planned))


def _revisions_and_seen(conn: Connection, batch: list[StepRows]) -> tuple[list[Any], set[tuple[str, str]]]:
    """(participant id, revision or None) for each participant of the batch that exists, and the batch's inbound
    messages already in the inbox; on PostgreSQL one statement for both when the messages came by one channel."""
    pids = list({r.step.participant_id for r in batch})
    by_channel = _inbound_by_channel(batch)
    if conn.dialect.name == "postgresql" and len(by_channel) <= 1:
        channel, ids = next(iter(by_channel.items()), ("", set()))
        found, seen_ids = read_revisions_and_seen(conn, pids, channel, list(ids))
        return found, {(channel, mid) for mid in seen_ids}
    return _revisions(conn, pids), _seen_inbound(conn, by_channel)


def _revisions(conn: Connection, pids: list[int]) -> list[Any]:
    if conn.dialect.name == "sqlite":
        return list(conn.exec_driver_sql(_sqlite_in(_REVISIONS_SQLITE, len(pids)), tuple(pids)))
    return list(conn.execute(_REVISIONS, {"pids": pids}))


# SQLite: the two lookups as the driver's SQL, one text per number of values (what SQLAlchemy's expanding IN
# renders anew for every batch: a quarter of a paced batch's lookups' time went to rendering them)
_REVISIONS_SQLITE = ("SELECT participants.id, conversations.revision FROM participants LEFT OUTER JOIN conversations "
                     "ON participants.id = conversations.participant_id WHERE participants.id IN ({})")
_SEEN_INBOUND_SQLITE = "SELECT channel_message_id FROM inbox WHERE channel = ? AND channel_message_id IN ({})"


@functools.lru_cache(maxsize=512)
def _sqlite_in(template: str, count: int) -> str:
    return template.format(", ".join("?" * count))


def _inbound_by_channel(batch: list[StepRows]) -> dict[str, set[str]]:
    by_channel: dict[str, set[str]] = {}
    for rows in batch:
        if rows.step.inbound is not None:
            by_channel.setdefault(rows.step.inbound.channel, set()).add(rows.step.inbound.channel_message_id)
    return by_channel


def _seen_inbound(conn: Connection, by_channel: dict[str, set[str]]) -> set[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    for channel, ids in by_channel.items():
        if conn.dialect.name == "postgresql":
            found = conn.scalars(_SEEN_INBOUND_PG, {"channel": channel, "ids": list(ids)})
        else:
            found = conn.exec_driver_sql(_sqlite_in(_SEEN_INBOUND_SQLITE, len(ids)), (channel, *ids)).scalars()
        seen.update((channel, mid) for mid in found)
    return seen


def _apply_plan(conn: Connection, plan: _StepPlan) -> None:
    """Write a planned batch with one executemany per table, so the cost per step stays small (on PostgreSQL the
    common tables in one statement: storage/sql/steps_pg.py)."""
    if conn.dialect.name == "postgresql" and fits(plan.conv_inserts, plan.conv_updates):
        plan.outbox_ids = write_rows(conn, inbox=plan.inbox, conv_inserts=plan.conv_inserts,
                                     conv_updates=plan.conv_updates, answer_keys=plan.answer_keys,
                                     answers=plan.answers, scores=plan.scores, outbox=plan.outbox, audit=plan.audit)
    else:
        _write_rows(conn, plan)
    if plan.langs:
        conn.execute(_SET_LANG, plan.langs)
    for writes in plan.schedule_rounds:
        _apply_schedule_round(conn, writes)
    if plan.tasks:
        conn.execute(_INSERT_TASKS, plan.tasks)
    if plan.marks:
        conn.execute(_INSERT_MARKS, plan.marks)
    if plan.signals:  # rare, and needs the ids of escalations it opens: after everything else
        ids = write_signals(conn, [(pid, signals) for _, pid, signals in plan.signals])
        plan.escalation_ids = {index: found for (index, _, _), found in zip(plan.signals, ids, strict=True)}
    for op in plan.contacts:  # a refused change (the address is someone else's now) writes nothing; the step stands
        refused = op.run(conn)
        if refused is not None:
            log.warning("a step's contact change was refused: %s", refused)


def _write_rows(conn: Connection, plan: _StepPlan) -> None:
    if plan.inbox:
        _INSERT_INBOX.run(conn, plan.inbox)
    if plan.conv_inserts:
        _INSERT_CONVERSATIONS.run(conn, plan.conv_inserts)
    if plan.conv_updates and _UPDATE_CONVERSATION_ROWS.run(conn, plan.conv_updates).rowcount != len(plan.conv_updates):
        raise RuntimeError("conversation revision changed during a locked write")  # never write blind
    if plan.answer_keys:
        _SUPERSEDE_ANSWER_ROWS.run(conn, plan.answer_keys)
    if plan.answers:
        _INSERT_ANSWERS.run(conn, plan.answers)
    if plan.scores:
        _INSERT_SCORES.run(conn, plan.scores)
    if plan.outbox:
        plan.outbox_ids = _INSERT_OUTBOX_ROWS.insert_ids(conn, plan.outbox)
    if plan.audit:
        _INSERT_AUDIT.run(conn, plan.audit)


def step_contacts(step: StepRecord, keys: Keys) -> tuple[ContactOp, ...]:
    """A step's address and consent changes as the contact operations `set_address`/`record_consent` run."""
    ops: list[ContactOp] = []
    if step.address is not None:
        channel, address, status = check_address(step.address.channel, step.address.address, step.address.status)
        ops.append(SetAddress(step.participant_id, channel, seal_address(keys, channel, address), status,
                                 require_utc(step.at)))
    if step.consent is not None:
        version, via = check_version(step.consent.version), check_consent_channel(step.consent.channel)
        ops.append(RecordConsent(step.participant_id, version, via, require_utc(step.at), keys.seal("")))
    return tuple(ops)


def _apply_schedule_round(conn: Connection, writes: _ScheduleRound) -> None:
    if writes.outcomes and conn.execute(COMPLETE_SCHEDULE, writes.outcomes).rowcount != len(writes.outcomes):
        raise RuntimeError("a schedule row changed during a locked write")  # never write blind
    if writes.cancels:
        conn.execute(CANCEL_SCHEDULE, writes.cancels)
    if writes.key_cancels:
        conn.execute(CANCEL_SCHEDULE_KEY, writes.key_cancels)
    if writes.plans:
        plan_schedule(conn, PlannedRows.of(writes.plans))


def read_participants(conn: Connection, refs: list[Any]) -> list[Any]:
    found = {row.ref: participant_of(row) for row in conn.execute(_PARTICIPANTS_BY_REF, {"refs": list(set(refs))})}
    return [found.get(ref) for ref in refs]


def read_conversations(conn: Connection, pids: list[Any]) -> list[Any]:
    """(sealed state or None, revision) per id: `load_conversation` opens it, off the reader's batch."""
    saved = {row.participant_id: row for row in conn.execute(_CONVERSATIONS, {"pids": list(set(pids))})}
    results: list[Any] = []
    for pid in pids:
        row = saved.get(pid)
        results.append((None, 0) if row is None else (row.state, row.revision))
    return results


def participant_of(row: Any) -> Participant:
    return Participant(id=row.id, ref=row.ref, lang=row.lang, created_at=row.created_at)
