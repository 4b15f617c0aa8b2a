"""SMS text: keep messages in the GSM-7 alphabet where possible, and count segments as operators bill them.

Danish æøåÆØÅ are GSM-7. Curly quotes, dashes and the ellipsis are not: one of them would switch the whole
message to UCS-2 (70 characters a segment instead of 160), so they are replaced by their plain forms.
"""

from __future__ import annotations

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")  # each takes two septets
REPLACEMENTS = {
    "“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "‚": "'",
    "–": "-", "—": "-", "‐": "-", "…": "...", "\u00a0": " ", "\u202f": " ", "\t": " ",
}


def to_gsm(text: str) -> str:
    """Replace the common characters that would force UCS-2; leave the rest (an emoji stays UCS-2)."""
    return "".join(REPLACEMENTS.get(c, c) for c in text)


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text)


def segments(text: str) -> int:
    """How many SMS segments `text` takes: GSM-7 160 single / 153 concatenated; UCS-2 70 / 67."""
    if is_gsm7(text):
        septets = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        return 1 if septets <= 160 else -(-septets // 153)
    units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)  # UTF-16 code units
    return 1 if units <= 70 else -(-units // 67)
