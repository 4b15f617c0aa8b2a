"""Canned replies in the deployment file: offered in the participant's language, every mistake one line with its
line number (bot/canned_replies.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.deployment import DEFAULT_PATH, DeploymentError, load_deployment


def test_the_shipped_file_offers_danish_and_english_texts() -> None:
    canned = load_deployment().canned_replies
    assert [r.title for r in canned["da"]] == ["Tak, jeg ringer", "Tak, vi tager det op"]
    assert canned["en"][0].text == "Thank you for your message. I will call you later today."


def test_without_the_block_none_are_offered(tmp_path: Path) -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    path = tmp_path / "deployment.yaml"
    path.write_text(text[:text.index("\ncanned_replies:")] + "\n", encoding="utf-8")
    assert load_deployment(path).canned_replies == {}


def test_every_mistake_is_one_line_with_its_line_number(tmp_path: Path) -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    text = text[:text.index("\ncanned_replies:")] + """
canned_replies:
  da:
    - title: "Tak"
      text: ""
    - title: "Vi ses"
      tekst: "Vi ses"
  de:
    - title: "Danke"
      text: "Danke"
  en: "Thanks"
"""
    path = tmp_path / "deployment.yaml"
    path.write_text(text, encoding="utf-8")
    start = text[:text.index("\ncanned_replies:")].count("\n") + 2  # the line of "canned_replies:"
    with pytest.raises(DeploymentError) as caught:
        load_deployment(path)
    assert str(caught.value).splitlines() == [
        f"{path}:{start + 3}: canned_replies da 'Tak': the text must be 1 to 1000 characters",
        f"{path}:{start + 5}: canned_replies da: unknown key 'tekst' (title and text)",
        f"{path}:{start + 4}: canned_replies da 'Vi ses': the text must be 1 to 1000 characters",
        f"{path}:{start + 6}: canned_replies: unknown language 'de' (use da, en)",
        f"{path}:{start + 9}: canned_replies en must be a list of texts, each with a title and a text",
    ]
