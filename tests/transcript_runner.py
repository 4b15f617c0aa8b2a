"""Transcripts as data: the conversations in tests/transcripts/*.txt, replayed through the real bot.

A transcript is a conversation an administrator can read (tests/transcripts/README.md): who the participant is and
what time it is, then what they write (`> ja`), what the bot answers (`< Tak ...`) and what happened behind the
scenes (`! score pss10 total = 23`). `replay` feeds every input through the real ConversationLoop on a fresh SQLite
file, with the real flow files (and tests/transcripts/flows/) and the real catalogs, under a fixed clock and seeded
ids, writes down what the bot did in the same notation, and compares it with the file (in the style of
nyaruka/goflow's runner tests). tests/test_transcripts_data.py runs every file; `--update-transcripts` writes what
the bot does now into the files.

The bot is driven through `handle` only: the one place that knows the conversation loop's signature.
"""

from __future__ import annotations

import difflib
import random
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from bot.app import App, open_app
from bot.channels.base import as_plain_text
from bot.clock import FakeClock
from bot.deployment import Coach
from bot.dispatcher import deliver_pending
from bot.flowregistry import DEFAULT_FLOWS_DIR
from bot.gsm import to_gsm
from bot.inbound import Inbound
from flows.inputs import Input, Resume, StartFlow, Text
from storage.records import (
    AddressStatus,
    AuditRecord,
    CoachMessage,
    CoachTask,
    Enrollment,
    Escalation,
    EscalationStatus,
    EscalationTrigger,
    Identity,
    InboundRecord,
    OutboxRow,
    Participant,
)

TRANSCRIPTS = Path(__file__).resolve().parent / "transcripts"
EXTRA_FLOWS = TRANSCRIPTS / "flows"
COPENHAGEN = ZoneInfo("Europe/Copenhagen")
CHANNELS = ("console", "sms")
UPDATE_HINT = "pytest tests/test_transcripts_data.py --update-transcripts"


async def handle(app: App, participant: Participant, inp: Input, channel: str,
                 inbound: InboundRecord | None = None) -> None:
    """Give the bot one input of a participant: THE call into the conversation loop for transcripts (the runner's
    and tests/transcript.py's), so a change of its signature is a change here."""
    if isinstance(inp, Text):  # a person writing: the channels' one path in (bot/inbound.py)
        said = Inbound(channel, channel, (inp,), inbound.channel_message_id if inbound else None,
                       terms_first=False)  # the terms have their own tests (test_reach, test_data_protection)
        await app.loop.receive(said, Identity(participant, AddressStatus.ACTIVE))
    else:
        await app.loop.handle(participant, inp, channel, inbound)


class CapturingChannel:
    """A console-like channel that keeps what it was asked to send."""

    def __init__(self, name: str = "console") -> None:
        self.name = name
        self.rows: list[OutboxRow] = []
        self.sent: list[str] = []

    async def send(self, message: OutboxRow) -> None:
        text = as_plain_text(message.payload)
        self.rows.append(message)
        self.sent.append(to_gsm(text) if self.name == "sms" else text)  # what the phone shows


class CapturingCoachChannel:
    """Where coaches are alerted: kept, in order."""

    name = "console"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def notify(self, coach: Coach, text: str, address: str = "") -> None:
        self.sent.append((coach.id, text))


class TranscriptError(ValueError):
    """The file cannot be read as a transcript: says where and why."""

    def __init__(self, path: Path, lineno: int, message: str) -> None:
        super().__init__(f"{path}:{lineno}: {message}")


# --- reading a file ---

INPUT = re.compile(r"^([\w-]*)>(?: (.*))?$")  # "> text" (the participant), "coach> OK 1" (a coach)
OUTPUT = re.compile(r"^([\w-]*)<(?: |$)|^!(?: |$)")  # "< text", "erik< text", "coach< text", "! effect"
HEADER = re.compile(r"^(participant|name|coach|language|channel|show):\s*(.*)$")
CLOCK_SET = re.compile(r"^clock:\s*(.+)$")
CLOCK_ADVANCE = re.compile(r"^clock\s*\+\s*(.+)$")
SPAN = re.compile(r"(\d+)\s*(days?|d|hours?|h|minutes?|min|m|seconds?|s)\b")
UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1), "s": timedelta(seconds=1)}
SHOW = {"audit", "inbox"}  # what `show:` adds to a transcript's ! lines
CONTINUED = "  "  # the second and further lines of a message are indented by two spaces


