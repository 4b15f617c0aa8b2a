"""Rendering: gettext in the person's language, numbers and times formatted by babel, Copenhagen time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.channels.base import as_plain_text
from bot.deployment import load_deployment
from bot.rendering import Catalogs, MissingCatalogError, format_moment, format_number, render_send
from flows import phrases
from flows.effects import CrisisContacts, Literal, Phrase, Prompt, PromptChoice, Send

CATALOGS = Catalogs()
CONTACTS = load_deployment().contact_lines


@pytest.mark.parametrize(("value", "lang", "text"), [(20.0, "da", "20"), (7.5, "da", "7,5"), (7.5, "en", "7.5"),
                                                     (1234, "da", "1.234"), (1234, "en", "1,234")])
def test_numbers_in_the_persons_locale(value: float, lang: str, text: str) -> None:
    assert format_number(value, lang) == text


def test_times_are_copenhagen_time_in_winter_and_summer() -> None:
    assert format_moment(datetime(2026, 11, 23, 9, 0, tzinfo=UTC), "da") == "mandag den 23. november 2026 kl. 10.00"
    assert format_moment(datetime(2026, 7, 1, 9, 0, tzinfo=UTC), "en") == "Wednesday, July 1, 2026 at 11:00\u202fAM"


def test_phrases_are_translated_and_filled() -> None:
    send = Send((Phrase(phrases.ALLOWED_RANGE, {"low": 0, "high": 10}),
                 Literal("Score {score.total}", {"score.total": 7.5})))
    assert render_send(send, "da", CATALOGS, CONTACTS)["text"] == "Svar gerne med et helt tal fra 0 til 10.\nScore 7,5"
    english = render_send(send, "en", CATALOGS, CONTACTS)["text"]
    assert english == "Please answer with a whole number from 0 to 10.\nScore 7.5"


def test_choices_are_listed_for_text_channels() -> None:
    prompt = Prompt("f", 1, 1, "q", (PromptChoice("1", Phrase(phrases.YES)), PromptChoice("0", Phrase(phrases.NO))))
    payload = render_send(Send((Literal("Sov du godt?"),), prompt), "da", CATALOGS, CONTACTS)
    assert as_plain_text(payload) == "Sov du godt?\n1 = Ja\n0 = Nej"
    assert payload["prompt"]["choices"] == [{"answer": "1", "label": "Ja"}, {"answer": "0", "label": "Nej"}]


def test_a_missing_catalog_stops_the_bot_at_start(tmp_path: Path) -> None:
    with pytest.raises(MissingCatalogError):
        Catalogs(("da",), tmp_path)


def test_crisis_contacts_come_from_configuration_urgent_first_for_high_risk() -> None:
    send = Send((Phrase(phrases.SAFETY_HEARD), CrisisContacts("high")))
    lines = render_send(send, "en", CATALOGS, CONTACTS)["text"].splitlines()
    assert lines[1:3] == [
        "You can always go to the nearest psychiatric emergency department. It is open around the clock.",
        "If you are in immediate danger, call 112.",
    ]
    moderate = render_send(Send((CrisisContacts("moderate"),)), "da", CATALOGS, CONTACTS)["text"].splitlines()
    assert moderate[0].startswith("Har du brug for hjælp nu, så ring 1813") and "Livslinien: 70 201 201." in moderate
