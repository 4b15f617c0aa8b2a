"""SMS text helpers: E.164 numbers that never reach logs, GSM-7 where possible, segments counted right."""

from __future__ import annotations

import pytest

from bot.gsm import is_gsm7, segments, to_gsm
from bot.phone import PhoneNumberError, masked, normalize


@pytest.mark.parametrize("raw", ["+45 12 34 56 78", "0045 12345678", "12345678", "12-34-56-78", "+4512345678"])
def test_danish_numbers_normalise(raw: str) -> None:
    assert normalize(raw) == "+4512345678"


@pytest.mark.parametrize("raw", ["1234567", "+45 1234 567", "abc", "", "+1"])
def test_bad_numbers_are_refused_without_echoing_them(raw: str) -> None:
    with pytest.raises(PhoneNumberError) as caught:
        normalize(raw)
    assert raw.strip() not in str(caught.value) or not raw.strip()


def test_foreign_numbers_keep_their_country_code() -> None:
    assert normalize("+46 70 123 45 67") == "+46701234567"


def test_masked_for_logs() -> None:
    assert masked("+4512345678") == "+45******78"


def test_danish_letters_are_gsm7_and_curly_quotes_are_replaced() -> None:
    assert is_gsm7("Hvor ofte har du følt dig nervøs og stresset? Æ Ø Å")
    assert not is_gsm7("nervøs og “stresset”")
    assert to_gsm("nervøs og “stresset” – 2…") == 'nervøs og "stresset" - 2...'
    assert is_gsm7(to_gsm("nervøs og “stresset” – 2…"))


@pytest.mark.parametrize(("text", "count"), [
    ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
    ("€" * 80, 1), ("€" * 81, 2),  # extension characters take two septets
    ("😀" * 35, 1), ("😀" * 36, 2),  # UCS-2: an emoji is two code units
    ("ø" * 70 + "“", 2),  # one curly quote makes the whole message UCS-2
])
def test_segments(text: str, count: int) -> None:
    assert segments(text) == count
