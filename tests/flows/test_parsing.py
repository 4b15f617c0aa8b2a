"""Answer parsing as a person on a phone would expect it."""

from __future__ import annotations

import pytest

from flows.model import Choice, LocalText, Step, StepType
from flows.parsing import Accepted, Keyword, Rejected, Rejection, fold, match_keyword, parse_answer

LABELS = ["Aldrig", "Næsten aldrig", "Ind i mellem", "Ret ofte", "Meget ofte"]
PSS_ITEM = Step("q1", StepType.CHOICE, LocalText({"da": "?"}),
                choices=tuple(Choice(i, LocalText({"da": label, "en": f"en{i}"})) for i, label in enumerate(LABELS)))
SCALE = Step("q", StepType.SCALE, LocalText({"da": "?"}), minimum=0, maximum=10)
WEIGHT = Step("w", StepType.NUMBER, LocalText({"da": "?"}), minimum=20, maximum=300, decimals=1)
YESNO = Step("y", StepType.YESNO, LocalText({"da": "?"}))
NOTE = Step("n", StepType.TEXT, LocalText({"da": "?"}), max_length=20)


@pytest.mark.parametrize("text", ["2", " 2 ", "2.", "2!", "Ind i mellem", "ind i MELLEM", " Ind  i mellem. ",
                                  "indimellem", "Ind imellem", "2 😊", "2😅", "2️⃣", "👍 2"])
def test_choice_by_number_or_label(text: str) -> None:
    assert parse_answer(PSS_ITEM, text) == Accepted(2)


@pytest.mark.parametrize("text", ["Næsten aldrig", "naesten aldrig", "Nasten aldrig", "NÆSTEN ALDRIG", "1"])
def test_accent_and_case_insensitive_labels(text: str) -> None:
    assert parse_answer(PSS_ITEM, text) == Accepted(1)


@pytest.mark.parametrize(("text", "reason"), [
    ("fem", Rejection.NOT_A_CHOICE), ("7", Rejection.NOT_A_CHOICE), ("-1", Rejection.NOT_A_CHOICE),
    ("2,5", Rejection.NOT_A_CHOICE), ("", Rejection.EMPTY), ("   ", Rejection.EMPTY), ("😀", Rejection.NOT_A_CHOICE),
    ("x" * 5000, Rejection.TOO_LONG), ("2 3", Rejection.NOT_A_CHOICE),
])
def test_choice_rejections(text: str, reason: Rejection) -> None:
    assert parse_answer(PSS_ITEM, text) == Rejected(reason)


@pytest.mark.parametrize(("text", "expected"), [
    ("0", Accepted(0)), ("10", Accepted(10)), ("7.", Accepted(7)), ("11", Rejected(Rejection.OUT_OF_RANGE)),
    ("7,5", Rejected(Rejection.TOO_PRECISE)), ("syv", Rejected(Rejection.NOT_A_NUMBER)),
])
def test_scale(text: str, expected: object) -> None:
    assert parse_answer(SCALE, text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("72,5", Accepted(72.5)), ("72.5", Accepted(72.5)), ("80", Accepted(80)),
    ("72,55", Rejected(Rejection.TOO_PRECISE)), ("5", Rejected(Rejection.OUT_OF_RANGE)),
])
def test_number_with_decimal_comma(text: str, expected: object) -> None:
    assert parse_answer(WEIGHT, text) == expected


@pytest.mark.parametrize(("text", "value"), [("ja", 1), ("Ja!", 1), ("yes", 1), ("J", 1), ("nej", 0), ("No", 0),
                                             ("NEJ.", 0), ("1", 1), ("0", 0)])
def test_yes_no(text: str, value: int) -> None:
    assert parse_answer(YESNO, text) == Accepted(value)


def test_yes_no_rejects_other_words() -> None:
    assert parse_answer(YESNO, "måske") == Rejected(Rejection.NOT_YES_NO)


def test_free_text_is_stripped_and_limited() -> None:
    assert parse_answer(NOTE, "  en god dag  ") == Accepted("en god dag")
    assert parse_answer(NOTE, "x" * 21) == Rejected(Rejection.TOO_LONG)
    assert parse_answer(NOTE, "   ") == Rejected(Rejection.EMPTY)


@pytest.mark.parametrize(("text", "keyword", "arg"), [
    ("HJÆLP", Keyword.HELP, None), ("hjælp", Keyword.HELP, None), ("Hjaelp", Keyword.HELP, None),
    ("help", Keyword.HELP, None), ("/help", Keyword.HELP, None), ("TILBAGE", Keyword.BACK, None),
    ("back", Keyword.BACK, None), ("Pause", Keyword.PAUSE, None), ("FORTSÆT", Keyword.RESUME, None),
    ("SPROG", Keyword.LANGUAGE, None), ("sprog en", Keyword.LANGUAGE, "en"), ("LANGUAGE dansk", Keyword.LANGUAGE, "da"),
    ("English", Keyword.LANGUAGE, "en"), ("STOP", Keyword.STOP, None), ("stop.", Keyword.STOP, None),
])
def test_keywords(text: str, keyword: Keyword, arg: str | None) -> None:
    found = match_keyword(text)
    assert found is not None
    assert (found.keyword, found.argument) == (keyword, arg)


@pytest.mark.parametrize("text", ["2", "hjælp mig", "stop det", "sprog klingon", "", "tilbage til start"])
def test_not_keywords(text: str) -> None:
    assert match_keyword(text) is None


def test_fold() -> None:
    assert fold("  Næsten   ALDRIG! ") == "naesten aldrig"
    assert fold("På intet tidspunkt") == "paa intet tidspunkt"
