"""Appointment reminders and the participant's answer to them (issue 15): a talk or group session a coach booked.

A reminder is a scheduled event (kind `appointment`, planned by bot/appointments.py the day before and two hours
before). It waits out the quiet hours like every message the bot writes first, but not the daily limit nor a
questionnaire in progress: a missed talk is lost time for everyone. It is of no use once the appointment has begun.
After a reminder, the next "OK"/"JA" confirms (a milestone the desk shows) and "FLYT"/"MOVE" asks to move it: the
words go to the coach's inbox, and a quiet coach task says which appointment. Either is taken only outside an
open question (an answer stays an answer) and until the appointment begins.

A notice is the same kind of event with `notice` in its data (bot/appointment_changes.py): "cancelled" says, kindly,
that the appointment will not take place (and stops an OK or MOVE being taken for it); "moved" gives the new time
and asks for OK or MOVE as a reminder does. Each passes the same gates, and is of no use once the appointment it is
about has begun.

Pure: the event's data carries what to say (the time already written in each language by the shell).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from flows import phrases
from flows.effects import CoachTaskDue, Handling, Heard, Milestone, Part, Phrase, PromptChoice
from flows.inputs import Due
from flows.programme import Programme
from flows.reading import Reading
from flows.reminders import buttons, handled
from flows.risk import SAFETY_CHECK
from flows.timing import allowed_from, is_allowed
from flows.turn import Turn

CONFIRM_WORDS = frozenset({"ok", "okay", "ja", "yes", "jep", "bekraefter", "confirm"})
MOVE_WORDS = frozenset({"flyt", "flytte", "move", "reschedule"})
CONFIRMED = "appointment_confirmed"  # the milestone of a confirmation; its key is the appointment's id
MOVE_ASKED = "appointment_move"  # the milestone and the coach task of a request to move it
CANCELLED_NOTICE, MOVED_NOTICE = "cancelled", "moved"  # a notice's data["notice"]


def starts_at(due: Due) -> datetime:
    return datetime.fromisoformat(str(due.data["starts_at"]))


def when(data: object, lang: str) -> str:
    """The appointment's time as the shell wrote it in the person's language (Danish when theirs is missing)."""
    found = data.get(f"when_{lang}") or data.get("when_da") if isinstance(data, dict) else None
    return str(found or "")


def on_reminder(turn: Turn, programme: Programme, due: Due) -> None:
    """Send the reminder now, defer it out of the quiet hours, or skip it (begun, unreachable, stopped)."""
    begins = starts_at(due)
    if due.reach == "unreachable":
        handled(turn, Handling.SKIPPED, "no active address to reach the participant")
        return
    if turn.state.progress.stopped:
        handled(turn, Handling.SKIPPED, "reminders stopped by the participant")
        return
    later = turn.now
    if not is_allowed(programme, later):
        later = allowed_from(programme, later)
    elif turn.state.hold or (turn.state.run is not None and turn.state.run.flow_id == SAFETY_CHECK):
        handled(turn, Handling.SKIPPED, "safety path open")  # a coach is in touch; no routine reminder
        return
    elif due.reach == "unlinked":
        handled(turn, Handling.SKIPPED, "not linked yet")
        return
    if later >= begins or turn.now >= begins:
        handled(turn, Handling.SKIPPED, "too late: the appointment has begun")
        return
    if later > turn.now:
        handled(turn, Handling.DEFERRED, "quiet hours", later)
        return
    data = dict(due.data)
    progress = turn.state.progress
    if data.get("notice") == CANCELLED_NOTICE:
        said = phrases.APPOINTMENT_CANCELLED_KINDS.get(str(data.get("what")), phrases.APPOINTMENT_CANCELLED_COACHING)
        turn.say(Phrase(said, {"when": when(data, turn.lang)}), Phrase(phrases.APPOINTMENT_CANCELLED_NEXT))
        if progress.appointment == str(data["appointment"]):  # an OK or MOVE can no longer be for it
            turn.set_progress(replace(progress, appointment=None, appointment_starts=None, appointment_when=None))
        handled(turn, Handling.SENT)
        return
    headlines = phrases.APPOINTMENT_MOVED_KINDS if data.get("notice") == MOVED_NOTICE else phrases.APPOINTMENT_KINDS
    parts: list[Part] = [Phrase(headlines.get(str(data.get("what")), headlines["coaching"]),
                                {"when": when(data, turn.lang)})]
    if data.get("place"):
        parts.append(Phrase(phrases.APPOINTMENT_PLACE, {"place": str(data["place"])}))
    if data.get("video"):
        parts.append(Phrase(phrases.APPOINTMENT_VIDEO, {"link": str(data["video"])}))
    parts.append(Phrase(phrases.APPOINTMENT_REPLY_HINT))
    choices = (PromptChoice("OK", Phrase(phrases.APPOINTMENT_OK_BUTTON)),
               PromptChoice("FLYT", Phrase(phrases.APPOINTMENT_MOVE_BUTTON)))
    turn.say(*parts, prompt=buttons(*choices))
    turn.set_progress(replace(progress, appointment=str(data["appointment"]), appointment_starts=begins,
                              appointment_when=when(data, turn.lang)))
    handled(turn, Handling.SENT)


def on_reply(turn: Turn, said: Reading) -> bool:
    """Take "OK"/"JA" or "FLYT"/"MOVE" as the answer to the last reminder, if one is waiting; whether it was."""
    progress = turn.state.progress
    if progress.appointment is None or progress.appointment_starts is None:
        return False
    run = turn.state.run
    if run is not None and not run.paused:
        return False
    words = said.letter_words
    if turn.now >= progress.appointment_starts or len(words) != 1 or said.number is not None:
        return False
    appointment, word = progress.appointment, words[0]
    if word in CONFIRM_WORDS:
        turn.hear("appointment", answer="confirmed", appointment=appointment)
        turn.log(Milestone(CONFIRMED, appointment))
        turn.say(Phrase(phrases.APPOINTMENT_CONFIRMED, {"when": progress.appointment_when or ""}))
    elif word in MOVE_WORDS:
        turn.log(Heard("appointment_move", {"appointment": appointment}, for_coach=True))
        turn.log(Milestone(MOVE_ASKED, appointment))
        turn.log(CoachTaskDue(MOVE_ASKED, {"appointment": appointment}))
        turn.say(Phrase(phrases.APPOINTMENT_MOVE_ASKED))
    else:
        return False
    turn.set_progress(replace(progress, appointment=None, appointment_starts=None, appointment_when=None))
    return True
