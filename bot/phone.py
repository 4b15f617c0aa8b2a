"""Phone numbers: stored in E.164 (+4512345678) and never written to logs in full."""

from __future__ import annotations

import re

DEFAULT_COUNTRY_CODE = "45"  # Denmark: 8-digit national numbers
_SEPARATORS = re.compile(r"[\s\-().]")


class PhoneNumberError(ValueError):
    """Not a phone number we can send SMS to; the message says why (without echoing the number)."""


def normalize(raw: str, country_code: str = DEFAULT_COUNTRY_CODE) -> str:
    """'+45 12 34 56 78', '0045 12345678', '12345678' -> '+4512345678'."""
    number = _SEPARATORS.sub("", raw.strip())
    if number.startswith("00"):
        number = "+" + number[2:]
    elif not number.startswith("+"):
        if country_code == "45" and len(number) != 8:
            raise PhoneNumberError("a Danish number has 8 digits (or give +country code)")
        number = f"+{country_code}{number}"
    digits = number[1:]
    if not digits.isdigit() or not 8 <= len(digits) <= 15:
        raise PhoneNumberError("a phone number is + and 8 to 15 digits")
    if digits.startswith("45") and len(digits) != 10:
        raise PhoneNumberError("a Danish number has 8 digits after +45")
    return number


def masked(number: str) -> str:
    """For logs: '+45******78'."""
    if len(number) <= 5:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 5) + number[-2:]
