"""`programme simulate`: try the programme as a participant would live it, on a scratch database (bot/simulator.py).

Three ways, the same simulated participant:
- `--days N`: straight to day N; the participant answers from `--answers FILE`, by itself (`--auto`), or not at
  all; the whole chat is printed (a transcript to read, or to keep and compare after editing the programme).
- at a terminal, without `--days`: interactive. Type what the participant writes; Enter moves the clock to the
  bot's next message; `:day`, `:week`, `:to 182` move it further; `:auto` answers the question for you.
- with lines piped in, without `--days`: the same as interactive, one line at a time, without prompts.
Nothing is sent and nobody is alerted: a risk sentence shows the crisis reply and the alert that would be raised.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TextIO

from bot import config
from bot.overview import TASK_NAMES
from bot.preview import next_monday
from bot.simulator import (
    BOT,
    MAX_DAYS,
    NOTE,
    PARTICIPANT,
    Answerer,
    Entry,
    Simulation,
    SimulationLimit,
    answers_from,
    auto_answer,
)

HELP = """Type what the participant writes and press Enter. Commands start with a colon:
  (an empty line) or :next   the clock moves to the bot's next message
  :day  :week                the clock moves one day, one week
  :to 182                    the clock moves to day 182 (day 0 is the start date), at the programme's send time
  :auto                      the participant answers the question being asked (as --auto would)
  :release                   a coach releases the hold a high-risk alert puts on questionnaires and reminders
  :help  :quit               this text; stop (the scratch database is thrown away)
Nothing leaves this computer: no message is sent, no coach is alerted."""
LABELS = {
    "module": "module {about}", "nudge": "module {about} reminder", "exercise": "exercises",
    "wave_open": "measurement {about}", "wave_remind": "measurement reminder", "wave_close": "measurement closed",
    "checkin": "check-in {about}", "tre_summary": "TRE summary", "appointment": "appointment",
    "enrolment": "enrolment", "expiry": "questionnaire closed", "reply": "reply",
}
INDENT = " " * 56


def add_arguments(simulate: argparse.ArgumentParser) -> None:
    simulate.add_argument("--start", type=date.fromisoformat, metavar="YYYY-MM-DD", default=None,
                          help="the participant's start date, day 0 (default: next Monday)")
    simulate.add_argument("--lang", choices=["da", "en"], default="da", help="the participant's language")
    simulate.add_argument("--channel", choices=["sms", "telegram"], default="sms")
    simulate.add_argument("--programme", metavar="ID", help="which programme, by its file's id (default: the "
                          "deployment's default programme)")
    simulate.add_argument("--days", type=_days, metavar="N", default=None,
                          help="run to day N without stopping and print the whole chat (e.g. 200 for 6 months)")
    simulate.add_argument("--auto", action="store_true",
                          help="the participant answers every question by itself (see --answers for your own)")
    simulate.add_argument("--answers", type=Path, metavar="FILE", default=None,
                          help="a file of `flow: answer` or `flow.question: answer` lines, e.g. `pss10: 2`")


def _days(value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"give a day from 0 to {MAX_DAYS}")
    return int(value)


async def simulate(args: argparse.Namespace, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    start = args.start or next_monday(datetime.now(UTC).date())
    try:
        answerer: Answerer | None = auto_answer if args.auto else None
        if args.answers is not None:
            answerer = answers_from(args.answers, answerer)
    except (OSError, ValueError) as error:
        print(f"the answers file cannot be used: {error}", file=sys.stderr)
        return 2
    async with Simulation.open(start, args.lang, args.channel, answerer=answerer, flows_dir=config.flows_dir(),
                               programme_id=args.programme) as simulation:
        out.write(f"Simulated participant, start {start:%a %d.%m.%Y} (day 0), language {args.lang}, {args.channel}. "
                  "Nothing is sent, nobody is alerted.\n")
        show(simulation.entries, out)
        if args.days is not None:
            show(await simulation.to_day(args.days), out)
            counts = {who: sum(e.who == who for e in simulation.entries) for who in (BOT, PARTICIPANT, NOTE)}
            out.write(f"day {simulation.day}: {counts[BOT]} messages from the bot, {counts[PARTICIPANT]} from the "
                      f"participant, {counts[NOTE]} notes\n")
            return 0
        return await converse(simulation, stdin, out, stdin.isatty())


async def converse(simulation: Simulation, stdin: TextIO, out: TextIO, interactive: bool) -> int:
    """Lines from the administrator: the participant's words, or a command for the clock."""
    if interactive:
        out.write(HELP + "\n")
    while True:
        if interactive:
            out.write(f"(day {simulation.day}, {format_moment(simulation.now)}) > ")
            out.flush()
        raw = await asyncio.to_thread(stdin.readline)
        if not raw:
            return 0
        line = raw.strip()
        try:
            if line in ("", ":next"):
                shown = await simulation.next_message()
                if not shown:
                    out.write("Nothing more is planned for this participant.\n")
            elif line == ":day":
                shown = await simulation.forward(timedelta(days=1))
            elif line == ":week":
                shown = await simulation.forward(timedelta(weeks=1))
            elif line.startswith(":to ") and line[4:].strip().isdigit():
                shown = await simulation.to_day(int(line[4:]))
            elif line == ":auto":
                shown = await simulation.answer_for_me()
            elif line == ":release":
                shown = await simulation.release_hold()
            elif line in (":quit", ":q", ":exit"):
                return 0
            elif line.startswith(":"):
                out.write(HELP + "\n")
                continue
            else:
                shown = await simulation.say(line)
        except SimulationLimit as limit:
            out.write(f"{limit}\n")
            continue
        show([e for e in shown if e.who != PARTICIPANT or not interactive], out)


