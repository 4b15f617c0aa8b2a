"""Answer parsing as a person on a phone would expect it.

"2", " 2 ", "2." and the label ("Ret ofte", "ret OFTE", "Naesten aldrig") all mean the same answer;
"ja"/"nej"/"yes"/"no" answer yes/no questions; keywords (HJÆLP, TILBAGE, PAUSE, SPROG, STOP) work at
any point, and KONTAKT/CONTACT asks for a coach. Everything here is pure and total: any string gives a result, never
an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flows.model import Step, StepType
from flows.reading import Reading, parse_number, read
from flows.textnorm import fold, loose

__all__ = [
    "MAX_INPUT_CHARS", "Accepted", "Keyword", "KeywordInput", "ParseResult", "ProgrammeKeyword", "ProgrammeWord",
    "Rejected", "Rejection", "fold", "match_keyword", "match_programme_keyword", "parse_answer", "parse_number",
    "parse_yes_no",
]

MAX_INPUT_CHARS = 2000  # longer input is never an answer, only a re-prompt


class Keyword(StrEnum):
    HELP = "help"
    BACK = "back"
    PAUSE = "pause"
    RESUME = "resume"
    LANGUAGE = "language"
    STOP = "stop"
    CONTACT = "contact"  # KONTAKT: ask the coach to make contact (flows/human.py)


_KEYWORDS: dict[str, Keyword] = {
    **dict.fromkeys(["hjaelp", "hjalp", "hjelp", "help", "/help", "/hjaelp", "?"], Keyword.HELP),
    **dict.fromkeys(["tilbage", "back", "/back", "/tilbage", "fortryd", "undo"], Keyword.BACK),
    **dict.fromkeys(["pause", "/pause"], Keyword.PAUSE),
    **dict.fromkeys(["fortsaet", "fortsat", "videre", "continue", "resume", "/resume", "/continue"], Keyword.RESUME),
    **dict.fromkeys(["sprog", "language", "/language", "/sprog", "lang"], Keyword.LANGUAGE),
    **dict.fromkeys(["stop", "stopp", "/stop", "afslut", "quit"], Keyword.STOP),
    **dict.fromkeys(["kontakt", "/kontakt", "contact", "/contact"], Keyword.CONTACT),
}
_LANGUAGE_NAMES = {
    "da": "da", "dansk": "da", "danish": "da", "danks": "da",
    "en": "en", "engelsk": "en", "english": "en",
}


@dataclass(frozen=True)
class KeywordInput:
    keyword: Keyword
    argument: str | None = None  # for LANGUAGE: the requested language code, if one was named


def match_keyword(said: Reading | str) -> KeywordInput | None:
    """The keyword this whole message is, if any: "HJÆLP", "/help", "sprog en", "English"."""
    said = read(said)
    if len(said.raw) > 100:
        return None
    words = said.keyword_words
    if not words:
        return None
    first = words[0]
    keyword = _KEYWORDS.get(first)
    if keyword is Keyword.LANGUAGE:
        if len(words) == 1:
            return KeywordInput(Keyword.LANGUAGE)
        if len(words) == 2 and words[1] in _LANGUAGE_NAMES:
            return KeywordInput(Keyword.LANGUAGE, _LANGUAGE_NAMES[words[1]])
        return None
    if keyword is not None and len(words) == 1:
        return KeywordInput(keyword)
    if keyword is Keyword.CONTACT and len(words) == 2 and words[1] in ("mig", "me", "os", "us"):
        return KeywordInput(keyword)  # "kontakt mig", "contact me"
    if len(words) == 1 and first in ("dansk", "english"):
        return KeywordInput(Keyword.LANGUAGE, _LANGUAGE_NAMES[first])
    return None


class ProgrammeWord(StrEnum):
    DONE = "done"  # FÆRDIG [n]: a module is done
    TRE = "tre"  # log a TRE session
    MINE = "mine"  # my TRE history
    TIMES = "times"  # choose the exercise reminders' days and time again
    PAUSE_DAYS = "pause_days"  # PAUSE <days>: no reminders for a while
    START = "start"  # reminders on again after STOP or PAUSE <days>


@dataclass(frozen=True)
class ProgrammeKeyword:
    word: ProgrammeWord
    number: int | None = None  # the module of FÆRDIG 3, the days of PAUSE 7


_PROGRAMME_WORDS: dict[str, ProgrammeWord] = {
    **dict.fromkeys(["faerdig", "fardig", "ferdig", "done", "/done", "/faerdig"], ProgrammeWord.DONE),
    **dict.fromkeys(["tre", "/tre"], ProgrammeWord.TRE),
    **dict.fromkeys(["mine", "/mine", "historik", "history", "/history"], ProgrammeWord.MINE),
    **dict.fromkeys(["tider", "/tider", "times", "/times", "tidspunkt"], ProgrammeWord.TIMES),
    **dict.fromkeys(["start", "genstart"], ProgrammeWord.START),
}


def match_programme_keyword(said: Reading | str) -> ProgrammeKeyword | None:
    """The programme's own words: "FÆRDIG 3", "færdig", "TRE", "/mine", "TIDER", "PAUSE 7", "START".

    Only whole short messages count, so "tre" inside a sentence or an answer is never taken as the keyword."""
    said = read(said)
    if len(said.raw) > 40:
        return None
    words = list(said.keyword_words)
    if words and words[0] == "modul":  # "færdig modul 3" and "modul 3 færdig" read the same
        words = words[1:]
    words = [w for w in words if w != "modul"]
    if not words or len(words) > 2:
        return None
    number = _small_number(words[1]) if len(words) == 2 else None
    first = _small_number(words[0])
    if len(words) == 2 and first is not None and words[1] in _PROGRAMME_WORDS:
        words, number = [words[1]], first  # "3 færdig"
    if words[0] in ("pause", "/pause") and number is not None:
        return ProgrammeKeyword(ProgrammeWord.PAUSE_DAYS, number)
    word = _PROGRAMME_WORDS.get(words[0])
    if word is None or (len(words) == 2 and number is None):
        return None
    if number is not None and word is not ProgrammeWord.DONE:
        return None
    return ProgrammeKeyword(word, number)


def _small_number(word: str) -> int | None:
    """A whole number of up to three digits ("3", "٣"), else None.

    `isdecimal`, not `isdigit`: a digit that is not a decimal digit of some script ("፩", "①") is no number `int`
    reads, and raised inside the engine."""
    return int(word) if word.isdecimal() and len(word) <= 3 else None


class Rejection(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    NOT_A_CHOICE = "not_a_choice"
    NOT_A_NUMBER = "not_a_number"
    OUT_OF_RANGE = "out_of_range"
    TOO_PRECISE = "too_precise"
    NOT_YES_NO = "not_yes_no"


@dataclass(frozen=True)
class Accepted:
    value: int | float | str


@dataclass(frozen=True)
class Rejected:
    reason: Rejection


ParseResult = Accepted | Rejected

_YES = {"ja", "j", "jo", "jep", "yes", "y", "yep", "yeah", "1"}
_NO = {"nej", "n", "nix", "no", "nope", "0"}


def parse_yes_no(said: Reading | str) -> int | None:
    """1 for yes, 0 for no, None for anything else."""
    said = read(said)
    if len(said.raw) > 100:
        return None
    key = said.folded
    return 1 if key in _YES else 0 if key in _NO else None


def _as_number_value(number: float, decimals: int) -> int | float:
    return int(number) if decimals == 0 else round(number, decimals)


def parse_answer(step: Step, said: Reading | str) -> ParseResult:
    """Turn what the person wrote into the answer value for `step`, or say why it is not one."""
    said = read(said)
    text = said.raw
    if len(text) > MAX_INPUT_CHARS:
        return Rejected(Rejection.TOO_LONG)
    if step.type is StepType.TEXT:
        stripped = text.strip()
        if not stripped:
            return Rejected(Rejection.EMPTY)
        if len(stripped) > step.max_length:
            return Rejected(Rejection.TOO_LONG)
        return Accepted(stripped)
    if not said.folded and not text.strip():
        return Rejected(Rejection.EMPTY)
    if step.type is StepType.CHOICE:
        return _parse_choice(step, said)
    if step.type is StepType.YESNO:
        answer = parse_yes_no(said)
        return Rejected(Rejection.NOT_YES_NO) if answer is None else Accepted(answer)
    return _parse_range(step, said)


def _parse_choice(step: Step, said: Reading) -> ParseResult:
    number = said.number
    if number is not None:
        for choice in step.choices:
            if number == choice.value:
                return Accepted(choice.value)
        return Rejected(Rejection.NOT_A_CHOICE)
    key, loose_key = said.folded, said.loose
    if not key:
        return Rejected(Rejection.NOT_A_CHOICE)
    for choice in step.choices:
        if any(fold(label) == key for label in choice.label.by_lang.values()):
            return Accepted(choice.value)
    matches = {c.value for c in step.choices for label in c.label.by_lang.values() if loose(label) == loose_key}
    if len(matches) == 1:
        return Accepted(matches.pop())
    return Rejected(Rejection.NOT_A_CHOICE)


def _parse_range(step: Step, said: Reading) -> ParseResult:
    number = said.number
    if number is None:
        return Rejected(Rejection.NOT_A_NUMBER)
    decimals = step.decimals if step.type is StepType.NUMBER else 0
    if round(number, decimals) != number:
        return Rejected(Rejection.TOO_PRECISE)
    low, high = step.minimum, step.maximum
    if (low is not None and number < low) or (high is not None and number > high):
        return Rejected(Rejection.OUT_OF_RANGE)
    return Accepted(_as_number_value(number, decimals))