@dataclass
class Line:
    """One line of the file that is not an expected output: a comment, a blank line, a header, or an action (an
    input or instruction, after which the bot's outputs are written)."""

    lineno: int
    text: str
    action: bool
    expected: list[str] = field(default_factory=list)
    actual: list[str] = field(default_factory=list)


def parse(path: Path, text: str) -> list[Line]:
    lines: list[Line] = []
    last_action: Line | None = None
    in_output = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if line.startswith(CONTINUED) and line.strip():
            if not in_output or last_action is None:
                raise TranscriptError(path, lineno, "an indented line continues a bot message (< or !) and must "
                                                    "follow one")
            last_action.expected.append(line)
            continue
        if OUTPUT.match(line):
            if last_action is None:
                raise TranscriptError(path, lineno, "what the bot says (<) or does (!) must follow an input (>) or "
                                                    "an instruction (start, resume, clock)")
            last_action.expected.append(line)
            in_output = True
            continue
        in_output = False
        if not line or line.startswith("#"):
            lines.append(Line(lineno, line, action=False))
            continue
        if line.startswith(" "):
            raise TranscriptError(path, lineno, f"a line may not start with a space: {line!r}")
        action = not HEADER.match(line)
        if action and not (INPUT.match(line) or CLOCK_SET.match(line) or CLOCK_ADVANCE.match(line)
                           or line.split()[0] in ("start", "resume")):
            raise TranscriptError(path, lineno, f"not a transcript line: {line!r} (see tests/transcripts/README.md)")
        lines.append(Line(lineno, line, action=action))
        if action:
            last_action = lines[-1]
        elif last_action is not None and HEADER.match(line):
            last_action = None  # outputs after a header belong to no input
    return lines


def parse_span(path: Path, lineno: int, text: str) -> timedelta:
    total, rest = timedelta(), text
    for number, unit in SPAN.findall(text):
        total += int(number) * UNITS[unit[0]]
    rest = SPAN.sub("", text).strip()
    if rest or not total:
        raise TranscriptError(path, lineno, f"a time span such as +2h, +15m, +7d or +1h 30m, not {text!r}")
    return total


def parse_moment(path: Path, lineno: int, text: str) -> datetime:
    words = text.split()
    zone = COPENHAGEN
    if len(words) == 3:
        try:
            zone = ZoneInfo(words.pop())
        except (KeyError, ValueError):
            raise TranscriptError(path, lineno, f"unknown time zone in {text!r}") from None
    try:
        local = datetime.strptime(" ".join(words), "%Y-%m-%d %H:%M")
    except ValueError:
        raise TranscriptError(path, lineno, f"a time such as 2026-11-23 10:00 (Copenhagen time), not {text!r}") \
            from None
    return local.replace(tzinfo=zone).astimezone(UTC)


# --- what the bot did, written down ---


def message_lines(prefix: str, text: str) -> list[str]:
    first, *rest = text.split("\n")
    return [f"{prefix} {first}".rstrip(), *(f"{CONTINUED}{line}".rstrip() if line else CONTINUED + "¶"
                                           for line in rest)]


def span_words(delta: timedelta) -> str:
    seconds, words = int(delta.total_seconds()), []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            words.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(words) or "0 seconds"


def trigger_words(trigger: EscalationTrigger) -> str:
    data = trigger.trigger
    if trigger.trigger_kind == "item":
        return f"answer {data.get('flow_id')} {data.get('item_id')} = {data.get('answer')}"
    if trigger.trigger_kind == "text":
        return f"message »{data.get('text')}«"
    if trigger.trigger_kind == "safety_check":
        return "safety check"
    return trigger.trigger_kind


