"""Which messages a coach must read: words that are not an answer, a keyword or a command (issue 11, point 2).

The engine asks this only of a message it could not take as anything else, and that raised no risk signal (those
reach a coach through the escalation, with the words). The rule, also in docs/safety-content.md ("Messages for a
human"), prefers a message a coach did not need to read over one that nobody read:

- **No words, nothing to read**: digits, punctuation and emoji alone ("7", "2,5", "😀", "...") are a slip or a try at
  an answer, answered by the bot.
- **Outside a question** (no questionnaire, the terms or the safety offer being asked): any words go to the coach,
  unless they are only a greeting, thanks or the like ("hej", "tak", "ok", "godnat"). On pause the same, and a try at
  the question the person left ("ret oftte") takes them back to it instead.
- **In a question** (choice, scale, number, yes/no): a try at answering stays with the bot; anything else goes to the
  coach. A try is one word ("fem", "skidt", "hmm"), or up to five words that name an answer (a valid number, a
  choice's label: "2 tror jeg", "næsten aldrig vel") or are made only of the question's own words, hedges and number
  words, allowing one typo in a longer word ("ret oftte", "ved ikke", "det ved jeg ikke"). Two words that are not
  ("rigtig skidt", "hjælp mig", "ring til mig") and every longer sentence go to the coach.
- Answers to a flow's own free-text questions (the check-in's words, the TRE log's notes) are answers, stored and shown
  with that flow's results; only a text too long to be the answer comes here, and goes to the coach.

Pure, like the engine: folded words in, a yes or no out.
"""

from __future__ import annotations

import re
import unicodedata

from flows.model import Step, StepType
from flows.parsing import Accepted, parse_answer
from flows.reading import Reading, parse_number, read
from flows.textnorm import LETTER_WORD, fold, loose

MAX_TRY_WORDS = 5  # a longer message is a sentence, even if it names an answer: the coach reads it
_TOKEN = re.compile(r"[^\s,;:!?()]+")

COURTESY = frozenset({
    "hej", "hejsa", "hejhej", "hey", "hi", "hello", "halloj", "dav", "davs", "goddag", "godmorgen", "godaften",
    "godnat", "god", "morgen", "aften", "nat", "dag", "morning", "evening", "night", "good", "tak", "tusind", "mange",
    "thanks", "thank", "thx", "you", "ok", "okay", "okey", "oki", "fint", "fine", "super", "godt", "great", "nice",
    "dejligt", "perfekt", "cool", "igen", "again", "bye", "farvel", "vi", "ses", "see", "ja", "jo", "nej", "yes", "no",
    "yep", "nope", "haha", "hehe", "lol", "hmm", "mm", "oeh", "ah", "aha", "nå", "naa",
    # "jeg er tilbage", "jeg har det fint", "I'm back", "it's fine": any other word ("ikke", "skidt") goes to the coach
    "jeg", "er", "har", "det", "tilbage", "klar", "her", "alt", "i", "am", "m", "s", "it", "is", "have", "back", "here",
    "ready", "all", "right",
})
HEDGES = frozenset({
    "jeg", "tror", "nok", "vel", "vist", "maaske", "maske", "maybe", "perhaps", "probably", "i", "think", "guess",
    "ca", "cirka", "omkring", "about", "around", "ikke", "ved", "know", "dont", "don", "t", "not", "sure", "sikker",
    "er", "det", "it", "its", "s", "is", "svar", "svaret", "answer", "mit", "my", "tja", "well", "hmm", "oeh", "mm",
    "ja", "nej", "yes", "no", "jo", "nix", "nope", "yeah", "yep", "jep", "tak", "thanks", "ok", "okay", "og", "and",
    "eller", "or", "lidt", "a", "little", "bit", "meget", "very", "rather", "ret", "temmelig", "quite", "helt",
})
COURTESY_EMOJI = frozenset("👍👌🙏🙂😊😀😃😄😁😉🤗👋✅✔❤♥💙💚💛💜🧡🤍😍🥰☺👏💪🌞☀🌸🌷🌼")  # (skin tones are not "So")
NUMBER_WORDS = frozenset({
    "nul", "en", "et", "to", "tre", "fire", "fem", "seks", "syv", "otte", "ni", "ti",
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
})


