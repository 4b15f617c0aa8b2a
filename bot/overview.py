"""The coaches' overview: their participants at a glance, one participant in depth, notes and tasks.

A coach sees only the participants whose profile names them as coach; an administrator (role: admin in the
deployment) sees everyone. Every look and every change is written to the audit log, without personal data.
The overview reads the stored answers and milestones; it never changes a conversation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from bot import people
from bot.clock import COPENHAGEN, Clock
from bot.conversation import tre_sessions
from bot.deployment import Deployment
from bot.rendering import Catalogs, format_number
from flows import phrases
from flows.programme import Programme
from flows.tre import log_flow
from storage.ports import Storage
from storage.records import AuditRecord, CoachTask, MarkRecord, Profile, ScoreRecord, UndeliveredRow

NOTE_KIND = "coach_note"  # notes are kept as programme marks of this kind (erased with the person)
MIN_NOTE = 3
MAX_NOTE = 2000
EXCERPT = 60  # characters of a message that was not delivered, to tell which one it was
TASK_NAMES = {
    "consider_referral": phrases.TASK_CONSIDER_REFERRAL,
    "consider_ending": phrases.TASK_CONSIDER_ENDING,
    "entry_criterion_not_met": phrases.TASK_ENTRY_CRITERION,
    "evaluate_manually": phrases.TASK_EVALUATE_MANUALLY,
    "wellbeing_fall": phrases.TASK_WELLBEING_FALL,
    "wave_missed": phrases.TASK_WAVE_MISSED,
    "tre_checkin": phrases.TASK_TRE_CHECKIN,
    "message_unread": phrases.TASK_MESSAGE_UNREAD,
    "contact_request": phrases.TASK_CONTACT_REQUEST,
    "appointment_missed": phrases.TASK_APPOINTMENT_MISSED,
    "appointment_move": phrases.TASK_APPOINTMENT_MOVE,
    "group_sessions_full": phrases.TASK_GROUP_SESSIONS_FULL,
}
TRENDS = (("pss10", "total", "PSS-10"), ("who5", "percent", "WHO-5 %"),
          ("life_satisfaction", "satisfaction", "Livstilfredshed"))


async def write_note(storage: Storage, coach_id: str, profile: Profile, text: str, at: datetime,
                     via: str | None = None) -> bool:
    """A coach's note on a person (the terminal's NOTE, the desk's person page): a mark of `NOTE_KIND`, erased with
    the person, and an audit row without its text. False, writing nothing, for a note shorter than `MIN_NOTE`."""
    if len(text.strip()) < MIN_NOTE:
        return False
    subject = f"participant:{profile.participant.ref}"
    await storage.add_mark(profile.participant.id, MarkRecord(NOTE_KIND, coach_id, {"text": text.strip()[:MAX_NOTE]},
                                                              at))
    await storage.record_audit(AuditRecord(f"coach:{coach_id}", "note.written", subject, at,
                                           {"via": via} if via else {}))
    return True


class CoachOverview:
    def __init__(self, storage: Storage, deployment: Deployment, catalogs: Catalogs, clock: Clock,
                 programme_of: Callable[[int], Awaitable[Programme | None]], lang: str = "da") -> None:
        """`programme_of`: a participant's own programme (`ConversationLoop.programme_of`)."""
        self.storage = storage
        self.deployment = deployment
        self.catalogs = catalogs
        self.clock = clock
        self.programme_of = programme_of
        self.lang = lang

    def t(self, msgid: str, **params: object) -> str:
        return self.catalogs.gettext(self.lang, msgid).format(**params)

    def _num(self, value: float) -> str:
        return format_number(round(value, 1), self.lang)

    async def _mine(self, coach_id: str) -> list[Profile]:
        coach = self.deployment.coaches[coach_id]
        ids = await self.storage.participant_ids(None if coach.is_admin else coach_id)
        profiles = [await self.storage.profile(pid) for pid in ids]
        return [p for p in profiles if p is not None]

    async def _find(self, coach_id: str, ref: str) -> Profile | None:
        """One of the coach's own, or someone whose alert the coach may act on (bot/people.py)."""
        return next((p for p in await people.visible(self.storage, self.deployment, coach_id)
                     if p.participant.ref == ref.strip()), None)

    async def _refuse(self, coach_id: str, ref: str) -> str:
        """Someone not theirs: the same answer whether the ref exists or not, and a note in the audit log."""
        await self._audit(coach_id, "overview.refused", "participant")
        return self.t(phrases.OVERVIEW_UNKNOWN, ref=ref.strip()[:40])

    async def _audit(self, coach_id: str, action: str, subject: str, detail: dict[str, object] | None = None) -> None:
        await self.storage.record_audit(AuditRecord(f"coach:{coach_id}", action, subject, self.clock.now(),
                                                    detail or {}))

    # -- the list ----------------------------------------------------------------------------------------------

    async def participants(self, coach_id: str) -> str:
        mine = await self._mine(coach_id)
        await self._audit(coach_id, "overview.listed", "participants", {"count": len(mine)})
        for profile in mine:  # whose figures were seen: a person's own export shows it
            await self._audit(coach_id, "overview.listed", f"participant:{profile.participant.ref}")
        if not mine:
            return self.t(phrases.OVERVIEW_NONE)
        open_tasks = await self.storage.coach_tasks(only_open=True)
        open_alerts = await self.storage.escalations(only_open=True)
        lines = []
        for profile in mine:
            pid = profile.participant.id
            lines.append(self.t(
                phrases.OVERVIEW_LINE, ref=profile.participant.ref, week=self._week(profile),
                modules=await self._modules(pid), pss=await self._trend(pid, "pss10", "total"),
                who5=await self._trend(pid, "who5", "percent"),
                open_tasks=sum(t.participant_id == pid for t in open_tasks),
                alerts=sum(e.participant_id == pid for e in open_alerts)))
        return "\n".join(lines)

    def _week(self, profile: Profile) -> str:
        if profile.start_date is None:
            return "–"
        days = (self.clock.now().astimezone(COPENHAGEN).date() - profile.start_date).days
        return str(days // 7 + 1) if days >= 0 else "–"

    async def _modules(self, participant_id: int) -> str:
        done = {m.key for m in await self.storage.marks(participant_id) if m.kind == "module_done"}
        programme = await self.programme_of(participant_id)
        total = len(programme.modules) if programme else 0
        return f"{len(done)}/{total}"

    async def _scores(self, participant_id: int, flow_id: str, score_id: str) -> list[ScoreRecord]:
        return [s for s in await self.storage.flow_scores(participant_id, flow_id) if s.score_id == score_id]

    async def _trend(self, participant_id: int, flow_id: str, score_id: str) -> str:
        """The last value with an arrow from the one before: "22 → 18 ↓"; "–" when nothing is answered."""
        values = [s.value for s in await self._scores(participant_id, flow_id, score_id)]
        if not values:
            return "–"
        if len(values) == 1:
            return self._num(values[-1])
        before, last = values[-2], values[-1]
        arrow = "↑" if last > before else "↓" if last < before else "→"
        return f"{self._num(before)} → {self._num(last)} {arrow}"

    # -- one participant ---------------------------------------------------------------------------------------

    async def participant(self, coach_id: str, ref: str) -> str:
        profile = await self._find(coach_id, ref)
        if profile is None:
            return await self._refuse(coach_id, ref)
        pid = profile.participant.id
        given_up = await self.storage.given_up_messages(pid)
        await self._audit(coach_id, "overview.viewed", f"participant:{profile.participant.ref}",
                          {"given_up": len(given_up)} if given_up else None)
        start = profile.start_date.strftime("%d.%m.%Y") if profile.start_date else "–"
        lines = [self.t(phrases.OVERVIEW_HEADER, ref=profile.participant.ref, name=profile.name, start=start,
                        week=self._week(profile), coach=profile.coach_id or "–", modules=await self._modules(pid)),
                 self.t(phrases.COACH_CONTACT, details=await people.contact(self.storage, profile)),
                 await self._consent(profile)]
        for flow_id, score_id, label in TRENDS:
            scores = await self._scores(pid, flow_id, score_id)
            if scores:
                values = ", ".join(f"{self._day(s.completed_at)} {self._num(s.value)}" for s in scores)
                lines.append(f"{label}: {values}")
        lines += await self._checkins(pid)
        sessions = await tre_sessions(self.storage, pid, log_flow(await self.programme_of(pid)))
        if sessions:
            weeks = max(1.0, (self.clock.now() - sessions[0].at).days / 7)
            change = sum(s.change for s in sessions) / len(sessions)
            lines.append(self.t(phrases.OVERVIEW_TRE, count=len(sessions), per_week=self._num(len(sessions) / weeks),
                                change=self._num(change)))
        for mark in await self.storage.marks(pid):
            if mark.kind == NOTE_KIND:
                lines.append(self.t(phrases.OVERVIEW_NOTE, date=self._day(mark.at), coach=mark.key,
                                    text=str(mark.detail.get("text", ""))))
        lines += [self._task_line(task, profile) for task in await self.storage.coach_tasks(participant_id=pid)]
        lines += [self._given_up_line(g) for g in given_up]
        return "\n".join(lines)

    async def _consent(self, profile: Profile) -> str:
        """Given (when, which version), declined (when), or not answered: a decline is the coach's to follow."""
        declined = [m for m in await self.storage.marks(profile.participant.id) if m.kind == "consent_declined"]
        if profile.consent_at is not None and (not declined or declined[-1].at <= profile.consent_at):
            return self.t(phrases.OVERVIEW_CONSENT_GIVEN, date=self._day(profile.consent_at),
                          version=profile.consent_version or "–")
        if declined:
            return self.t(phrases.OVERVIEW_CONSENT_DECLINED, date=self._day(declined[-1].at))
        return self.t(phrases.OVERVIEW_CONSENT_NONE)

    async def find(self, coach_id: str, query: str) -> str:
        """FIND <name or phone number>: among the people the coach may open; each hit audited."""
        found = await people.search(self.storage, self.deployment, coach_id, query)
        await self._audit(coach_id, "overview.searched", "participants", {"hits": len(found)})
        if not found:
            return self.t(phrases.FIND_NONE, query=query.strip()[:40])
        lines = []
        for profile in found:
            await self._audit(coach_id, "overview.found", f"participant:{profile.participant.ref}")
            lines.append(f"{profile.participant.ref}: {await people.contact(self.storage, profile)}")
        return "\n".join(lines)

    def _given_up_line(self, given_up: UndeliveredRow) -> str:
        """A message the bot stopped trying to send, newest first: when, why, and how it began (the coach may need
        to say it in person)."""
        text = " ".join(str(given_up.row.payload.get("text", "")).split())
        when = given_up.given_up_at or given_up.row.created_at
        return self.t(phrases.OVERVIEW_GIVEN_UP, channel=given_up.row.channel, reason=given_up.detail or "–",
                      date=when.astimezone(COPENHAGEN).strftime("%d.%m %H:%M"),
                      text=text if len(text) <= EXCERPT else text[:EXCERPT - 1] + "…")

    async def _checkins(self, participant_id: int) -> list[str]:
        """The weekly check-ins' well-being and words, so the coach has read them before the next talk."""
        answers = [a for a in await self.storage.recent_answers(participant_id, 200) if a["flow_id"] == "checkin"]
        by_run: dict[int, dict[str, object]] = {}
        for answer in answers:
            by_run.setdefault(int(answer["run_seq"]), {})[str(answer["item_id"])] = answer["value"]
        lines = []
        for run in sorted(by_run)[-4:]:
            items = by_run[run]
            words = f", {items['words']}" if items.get("words") else ""
            lines.append(f"Check-in: {items.get('wellbeing', '–')}/10{words}")
        return lines

    def _day(self, moment: datetime) -> str:
        return moment.astimezone(COPENHAGEN).strftime("%d.%m")

    # -- notes and tasks ---------------------------------------------------------------------------------------

    async def note(self, coach_id: str, ref: str, text: str) -> str:
        profile = await self._find(coach_id, ref)
        if profile is None:
            return await self._refuse(coach_id, ref)
        if not await write_note(self.storage, coach_id, profile, text, self.clock.now()):
            return self.t(phrases.OVERVIEW_NOTE_NEEDED)
        return self.t(phrases.OVERVIEW_NOTE_SAVED, ref=profile.participant.ref)

    async def tasks(self, coach_id: str) -> str:
        mine = {p.participant.id: p for p in await self._mine(coach_id)}
        tasks = [t for t in await self.storage.coach_tasks(only_open=True) if t.participant_id in mine]
        await self._audit(coach_id, "tasks.viewed", "tasks", {"count": len(tasks)})
        return "\n".join(self._task_line(t, mine[t.participant_id]) for t in tasks) or self.t(
            phrases.OVERVIEW_TASKS_NONE)

    def _task_line(self, task: CoachTask, profile: Profile) -> str:
        kind = self.t(TASK_NAMES[task.kind]) if task.kind in TASK_NAMES else task.kind
        numbers = {k: v for k, v in task.detail.items() if k in ("baseline", "now", "from", "to", "wave")}
        detail = f" ({', '.join(f'{k} {v}' for k, v in numbers.items())})" if numbers else ""
        due = self._day(task.due_at) if task.due_at else "–"
        done = f" ✓ {self._day(task.done_at)}" if task.done_at else ""
        return self.t(phrases.OVERVIEW_TASK, id=task.id, ref=profile.participant.ref, kind=kind, detail=detail,
                      due=due) + done

    async def task_done(self, coach_id: str, task_id: int, note: str = "") -> str:
        if await self.complete_task(coach_id, task_id, note) is None:
            return self.t(phrases.OVERVIEW_TASK_UNKNOWN, id=task_id)
        return self.t(phrases.OVERVIEW_TASK_DONE, id=task_id)

    async def complete_task(self, coach_id: str, task_id: int, note: str = "") -> CoachTask | None:
        """DONE: an open task of one of the coach's own participants (an administrator's: anyone's) is done, with
        the coach's note kept as a note on the person (what was done); None when it is not theirs or not open.
        Audited without the note's text."""
        coach = self.deployment.coaches[coach_id]
        task = next((t for t in await self.storage.coach_tasks(only_open=True) if t.id == task_id), None)
        if task is None:
            return None
        profile = await self.storage.profile(task.participant_id)
        if profile is None or not (coach.is_admin or profile.coach_id == coach_id):
            return None
        if not await self.storage.complete_task(task_id, coach_id, self.clock.now()):
            return None
        text = note.strip()[:MAX_NOTE]
        if text:
            await self.storage.add_mark(task.participant_id, MarkRecord(
                NOTE_KIND, coach_id, {"text": text, "task_id": task_id}, self.clock.now()))
        await self._audit(coach_id, "task.done", f"task:{task_id}",
                          {"participant": profile.participant.ref, "note": bool(text)})
        return task