def shown(value: object) -> str:
    """A number as people write it: 23, not 23.0."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


TIERS = {1: "the backup coach", 2: "the clinical lead"}


@dataclass
class World:
    """What an administrator cares about besides the messages, read from storage before and after each step."""

    answers: list[tuple[Any, ...]]
    scores: list[tuple[Any, ...]]
    escalations: dict[int, Escalation]
    tasks: dict[int, CoachTask]
    messages: dict[int, CoachMessage]
    alerts: int
    audit: list[AuditRecord]  # oldest first; only with `show: audit`
    inbox: list[tuple[int, str, str, str]]  # (id, ref, what they wrote, what the bot took it for); `show: inbox`


class Replay:
    def __init__(self, path: Path, app: App, clock: FakeClock, coaches: CapturingCoachChannel) -> None:
        self.path = path
        self.app = app
        self.clock = clock
        self.coaches = coaches
        self.channels = {name: CapturingChannel(name) for name in CHANNELS}
        self.people: dict[str, tuple[Participant, str]] = {}  # ref -> (participant, channel)
        self.refs: dict[int, str] = {}
        self.header: dict[str, str] = {}
        self.current: str | None = None
        self.count = 0
        self.show: set[str] = set()

    # - the actions -

    async def run(self, line: Line) -> None:
        if not line.action:
            self.read_header(line)
            return
        before = await self.world()
        seen = {name: len(c.rows) for name, c in self.channels.items()}
        out: list[str] = []
        if found := INPUT.match(line.text):
            who, text = found.group(1), found.group(2) or ""
            if who:
                out += await self.coach_says(line, who, text)
            else:
                await self.participant_input(line, Text(text))
        elif found := CLOCK_ADVANCE.match(line.text):
            self.clock.advance(parse_span(self.path, line.lineno, found.group(1)))
            await self.app.escalations.tick()  # the escalation watcher looks (it does every 20 seconds)
        elif found := CLOCK_SET.match(line.text):
            self.clock.set(parse_moment(self.path, line.lineno, found.group(1)))
            await self.app.escalations.tick()
        elif line.text.split()[0] == "start":
            words = line.text.split()
            if len(words) != 2:
                raise TranscriptError(self.path, line.lineno, f"start FLOW, e.g. start pss10, not {line.text!r}")
            await self.participant_input(line, StartFlow(words[1]))
        elif line.text == "resume":
            await self.participant_input(line, Resume())
        else:
            raise TranscriptError(self.path, line.lineno, f"not an instruction: {line.text!r}")
        await self.app.loop.settle()
        for channel in self.channels.values():
            await deliver_pending(self.app.storage, channel, self.clock)
        await self.app.loop.settle()  # coach alerts are sent in the background
        for name, channel in self.channels.items():
            for row, text in zip(channel.rows[seen[name]:], channel.sent[seen[name]:], strict=True):
                ref = self.refs.get(row.participant_id, f"#{row.participant_id}")
                out += message_lines("<" if ref == self.current else f"{ref}<", text)
        out += self.changes(before, await self.world())
        line.actual = out

    def read_header(self, line: Line) -> None:
        found = HEADER.match(line.text)
        if found is None:
            return
        key, value = found.group(1), found.group(2).strip()
        if key == "show":
            shown = {word.strip() for word in value.split(",")}
            if not shown <= SHOW:
                raise TranscriptError(self.path, line.lineno, f"show: audit and/or inbox, not {value!r}")
            self.show |= shown
        elif key == "participant":
            self.current = value
            self.header = {}
        elif self.current is None:
            raise TranscriptError(self.path, line.lineno, f"{key}: comes after a participant: line")
        elif self.current in self.people:
            raise TranscriptError(self.path, line.lineno, f"{key}: must come before {self.current} first writes")
        else:
            self.header[key] = value

    async def participant(self, line: Line) -> tuple[Participant, str]:
        if self.current is None:
            raise TranscriptError(self.path, line.lineno, "who is writing? Start with a participant: line")
        if self.current in self.people:
            return self.people[self.current]
        if self.current in self.app.deployment.coaches:
            raise TranscriptError(self.path, line.lineno, f"{self.current} is a coach's id; choose another ref")
        lang = self.header.get("language", "da")
        channel = self.header.get("channel", "console")
        if channel not in CHANNELS:
            raise TranscriptError(self.path, line.lineno, f"channel: one of {', '.join(CHANNELS)}, not {channel!r}")
        now = self.clock.now()
        if "name" in self.header or "coach" in self.header:  # enrolled by an administrator
            person = await self.app.storage.enroll(
                Enrollment(self.current, self.header.get("name", self.current), lang, None,
                           self.header.get("coach")), now)
        else:
            person = await self.app.storage.get_or_create_participant(self.current, lang, now)
        self.people[self.current] = (person, channel)
        self.refs[person.id] = self.current
        return person, channel

    async def participant_input(self, line: Line, inp: Input) -> None:
        person, channel = await self.participant(line)
        inbound = None
        if isinstance(inp, Text):
            self.count += 1  # seeded ids: the same file gives the same message ids every time
            inbound = InboundRecord(channel, f"transcript:{self.path.stem}:{self.count}", self.clock.now())
        await handle(self.app, person, inp, channel, inbound)

    async def coach_says(self, line: Line, coach_id: str, text: str) -> list[str]:
        if coach_id not in self.app.deployment.coaches:
            raise TranscriptError(self.path, line.lineno, f"{coach_id}> : no coach {coach_id!r} in the deployment "
                                                          f"(coaches: {', '.join(self.app.deployment.coaches)})")
        reply = await self.app.desk.handle(coach_id, text)
        return [] if reply is None else message_lines(f"{coach_id}<", reply)

    # - what happened behind the scenes -

    async def world(self) -> World:
        storage = self.app.storage
        answers = [(a["participant"], a["flow_id"], a["run_seq"], a["item_id"], a["value"], a["raw_text"],
                    a["answered_at"]) for a in await storage.export_answers()]
        scores = [(s["participant"], s["flow_id"], s["run_seq"], s["score_id"], s["value"], s["band"])
                  for s in await storage.export_scores()]
        return World(answers, scores, {e.id: e for e in await storage.escalations()},
                     {t.id: t for t in await storage.coach_tasks(only_open=False)},
                     {m.id: m for m in await storage.coach_messages(read_limit=10_000)}, len(self.coaches.sent),
                     list(reversed(await storage.audit_entries(100_000))) if "audit" in self.show else [],
                     await self.inbox() if "inbox" in self.show else [])

    async def inbox(self) -> list[tuple[int, str, str, str]]:
        kept: list[tuple[int, str, str, str]] = []
        for ref, (person, _) in self.people.items():
            data = await self.app.storage.person_data(person.id)
            kept += [(int(row["id"]), ref, str(row["body"]), str(row["outcome"]))
                     for row in (data or {}).get("inbox", [])]
        return sorted(kept)

    def whose(self, ref: str) -> str:
        return "" if ref == self.current else f" (participant {ref})"

    def changes(self, before: World, after: World) -> list[str]:
        out: list[str] = []
        for who, flow, _, item, value, _, _ in [a for a in before.answers if a not in after.answers]:
            out.append(f"! answer {flow} {item} = {shown(value)} taken back{self.whose(who)}")
        for who, flow, _, item, value, raw, _ in [a for a in after.answers if a not in before.answers]:
            said = "" if str(raw) == shown(value) else f" »{raw}«"
            out.append(f"! answer {flow} {item} = {shown(value)}{said}{self.whose(who)}")
        for who, flow, _, score_id, value, band in [s for s in after.scores if s not in before.scores]:
            out.append(f"! score {flow} {score_id} = {shown(value)}{f', {band}' if band else ''}{self.whose(who)}")
        for number, now in after.escalations.items():
            out += self.escalation_changes(before.escalations.get(number), now)
        for coach_id, text in self.coaches.sent[before.alerts:after.alerts]:
            out += message_lines(f"! alert to {coach_id}:", text)
        for number, message in after.messages.items():
            was = before.messages.get(number)
            if was is None:
                place = " ".join(str(message.detail[k]) for k in ("flow_id", "item_id") if k in message.detail)
                where = f"{message.channel}, {place}" if place else message.channel
                out.append(f"! message #{number} for the coach ({where}): »{message.body}«"
                           f"{self.whose(message.participant_ref)}")
            if message.read_by and (was is None or not was.read_by):
                out.append(f"! message #{number} read by {message.read_by}")
        for _, ref, body, outcome in [row for row in after.inbox if row not in before.inbox]:
            out.append(f"! heard »{body}«: {outcome}{self.whose(ref)}")
        for entry in after.audit[len(before.audit):]:
            detail = ", ".join(f"{key}={value}" for key, value in entry.detail.items())
            out.append(f"! audit {entry.action} by {entry.actor}, {entry.subject}{f' ({detail})' if detail else ''}")
        for number, task in after.tasks.items():
            was_task = before.tasks.get(number)
            if was_task is None:
                due = f", due in {span_words(task.due_at - task.created_at)}" if task.due_at else ""
                out.append(f"! coach task #{number} {task.kind}{due}"
                           f"{self.whose(self.refs.get(task.participant_id, '?'))}")
            if task.done_at and (was_task is None or not was_task.done_at):
                out.append(f"! coach task #{number} done by {task.done_by}")
        return out

    def escalation_changes(self, was: Escalation | None, now: Escalation) -> list[str]:
        out: list[str] = []
        head = f"! escalation #{now.id}"
        new = list(now.triggers[len(was.triggers):] if was is not None else now.triggers)
        if was is None:
            first, *new = new
            within = f", acknowledge within {span_words(now.deadline_at - now.opened_at)}" if now.deadline_at else ""
            out.append(f"{head} {first.level}: {trigger_words(first)}{within}{self.whose(now.participant_ref)}")
        for trigger in new:
            out.append(f"{head} also {trigger.level}: {trigger_words(trigger)}")
        if was is not None and now.level != was.level:
            out.append(f"{head} is now {now.level}")
        if now.tier > (was.tier if was is not None else 0):
            out.append(f"{head} not acknowledged in time: passed on to {TIERS.get(now.tier, f'tier {now.tier}')}")
        status = was.status if was is not None else EscalationStatus.OPEN
        if now.status is not status and now.status is EscalationStatus.ACKNOWLEDGED:
            out.append(f"{head} acknowledged by {now.acknowledged_by}")
        if now.status is not status and now.status is EscalationStatus.CLOSED:
            out.append(f"{head} closed by {now.closed_by}: »{now.outcome_note}«")
        return out


# --- the result ---


@dataclass
class Result:
    path: Path
    original: str
    lines: list[Line]

    @property
    def matches(self) -> bool:
        return all(line.expected == line.actual for line in self.lines)

    def rewritten(self) -> str:
        """The file with what the bot does now in place of what it says it does."""
        out: list[str] = []
        for line in self.lines:
            out.append(line.text)
            out += line.actual
        return "\n".join(out) + "\n"

    def expected_text(self) -> str:
        out: list[str] = []
        for line in self.lines:
            out.append(line.text)
            out += line.expected
        return "\n".join(out) + "\n"

    def report(self) -> str:
        first = next(line for line in self.lines if line.expected != line.actual)
        diff = difflib.unified_diff(self.expected_text().splitlines(), self.rewritten().splitlines(),
                                    f"{self.path.name} (what the file says)", "(what the bot does now)",
                                    n=4, lineterm="")
        return (f"{self.path}: the bot does not do what the transcript says, first after line {first.lineno} "
                f"({first.text!r}).\nLines starting with - are in the file, + is what the bot does now. If the "
                f"change is deliberate, update the file:\n    {UPDATE_HINT}\n\n" + "\n".join(diff))


@contextmanager
def seeded_ids(seed: str) -> Iterator[None]:
    """uuid4 (the ids the bot makes up itself) from a generator seeded by the file's name."""
    generator = random.Random(seed)
    with mock.patch.object(uuid, "uuid4", lambda: uuid.UUID(int=generator.getrandbits(128), version=4)):
        yield


