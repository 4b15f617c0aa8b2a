"""Numbers and dates as the report's readers write them (babel): "38,29" and "16. mar. 2026" in Danish.

A missing value (no one to compute it from) is a dash, never 0. Units decide the decimals: counts none, means
and SDs two (as seed 000 prints WHO-5), percentages one. A negative number has the ASCII minus "-" in every format
(as the report's own words do): a spreadsheet reads "-35,9" as a number and the typographic minus as text.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_decimal, get_decimal_symbol

from bot.outcomes.stats import Summary

DASH = "–"
MINUS = "-"  # never U+2212, which some of babel's locales write
LOCALES = {"da": "da_DK", "en": "en_GB"}
PLACES = {"count": 0, "percent": 1, "score": 2, "points": 2, "rate": 2, "minutes": 1, "days": 1}


class Numbers:
    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.locale = Locale.parse(LOCALES.get(lang, lang))

    @property
    def decimal_comma(self) -> bool:
        return get_decimal_symbol(self.locale) == ","

    def number(self, value: float | None, places: int = 2, grouping: bool = True) -> str:
        if value is None:
            return DASH
        pattern = ("#,##0" if grouping else "0") + ("." + "0" * places if places else "")
        # rounded as a reader rounds by hand (30,25 -> 30,3; babel alone rounds half to even), and never "-0,0"
        rounded = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        shown = format_decimal(abs(rounded) if rounded == 0 else rounded, pattern, locale=self.locale)
        return shown.replace("\u2212", MINUS)

    def percent(self, value: float | None, places: int = 1) -> str:
        return DASH if value is None else f"{self.number(value, places)}\u00a0%"

    def unit(self, value: float | None, unit: str, grouping: bool = True) -> str:
        """A figure's value as the report shows it (`grouping` off for spreadsheets)."""
        shown = self.number(value, PLACES.get(unit, 2), grouping)
        return f"{shown}\u00a0%" if unit == "percent" and value is not None else shown

    def mean_sd(self, stats: Summary) -> str:
        """Seed 000's "38,29 (±16,03)"; the SD is a dash below two values."""
        return f"{self.number(stats.mean)} (±{self.number(stats.sd)})"

    def day(self, value: date) -> str:
        return format_date(value, "medium", locale=self.locale)

    def moment(self, value: datetime, zone: tzinfo) -> str:
        """Date and time to the minute, in `zone`: "2. okt. 2026 12.00"."""
        here = value.astimezone(zone)
        return f"{format_date(here, 'medium', locale=self.locale)} {format_time(here, 'short', locale=self.locale)}"