def format_moment(moment: datetime) -> str:
    return f"{moment:%a %d.%m.%Y %H:%M}"


def show(entries: list[Entry], out: TextIO) -> None:
    for entry in entries:
        out.write(format_entry(entry) + "\n")
    out.flush()


def format_entry(entry: Entry) -> str:
    """`Mon 16.03.2026 10:00  day 0    bot          module 1              Modul 1 er klar: ...`"""
    if entry.who == NOTE:
        who, label, text = "simulator", "", describe(entry)
    elif entry.who == BOT:
        who = BOT
        label = "CRISIS REPLY" if entry.urgent else LABELS.get(entry.kind, entry.kind).format(about=entry.about)
        text = entry.text
    else:
        who, label, text = PARTICIPANT, "", entry.text
    body = text.replace("\n", "\n" + INDENT)
    return f"{format_moment(entry.at)}  day {entry.day:<3}  {who:<11}  {label:<20}  {body}"


def describe(note: Entry) -> str:
    """A note in plain words (English, as the other commands)."""
    if note.kind == "alert":
        coaches = ", ".join(note.detail.get("coaches", ())) or "nobody on the roster"
        deadline = note.detail.get("deadline")
        by = f", to be answered by {format_moment(deadline.astimezone(note.at.tzinfo))}" if deadline else ""
        if note.detail.get("joined"):
            return f"ALERT: a new {note.about} risk signal would join the open alert (sent to {coaches}{by})"
        return (f"ALERT: an alert ({note.about} risk) would be raised and sent to {coaches}{by}. "
                "In the simulator nobody is told.")
    if note.kind == "task":
        return f"a task for the coach would be made: {TASK_NAMES.get(note.about, note.about)}"
    if note.kind == "inbox":
        return "the participant's words would go to the coach's inbox (Messages)"
    if note.kind == "wave_done":
        return f"measurement {note.about} answered"
    if note.kind == "wave_missed":
        return f"measurement {note.about} missed (not answered before it closed)"
    if note.kind == "module_done":
        return f"module {note.about} marked done"
    if note.kind == "consent_declined":
        return "the participant said no to the terms"
    if note.kind == "hold":
        return ("questionnaires and reminders are held back until a coach releases the hold (here: type :release)")
    if note.kind == "released":
        return "a coach released the hold: the programme goes on"
    return note.kind