def words(text: str) -> list[str]:
    """The words of a message, folded (case, accents and æøå ignored): what a person could have meant to say."""
    return LETTER_WORD.findall(fold(text))


def must_read(said: Reading | str, question: Step | None) -> bool:
    """Whether a message the engine could not take as an answer, keyword or command is for the coach.

    `question`: the open question the message could have answered; None outside a questionnaire (or on pause)."""
    said = read(said)
    found = list(said.letter_words)
    if not found:  # no words: outside a questionnaire, a feeling in emoji ("😭😭😭") is for the coach
        return question is None and feeling_in_emoji(said.raw)
    return _words_for_coach(said, found, question)


def feeling_in_emoji(text: str) -> bool:
    """Emoji other than a thumbs-up, a smile, thanks or a heart ("👍", "🙂", "🙏", "❤️"): a courtesy needs no coach;
    crying, anger or a broken heart do."""
    return any(unicodedata.category(c) == "So" and c not in COURTESY_EMOJI for c in text)


def _words_for_coach(said: Reading, found: list[str], question: Step | None) -> bool:
    if question is None:  # "ok 😭" is no courtesy
        return not all(word in COURTESY for word in found) or feeling_in_emoji(said.raw)
    if question.type is StepType.TEXT:  # it refuses only a text too long to be its answer: a human reads that
        return True
    if len(found) == 1:
        return False
    tried = len(found) <= MAX_TRY_WORDS and (names_an_answer(question, said) or all_answer_words(question, found))
    return not tried


def must_read_on_pause(said: Reading | str, question: Step | None) -> bool:
    """On pause: words for the coach, unless they are a greeting ("hej igen") or a try at the question the person
    left ("ret oftte"), which take them back to it."""
    said = read(said)
    asked = question if question is not None and question.is_question else None
    return must_read(said, None) and (asked is None or must_read(said, asked))


def names_an_answer(question: Step, said: Reading | str) -> bool:
    """A valid answer in the message: a number the question accepts, or one of its labels ("2 tror jeg")."""
    said = read(said)
    for token in _TOKEN.findall(said.raw):
        if parse_number(token) is not None and isinstance(parse_answer(question, token), Accepted):
            return True
    folded = f" {' '.join(said.letter_words)} "
    return any(f" {' '.join(words(label))} " in folded for label in _labels(question) if words(label))


def all_answer_words(question: Step, found: list[str]) -> bool:
    """Every word is the question's own (a label's word, its unit), a hedge or a number word, typos allowed."""
    vocabulary = {loose(w) for label in _labels(question) for w in words(label)} | HEDGES | NUMBER_WORDS
    return all(_known(word, vocabulary) for word in found)


def _labels(question: Step) -> list[str]:
    labels = [text for choice in question.choices for text in choice.label.by_lang.values()]
    for extra in (question.min_label, question.max_label, question.unit):
        if extra is not None:
            labels += list(extra.by_lang.values())
    if question.type is StepType.YESNO:
        labels += ["ja", "nej", "yes", "no"]
    return labels


def _known(word: str, vocabulary: set[str] | frozenset[str]) -> bool:
    if word in vocabulary or loose(word) in vocabulary:
        return True
    return len(word) >= 4 and any(abs(len(known) - len(word)) <= 1 and _one_edit(loose(word), known)
                                  for known in vocabulary if len(known) >= 4)


def _one_edit(a: str, b: str) -> bool:
    """At most one typo apart: a letter missing, added, changed, or two swapped ("oftte", "ofet" for "ofte")."""
    if a == b:
        return True
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) > 1:
        return False
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1:] == b[i + 1:] or (a[i + 2:] == b[i + 2:] and a[i:i + 2] == b[i:i + 2][::-1])
    return a[i:] == b[i + 1:]