def flows_folder(workdir: Path) -> Path:
    """The shipped flow files plus the transcripts' own (tests/transcripts/flows), side by side."""
    folder = workdir / "flows"
    folder.mkdir(parents=True)
    for source in [*sorted(DEFAULT_FLOWS_DIR.iterdir()), *sorted(EXTRA_FLOWS.glob("*.yaml"))]:
        if source.is_file():
            shutil.copyfile(source, folder / source.name)
    return folder


async def replay(path: Path, workdir: Path, text: str | None = None) -> Result:
    """Replay the transcript `path` (or `text`, read as if it were that file) on a fresh database in `workdir`."""
    original = path.read_text(encoding="utf-8") if text is None else text
    lines = parse(path, original)
    clock = FakeClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # the tests' Monday 10:00, until clock: says
    coaches = CapturingCoachChannel()
    with seeded_ids(path.stem):
        async with open_app(str(workdir / "bot.db"), clock, flows_folder(workdir),
                            coach_channels={"console": coaches}) as app:
            errors = [str(p) for p in app.registry.problems if p.severity == "error"]
            if errors:
                raise TranscriptError(path, 0, "a flow file has errors:\n" + "\n".join(errors))
            replaying = Replay(path, app, clock, coaches)
            for line in lines:
                await replaying.run(line)
    return Result(path, original, lines)
