"""An in-memory `Storage` with the same semantics as SQLite (dedupe, conflicts, superseding), for fast tests.

Records are encoded with the same row builders as the SQL storage and JSON is stored as text, so what
comes back is what SQLite would return (plain dicts and lists, UTC datetimes), and a caller mutating a dict
it passed in cannot change what was stored. No method awaits, so each is atomic on the event loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from storage import contacts as ct
from storage import escalations as esc
from storage import person
from storage import schema as s
from storage import undelivered as und
from storage.crypto import Keys
from storage.interface import (
    AddressStatus,
    AuditRecord,
    ChannelAddress,
    CoachTask,
    CommitResult,
    CommitStatus,
    Conversation,
    Enrollment,
    Escalation,
    EscalationStatus,
    Identity,
    Mark,
    MarkRecord,
    Notification,
    NotificationStatus,
    OutboxRow,
    Participant,
    Profile,
    ScheduledRecord,
    ScheduleRow,
    ScoreRecord,
    StepRecord,
    UndeliveredRow,
)
from storage.memory_messages import MemoryMessages

_DELIVERY_COLUMNS = {"provider_id": None, "delivery_status": None, "delivery_detail": None, "not_before": None,
                     "undelivered_told_at": None,  # migration 8
                     "given_up_at": None}  # added to the outbox by migration 3


class MemoryStorage(MemoryMessages):
    """Everything in dicts and lists; lost when the object goes away."""

    def __init__(self, keys: Keys | None = None) -> None:
        self._keys = keys or Keys.generate("memory")  # names and addresses are sealed here too, as in SQLite
        self._last_ids: dict[str, int] = {}  # table -> the last id given (ids are never reused after an erase)
        self._participants: dict[int, Participant] = {}
        self._ids_by_ref: dict[str, int] = {}
        self._conversations: dict[int, tuple[str, int]] = {}  # participant id -> (state JSON, revision)
        self._inbox: dict[tuple[str, str], s.Row] = {}  # (channel, channel message id) -> row
        self._seen: set[tuple[str, str]] = set()  # messages of no participant (seen_messages)
        self._answers: list[s.Row] = []
        self._current_answer: dict[tuple[int, int, str], s.Row] = {}
        self._scores: list[s.Row] = []
        self._outbox: dict[int, s.Row] = {}
        self._flows: dict[tuple[str, int], str] = {}
        self._audit: list[s.Row] = []
        self._escalations: dict[int, s.Row] = {}
        self._triggers: list[s.Row] = []
        self._notifications: dict[int, s.Row] = {}
        self._profiles: dict[int, s.Row] = {}
        self._addresses: dict[tuple[int, str], s.Row] = {}  # (participant id, channel) -> row
        self._owners: dict[tuple[str, str], int] = {}  # (channel, address hash) -> participant id
        self._link_codes: dict[str, s.Row] = {}
        self._schedule: dict[int, s.Row] = {}  # id -> row
        self._schedule_keys: dict[int, dict[str, s.Row]] = {}  # participant id -> key -> the same row
        self._tasks: dict[int, s.Row] = {}
        self._marks: list[s.Row] = []
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("storage is closed")

    @property
    def keys(self) -> Keys:
        return self._keys

    def _new_id(self, table: str) -> int:
        self._last_ids[table] = self._last_ids.get(table, 0) + 1
        return self._last_ids[table]

    async def migrate(self) -> None:
        self._check_open()

    async def close(self) -> None:
        self._closed = True

    async def get_or_create_participant(self, ref: str, lang: str, now: datetime) -> Participant:
        self._check_open()
        if ref in self._ids_by_ref:
            return self._participants[self._ids_by_ref[ref]]
        return self._add_participant(ref, lang, s.require_utc(now))

    def _add_participant(self, ref: str, lang: str, created_at: datetime) -> Participant:
        participant = Participant(id=self._new_id("participants"), ref=ref, lang=lang, created_at=created_at)
        self._participants[participant.id] = participant
        self._ids_by_ref[ref] = participant.id
        return participant

    async def participant(self, participant_id: int) -> Participant | None:
        self._check_open()
        return self._participants.get(participant_id)

    async def load_conversation(self, participant_id: int) -> Conversation:
        self._check_open()
        saved = self._conversations.get(participant_id)
        if saved is None:
            return Conversation(participant_id=participant_id, state=None, revision=0)
        return Conversation(participant_id=participant_id, state=s.load_json(self._keys.open(saved[0])),
                            revision=saved[1])

    async def commit_step(self, step: StepRecord) -> CommitResult:
        self._check_open()
        rows = s.step_rows(step, self._keys.seal)
        pid = step.participant_id
        if pid not in self._participants:
            raise s.unknown_participant(pid)
        current = self._conversations.get(pid, ("", 0))[1]
        key = None if step.inbound is None else (step.inbound.channel, step.inbound.channel_message_id)
        if key is not None and key in self._inbox:
            return CommitResult(CommitStatus.DUPLICATE, current)
        if rows.outcome is not None and not s.outcome_applies(self._schedule.get(rows.outcome["id"]), pid):
            return CommitResult(CommitStatus.DUPLICATE, current)  # handled already: write nothing
        if step.expected_revision != current:
            return CommitResult(CommitStatus.CONFLICT, current)
        if key is not None and rows.inbox is not None:
            self._inbox[key] = {"id": self._new_id("inbox"), **rows.inbox}
        self._conversations[pid] = (rows.state, current + 1)
        for answer in rows.answers:
            row = dict(answer)
            previous = self._current_answer.get((pid, row["run_seq"], row["item_id"]))
            if previous is not None:
                previous["superseded"] = True
            self._current_answer[(pid, row["run_seq"], row["item_id"])] = row
            self._answers.append(row)
        for retracted in step.retracted:
            taken_back = self._current_answer.pop((pid, retracted.run_seq, retracted.item_id), None)
            if taken_back is not None:
                taken_back["superseded"] = True
        self._scores.extend(dict(score) for score in rows.scores)
        outbox_ids = []
        for message in rows.outbox:
            outbox_id = self._new_id("outbox")
            self._outbox[outbox_id] = {"id": outbox_id, **message, **_DELIVERY_COLUMNS}
            outbox_ids.append(outbox_id)
        self._audit.extend(rows.audit)
        if step.lang is not None:
            self._participants[pid] = replace(self._participants[pid], lang=step.lang)
        escalation_ids = tuple(self._store_signal(pid, signal) for signal in rows.escalations)
        self._change_schedule(rows)
        self._add_tasks(rows.tasks)
        self._marks.extend(dict(mark) for mark in rows.marks)
        if step.address is not None:  # as SQLite: a refused change writes nothing, the step stands
            with contextlib.suppress(ValueError):
                self._set_address(pid, step.address.channel, step.address.address, step.address.status, step.at)
        if step.consent is not None:
            self._record_consent(pid, step.consent.version, step.at, step.consent.channel)
        return CommitResult(CommitStatus.COMMITTED, current + 1, tuple(outbox_ids), escalation_ids)

    def _store_signal(self, pid: int, signal: s.Row) -> int:
        """The same rules as SQLite's `esc.write_signals`, one signal at a time."""
        current = self._active_escalation(pid)
        changes: s.Row = {}
        if current is None:
            escalation_id = self._new_id("escalations")
            self._escalations[escalation_id] = {"id": escalation_id, **esc.new_escalation_row(pid, signal)}
            before = None
        else:
            escalation_id = current["id"]
            before = dict(current)
            changes = esc.merge_signal(current, signal)
            current.update(changes)
        self._triggers.append(esc.trigger_row(escalation_id, signal))
        self._audit.append(esc.signal_audit(self._participants[pid].ref, escalation_id, signal, before, changes))
        return escalation_id

    def _change_schedule(self, rows: s.StepRows) -> None:
        """A committed step's schedule changes, in SQLite's order: the outcome, the cancellations, the plans."""
        if rows.outcome is not None:
            self._schedule[rows.outcome["id"]].update(s.outcome_changes(rows.outcome))
        if rows.cancel_kinds or rows.cancel_keys:
            for row in self._schedule_keys.get(rows.step.participant_id, {}).values():
                if s.cancels(row, rows.cancel_kinds, rows.cancel_keys):
                    row.update(s.cancel_changes(rows.step.at))
        self._plan(rows.schedule)

    def _plan(self, planned: Iterable[s.Row]) -> int:
        """SQLite's upsert, row by row (see `s.replan_changes`); how many rows were inserted or re-planned."""
        changed = 0
        for new in planned:
            mine = self._schedule_keys.setdefault(new["participant_id"], {})
            row = mine.get(new["key"])
            if row is None:
                row = {"id": self._new_id("schedule"), **new}
                self._schedule[row["id"]] = mine[new["key"]] = row
                changed += 1
            elif changes := s.replan_changes(row, new):
                row.update(changes)
                changed += 1
        return changed

    def _add_tasks(self, tasks: Iterable[s.Row]) -> None:
        for task in tasks:
            task_id = self._new_id("coach_tasks")
            self._tasks[task_id] = {"id": task_id, **task}

    def _active_escalation(self, pid: int) -> s.Row | None:
        for row in self._escalations.values():
            if row["participant_id"] == pid and row["status"] != EscalationStatus.CLOSED:
                return row
        return None

    async def pending_outbox(self, channel: str, limit: int = 100, *, now: datetime | None = None,
                             only_urgent_for: Collection[int] = ()) -> list[OutboxRow]:
        """As `SqliteStorage.pending_outbox` (the rule is in storage/contacts.py)."""
        self._check_open()
        at = None if now is None else s.require_utc(now)
        return ct.pending(list(self._outbox.values()), channel, max(limit, 0), at, frozenset(only_urgent_for))

    async def claimable_outbox(self, channel: str, claimer: str, limit: int, now: datetime,
                               only_urgent_for: Collection[int] = ()) -> list[OutboxRow]:
        """One process, one claimer: the pending rows (no leases are kept here)."""
        return await self.pending_outbox(channel, limit, now=now, only_urgent_for=only_urgent_for)

    async def claim_outbox(self, channel: str, claimer: str, outbox_ids: Sequence[int], now: datetime,
                           lease_until: datetime) -> list[int]:
        """One process, one claimer: the wanted rows still to send."""
        self._check_open()
        return [i for i in outbox_ids if i in self._outbox and ct.to_send(self._outbox[i])]

    async def mark_sent(self, outbox_id: int, at: datetime) -> None:
        self._check_open()
        at = s.require_utc(at)
        row = self._outbox.get(outbox_id)
        if row is not None and row["sent_at"] is None:
            row["sent_at"] = at
            row["attempts"] += 1

    async def remember_flow_version(self, flow_id: str, version: int, source: str, at: datetime) -> str | None:
        self._check_open()
        s.require_utc(at)
        previous = self._flows.get((flow_id, version))
        if previous is None:
            self._flows[(flow_id, version)] = source
        return previous

    async def flow_version_source(self, flow_id: str, version: int) -> str | None:
        self._check_open()
        return self._flows.get((flow_id, version))

    async def export_answers(self) -> list[dict[str, Any]]:
        self._check_open()
        current = [r for r in self._answers if not r["superseded"]]
        current.sort(key=lambda r: (self._ref(r), r["run_seq"], r["answered_at"]))
        return [s.answer_export(r, self._ref(r), self._keys.open) for r in current]

    async def export_scores(self) -> list[dict[str, Any]]:
        self._check_open()
        rows = sorted(self._scores, key=lambda r: (self._ref(r), r["run_seq"], r["completed_at"]))
        return [s.score_export(r, self._ref(r)) for r in rows]

    async def record_audit(self, entry: AuditRecord) -> None:
        self._check_open()
        self._audit.append(s.audit_row(entry))

    async def audit_entries(self, limit: int = 1000) -> list[AuditRecord]:
        """The newest `limit` entries, newest first."""
        self._check_open()
        order = sorted(range(len(self._audit)), key=lambda i: (self._audit[i]["at"], i), reverse=True)
        return [s.audit_from_row(self._audit[i]) for i in order[:limit]]

    def _ref(self, row: s.Row) -> str:
        return self._participants[row["participant_id"]].ref

    # -- escalations: the same rules and audit rows as storage/escalations.py, on dicts --

    def _escalation(self, row: s.Row) -> Escalation:
        triggers = tuple(s.trigger_from_row(t, self._keys.open) for t in self._triggers
                         if t["escalation_id"] == row["id"])
        return s.escalation_from_row(row, self._ref(row), tuple(sorted(triggers, key=lambda t: t.at)))

    async def escalations(self, only_open: bool = False) -> list[Escalation]:
        """All escalations, newest first; `only_open`: those not closed."""
        self._check_open()
        rows = [r for r in self._escalations.values() if not only_open or r["status"] != EscalationStatus.CLOSED]
        rows.sort(key=lambda r: (r["opened_at"], r["id"]), reverse=True)
        return [self._escalation(r) for r in rows]

    async def escalation(self, escalation_id: int) -> Escalation | None:
        self._check_open()
        row = self._escalations.get(escalation_id)
        return None if row is None else self._escalation(row)

    async def due_escalations(self, now: datetime) -> list[Escalation]:
        """Open (unacknowledged) escalations whose deadline is at or before `now`, oldest deadline first."""
        self._check_open()
        now = s.require_utc(now)
        rows = [
            r
            for r in self._escalations.values()
            if r["status"] == EscalationStatus.OPEN and r["deadline_at"] is not None and r["deadline_at"] <= now
        ]
        rows.sort(key=lambda r: (r["deadline_at"], r["id"]))
        return [self._escalation(r) for r in rows]

    async def raise_tier(self, escalation_id: int, tier: int, deadline_at: datetime, at: datetime) -> bool:
        self._check_open()
        op = esc.RaiseTier(escalation_id, s.require_tier(tier), s.require_utc(deadline_at), s.require_utc(at))
        row = self._escalations.get(escalation_id)
        if row is None or row["status"] != EscalationStatus.OPEN or row["deadline_at"] is None \
                or row["deadline_at"] > op.at:
            return False
        row.update(op.changes())
        self._audit.append(op.audit(self._ref(row), row["level"]))
        return True

    async def acknowledge_escalation(self, escalation_id: int, coach_id: str, at: datetime) -> bool:
        self._check_open()
        op = esc.Acknowledge(escalation_id, s.require_actor(coach_id), s.require_utc(at))
        row = self._escalations.get(escalation_id)
        if row is None or row["status"] != EscalationStatus.OPEN:
            return False
        row.update(op.changes())
        self._audit.append(op.audit(self._ref(row), row["level"]))
        return True

    async def close_escalation(self, escalation_id: int, coach_id: str, note: str, at: datetime) -> bool:
        self._check_open()
        op = esc.Close(escalation_id, s.require_actor(coach_id), s.outcome_note(note), s.require_utc(at))
        row = self._escalations.get(escalation_id)
        if row is None or row["status"] == EscalationStatus.CLOSED:
            return False
        previous_status = row["status"]
        if row["acknowledged_by"] is None:
            row["acknowledged_by"] = op.coach_id
        if row["acknowledged_at"] is None:
            row["acknowledged_at"] = op.at
        row.update(op.changes())
        self._audit.append(op.audit(self._ref(row), row["level"], previous_status))
        return True

    async def add_notification(
        self, escalation_id: int, coach_id: str, channel: str, tier: int, at: datetime
    ) -> Notification:
        self._check_open()
        op = esc.AddNotification(
            escalation_id, s.require_actor(coach_id), channel, s.require_tier(tier), s.require_utc(at)
        )
        owner = self._escalations.get(escalation_id)
        if owner is None:
            raise s.UnknownEscalationError(f"escalation {escalation_id} does not exist")
        row = {"id": self._new_id("notifications"), **op.row()}
        self._notifications[row["id"]] = row
        self._audit.append(op.audit(row, self._ref(owner)))
        return s.notification_from_row(row)

    async def update_notification(
        self, notification_id: int, status: NotificationStatus, at: datetime, detail: str = ""
    ) -> None:
        self._check_open()
        op = esc.UpdateNotification(notification_id, NotificationStatus(status), s.require_utc(at), detail)
        row = self._notifications.get(notification_id)
        if row is None:
            raise s.UnknownNotificationError(f"notification {notification_id} does not exist")
        row["attempts"] += 1
        row.update(op.changes())
        self._audit.append(op.audit(row, self._ref(self._escalations[row["escalation_id"]])))

    async def notifications(
        self, escalation_id: int | None = None, status: NotificationStatus | None = None
    ) -> list[Notification]:
        self._check_open()
        wanted = None if status is None else NotificationStatus(status).value
        rows = [
            r
            for r in self._notifications.values()
            if escalation_id in (None, r["escalation_id"]) and wanted in (None, r["status"])
        ]
        rows.sort(key=lambda r: (r["created_at"], r["id"]))
        return [s.notification_from_row(r) for r in rows]

    async def recent_answers(self, participant_id: int, limit: int = 20) -> list[dict[str, Any]]:
        """The participant's latest non-superseded answers (export_answers' columns), newest first."""
        self._check_open()
        mine = [
            (r["answered_at"], i, r)
            for i, r in enumerate(self._answers)
            if r["participant_id"] == participant_id and not r["superseded"]
        ]
        mine.sort(key=lambda x: (x[0], x[1]), reverse=True)
        return [s.answer_export(r, self._ref(r), self._keys.open) for _, _, r in mine[: max(limit, 0)]]

    async def recent_scores(self, participant_id: int, limit: int = 10) -> list[dict[str, Any]]:
        """The participant's latest scores (export_scores' columns), newest first."""
        self._check_open()
        mine = [(r["completed_at"], i, r) for i, r in enumerate(self._scores) if r["participant_id"] == participant_id]
        mine.sort(key=lambda x: (x[0], x[1]), reverse=True)
        return [s.score_export(r, self._ref(r)) for _, _, r in mine[: max(limit, 0)]]

    # -- enrolment, channel addresses and delivery: the same rules and audit rows as storage/contacts.py --

    def _known(self, participant_id: int) -> Participant:
        participant = self._participants.get(participant_id)
        if participant is None:
            raise s.unknown_participant(participant_id)
        return participant

    def _put_address(self, pid: int, channel: str, address: ct.Sealed, status: AddressStatus, at: datetime) -> bool:
        current = self._addresses.get((pid, channel))
        if not ct.address_changes(current, address, status):
            return False
        if current is not None:
            del self._owners[(channel, current["address_hash"])]
        self._addresses[(pid, channel)] = ct.address_row(pid, channel, address, status, at)
        self._owners[(channel, address.hash)] = pid
        return True

    async def enroll(self, enrollment: Enrollment, now: datetime) -> Participant:
        self._check_open()
        new = ct.new_participant(enrollment, now, self._keys)
        if new.ref in self._ids_by_ref:
            raise ValueError(ct.REF_TAKEN)
        if new.phone is not None and (ct.SMS, new.phone.hash) in self._owners:
            raise ValueError(ct.PHONE_TAKEN)
        participant = self._add_participant(new.ref, new.participant["lang"], new.at)
        self._profiles[participant.id] = dict(new.profile)
        if new.phone is not None:
            self._put_address(participant.id, ct.SMS, new.phone, AddressStatus.ACTIVE, new.at)
        self._audit.append(new.audit())
        return participant

    async def profile(self, participant_id: int) -> Profile | None:
        self._check_open()
        row = self._profiles.get(participant_id)
        return None if row is None else ct.profile_from_row(self._participants[participant_id], row, self._keys)

    async def participant_by_address(self, channel: str, address: str) -> Participant | None:
        found = await self.identify(channel, address)
        return None if found is None else found.participant

    async def first_sighting(self, channel: str, message_id: str, at: datetime) -> bool:
        self._check_open()
        key = (ct.check_status(channel), s.check_message_id(message_id))
        s.require_utc(at)
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    async def forget_sighting(self, channel: str, message_id: str) -> None:
        self._check_open()
        self._seen.discard((channel, message_id))

    async def identify(self, channel: str, address: str) -> Identity | None:
        self._check_open()
        owner = self._owners.get((channel, self._keys.digest(channel, address)))
        if owner is None:
            return None
        row = self._addresses[(owner, channel)]
        return Identity(self._participants[owner], AddressStatus(row["status"]))

    async def addresses(self, participant_id: int) -> list[ChannelAddress]:
        self._check_open()
        rows = [row for (pid, _), row in self._addresses.items() if pid == participant_id]
        return [ct.address_from_row(row, self._keys) for row in sorted(rows, key=lambda r: r["channel"])]

    async def set_address(
        self, participant_id: int, channel: str, address: str, status: AddressStatus, at: datetime
    ) -> None:
        self._check_open()
        self._set_address(participant_id, channel, address, status, at)

    def _set_address(self, participant_id: int, channel: str, address: str, status: AddressStatus,
                     at: datetime) -> None:
        channel, address, status = ct.check_address(channel, address, status)
        at = s.require_utc(at)
        participant = self._known(participant_id)
        sealed = ct.seal_address(self._keys, channel, address)
        if self._owners.get((channel, sealed.hash), participant_id) != participant_id:
            raise ValueError(ct.ADDRESS_TAKEN)
        if self._put_address(participant_id, channel, sealed, status, at):
            self._audit.append(ct.address_audit(participant.ref, channel, status, at))

    async def add_link_code(self, participant_id: int, code_digest: str, expires_at: datetime, at: datetime) -> None:
        self._check_open()
        op = ct.AddLinkCode(participant_id, ct.check_digest(code_digest), s.require_utc(expires_at), s.require_utc(at))
        self._known(participant_id)
        if op.code_digest in self._link_codes:
            raise ValueError("code_digest: this code exists already")
        self._link_codes[op.code_digest] = op.row()

    async def redeem_link_code(self, code_digest: str, channel: str, address: str, at: datetime) -> Participant | None:
        self._check_open()
        channel, address, _ = ct.check_address(channel, address, AddressStatus.ACTIVE)
        at = s.require_utc(at)
        sealed = ct.seal_address(self._keys, channel, address)
        code = self._link_codes.get(code_digest)
        if code is None or not ct.redeemable(code, self._owners.get((channel, sealed.hash)), at):
            return None
        code["used_at"] = at
        participant = self._participants[code["participant_id"]]
        self._put_address(participant.id, channel, sealed, AddressStatus.ACTIVE, at)
        self._audit.append(ct.linked_audit(participant.ref, channel, at))
        return participant

    async def record_consent(self, participant_id: int, version: str, at: datetime, channel: str | None = None) -> None:
        self._check_open()
        self._record_consent(participant_id, version, at, channel)

    def _record_consent(self, participant_id: int, version: str, at: datetime, channel: str | None) -> None:
        version, channel, at = ct.check_version(version), ct.check_consent_channel(channel), s.require_utc(at)
        participant = self._known(participant_id)
        profile = self._profiles.setdefault(participant_id, ct.empty_profile(self._keys.seal("")))
        profile.update(consent_version=version, consent_at=at, consent_channel=channel)
        self._audit.append(ct.consent_audit(participant.ref, version, channel, at))

    # -- data protection: the same rows and rules as storage/person.py, on dicts --

    def _rows_about(self, pid: int) -> dict[str, list[s.Row]]:
        """The participant's rows by table, in the schema's order, as SQLite's `person.person_rows` finds them."""
        p = self._participants[pid]
        subject = person.subject_of(p.ref)
        escalations = [row for row in self._escalations.values() if row["participant_id"] == pid]
        ids = {row["id"] for row in escalations}
        conversation = self._conversations.get(pid)
        profile = self._profiles.get(pid)
        found: dict[str, list[s.Row]] = {
            "participants": [{"id": p.id, "ref": p.ref, "lang": p.lang, "created_at": p.created_at}],
            "audit_log": [row for row in self._audit if subject in (row["subject"], row["actor"])],
            "conversations": [] if conversation is None else
            [{"participant_id": pid, "state": conversation[0], "revision": conversation[1]}],
            "answers": [row for row in self._answers if row["participant_id"] == pid],
            "scores": [row for row in self._scores if row["participant_id"] == pid],
            "outbox": [row for row in self._outbox.values() if row["participant_id"] == pid],
            "inbox": [row for row in self._inbox.values() if row["participant_id"] == pid],
            "escalations": escalations,
            "escalation_triggers": [row for row in self._triggers if row["escalation_id"] in ids],
            "notifications": [row for row in self._notifications.values() if row["escalation_id"] in ids],
            "profiles": [] if profile is None else [{"participant_id": pid, **profile}],
            "addresses": [row for (owner, _), row in self._addresses.items() if owner == pid],
            "link_codes": [row for row in self._link_codes.values() if row["participant_id"] == pid],
            "schedule": [row for row in self._schedule.values() if row["participant_id"] == pid],
            "coach_tasks": [row for row in self._tasks.values() if row["participant_id"] == pid],
            "programme_marks": [row for row in self._marks if row["participant_id"] == pid],
        }
        return {t.name: found[t.name] for t in s.metadata.sorted_tables if t.name in found}

    async def person_data(self, participant_id: int) -> dict[str, list[dict[str, Any]]] | None:
        self._check_open()
        if participant_id not in self._participants:
            return None
        return person.present(self._rows_about(participant_id), self._keys)

    async def erase_participants(self, participant_ids: Sequence[int], actor: str, reason: str, at: datetime,
                                 keep_scores: bool = False) -> list[dict[str, int] | None]:
        self._check_open()
        actor, reason = person.check_erase(actor, reason)
        at = s.require_utc(at)
        return [self._erase(erasure, actor, reason, at) for erasure in person.erasures(participant_ids, keep_scores)]

    def _erase(self, erasure: person.Erasure, actor: str, reason: str, at: datetime) -> dict[str, int] | None:
        pid = erasure.participant_id
        gone = self._participants.get(pid)
        if gone is None:
            return None
        kept = 0
        if erasure.anonymous_ref is not None:  # re-keyed first, like SQLite: they are not counted as removed
            anonymous = self._add_participant(erasure.anonymous_ref, gone.lang, at)
            for row in self._scores:
                if row["participant_id"] == pid:
                    row["participant_id"] = anonymous.id
                    kept += 1
            for row in self._marks:
                if row["participant_id"] == pid and row["kind"] in person.KEPT_MARKS:
                    row["participant_id"] = anonymous.id
        kept_audit = 0
        for row in self._audit:
            if person.by_staff(row, gone.ref):
                row["subject"] = person.ERASED_SUBJECT
                kept_audit += 1
        counts = {table: len(rows) for table, rows in self._rows_about(pid).items() if rows}
        subject = person.subject_of(gone.ref)
        escalations = {i for i, row in self._escalations.items() if row["participant_id"] == pid}
        del self._participants[pid], self._ids_by_ref[gone.ref]
        self._conversations.pop(pid, None)
        self._profiles.pop(pid, None)
        self._schedule_keys.pop(pid, None)
        self._inbox = {k: row for k, row in self._inbox.items() if row["participant_id"] != pid}
        self._answers = [row for row in self._answers if row["participant_id"] != pid]
        self._current_answer = {k: row for k, row in self._current_answer.items() if k[0] != pid}
        self._scores = [row for row in self._scores if row["participant_id"] != pid]
        self._outbox = {i: row for i, row in self._outbox.items() if row["participant_id"] != pid}
        self._audit = [row for row in self._audit if subject not in (row["subject"], row["actor"])]
        self._escalations = {i: row for i, row in self._escalations.items() if i not in escalations}
        self._triggers = [row for row in self._triggers if row["escalation_id"] not in escalations]
        self._notifications = {i: row for i, row in self._notifications.items()
                               if row["escalation_id"] not in escalations}
        self._addresses = {k: row for k, row in self._addresses.items() if k[0] != pid}
        self._owners = {k: owner for k, owner in self._owners.items() if owner != pid}
        self._link_codes = {k: row for k, row in self._link_codes.items() if row["participant_id"] != pid}
        self._schedule = {i: row for i, row in self._schedule.items() if row["participant_id"] != pid}
        self._tasks = {i: row for i, row in self._tasks.items() if row["participant_id"] != pid}
        self._marks = [row for row in self._marks if row["participant_id"] != pid]
        self._audit.append(person.erased_audit(actor, reason, at, counts, kept, kept_audit))
        return counts

    async def start_dates(self) -> list[tuple[Participant, date | None]]:
        self._check_open()
        return [(p, (self._profiles.get(pid) or {}).get("start_date")) for pid, p in sorted(self._participants.items())
                if not p.ref.startswith(person.ANONYMOUS_PREFIX)]

    def _outbox_row(self, outbox_id: int) -> s.Row:
        row = self._outbox.get(outbox_id)
        if row is None:
            raise s.UnknownOutboxError(f"outbox row {outbox_id} does not exist")
        return row

    async def mark_delivery(
        self, outbox_id: int, provider_id: str | None, status: str, at: datetime, detail: str = ""
    ) -> None:
        self._check_open()
        status, at = ct.check_status(status), s.require_utc(at)
        row = self._outbox_row(outbox_id)
        changes = ct.delivery_changes(row, provider_id, status, at, detail)
        taken = changes.get("provider_id")
        if taken is not None and any(r["provider_id"] == taken and r is not row for r in self._outbox.values()):
            raise ValueError(ct.PROVIDER_ID_TAKEN)
        row.update(changes)

    async def outbox_by_provider_id(self, provider_id: str) -> OutboxRow | None:
        self._check_open()
        for row in self._outbox.values():
            if row["provider_id"] == provider_id:
                return ct.outbox_from_row(row)
        return None

    async def defer_outbox(self, outbox_id: int, not_before: datetime, at: datetime, detail: str = "") -> None:
        self._check_open()
        not_before, at = s.require_utc(not_before), s.require_utc(at)
        row = self._outbox_row(outbox_id)
        row.update(ct.defer_changes(row, not_before, detail))

    async def give_up_outbox(self, outbox_id: int, at: datetime, detail: str) -> None:
        self._check_open()
        at = s.require_utc(at)
        row = self._outbox_row(outbox_id)
        changes = ct.give_up_changes(row, at, detail)
        if changes:
            row.update(changes)
            self._audit.append(ct.given_up_audit(self._ref(row), row, at))

    async def undelivered_urgent(self, created_before: datetime, limit: int = 100) -> list[UndeliveredRow]:
        self._check_open()
        before = s.require_utc(created_before)
        rows = sorted((r for r in self._outbox.values() if und.is_undelivered_urgent(r, before)),
                      key=lambda r: (r["created_at"], r["id"]))
        return [und.undelivered_from_row(r) for r in rows[:max(limit, 0)]]

    async def mark_undelivered_told(self, outbox_id: int, at: datetime) -> None:
        self._check_open()
        at = s.require_utc(at)
        row = self._outbox_row(outbox_id)
        if row["undelivered_told_at"] is None:
            row["undelivered_told_at"] = at

    async def given_up_messages(self, participant_id: int, limit: int = 20) -> list[UndeliveredRow]:
        self._check_open()
        rows = sorted((r for r in self._outbox.values()
                       if r["participant_id"] == participant_id and r["given_up_at"] is not None),
                      key=lambda r: (r["given_up_at"], r["id"]), reverse=True)
        return [und.undelivered_from_row(r) for r in rows[:max(limit, 0)]]

    # -- the programme: the same rules as SQLite's (storage/schema.py), on dicts --

    async def add_schedule(self, entries: Sequence[tuple[int, ScheduledRecord]], at: datetime) -> int:
        self._check_open()
        rows = s.schedule_rows(entries, at)
        for pid in sorted({row["participant_id"] for row in rows}):
            self._known(pid)
        return self._plan(rows)

    async def claim_schedule(self, now: datetime, limit: int, lease_until: datetime) -> list[ScheduleRow]:
        self._check_open()
        now, lease_until = s.require_utc(now), s.require_utc(lease_until)
        due = [row for row in self._schedule.values() if s.claimable(row, now)]
        due.sort(key=lambda row: (row["due_at"], row["id"]))
        claimed = due[: max(limit, 0)]
        for row in claimed:
            row["claimed_until"] = lease_until
        return [s.schedule_from_row(row) for row in claimed]

    async def schedule_of(self, participant_id: int) -> list[ScheduleRow]:
        self._check_open()
        rows = sorted(self._schedule_keys.get(participant_id, {}).values(), key=lambda row: (row["due_at"], row["id"]))
        return [s.schedule_from_row(row) for row in rows]

    async def coach_tasks(self, only_open: bool = True, participant_id: int | None = None) -> list[CoachTask]:
        self._check_open()
        rows = [
            row
            for row in self._tasks.values()
            if not (only_open and row["done_at"] is not None) and participant_id in (None, row["participant_id"])
        ]
        rows.sort(key=lambda row: (row["created_at"], row["id"]))
        return [s.task_from_row(row) for row in rows]

    async def complete_task(self, task_id: int, coach_id: str, at: datetime) -> bool:
        self._check_open()
        coach_id, at = s.require_actor(coach_id), s.require_utc(at)
        row = self._tasks.get(task_id)
        if row is None or row["done_at"] is not None:
            return False
        row.update(done_at=at, done_by=coach_id)
        return True

    async def marks(self, participant_id: int | None = None) -> list[Mark]:
        self._check_open()
        return [s.mark_from_row(row) for row in self._marks if participant_id in (None, row["participant_id"])]

    async def flow_scores(self, participant_id: int, flow_id: str) -> list[ScoreRecord]:
        self._check_open()
        mine = [
            (row["completed_at"], i, row)
            for i, row in enumerate(self._scores)
            if row["participant_id"] == participant_id and row["flow_id"] == flow_id
        ]
        mine.sort(key=lambda x: (x[0], x[1]))
        return [s.score_from_row(row) for _, _, row in mine]

    async def add_mark(self, participant_id: int, record: MarkRecord) -> None:
        self._check_open()
        self._marks.append(s.mark_row(participant_id, record))

    async def participant_ids(self, coach_id: str | None = None) -> list[int]:
        self._check_open()
        return sorted(pid for pid, row in self._profiles.items() if coach_id in (None, row.get("coach_id")))
