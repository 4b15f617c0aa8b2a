"""Every participant's value of each measure at each wave the report uses, one compact column per (measure, wave).

A column is an array of doubles with a byte a participant saying whether there is a value: 9 bytes a
participant, where a dictionary from participant to value took about a hundred. The columns are aligned by
participant (the order they were added), so a comparison pairs the same person's before and after.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from bot.outcomes.spec import Measure

Column = tuple[Measure, str]  # a measure at a wave


class Pairs:
    """(before, after), one per participant, anonymous: two arrays of doubles rather than a tuple and two float
    objects each (about a hundred bytes) for each of a comparison's participants."""

    def __init__(self, before: Iterable[float] = (), after: Iterable[float] = ()) -> None:
        self.before, self.after = array("d", before), array("d", after)
        if len(self.before) != len(self.after):
            raise ValueError("a pair has a before and an after")

    def append(self, before: float, after: float) -> None:
        self.before.append(before)
        self.after.append(after)

    def __len__(self) -> int:
        return len(self.before)

    def __iter__(self) -> Iterator[tuple[float, float]]:
        return zip(self.before, self.after, strict=True)

    def __repr__(self) -> str:
        return f"Pairs({len(self)})"


@dataclass(frozen=True)
class Comparison:
    pairs: Pairs
    no_before: int  # participants without a value at the before wave
    no_after: int  # participants with a value there but none at the after wave


class Scores:
    def __init__(self, columns: Iterable[Column]) -> None:
        self.size = 0  # participants added
        self._values: dict[Column, array[float]] = {column: array("d") for column in columns}
        self._present: dict[Column, bytearray] = {column: bytearray() for column in self._values}

    def add(self, values: Mapping[Column, float]) -> None:
        """One participant's values; a column they have none in gets a gap."""
        self.size += 1
        for column, data in self._values.items():
            value = values.get(column)
            data.append(0.0 if value is None else value)
            self._present[column].append(value is not None)

    def values(self, measure: Measure, wave: str) -> list[float]:
        """The values there are of this measure at this wave, in participant order."""
        data, present = self._column((measure, wave))
        return [value for value, there in zip(data, present, strict=True) if there]

    def compare(self, measure: Measure, before_wave: str, after_wave: str) -> Comparison:
        """The participants with a value at both waves, in participant order, and who has not."""
        pairs, no_before, no_after = Pairs(), 0, 0
        before, has_before = self._column((measure, before_wave))
        after, has_after = self._column((measure, after_wave))
        for b, there_before, a, there_after in zip(before, has_before, after, has_after, strict=True):
            if not there_before:
                no_before += 1
            elif not there_after:
                no_after += 1
            else:
                pairs.append(b, a)
        return Comparison(pairs, no_before, no_after)

    def _column(self, column: Column) -> tuple[array[float], bytes | bytearray]:
        """A column's values and presence; a column not kept has no values."""
        if column not in self._values:
            return array("d", bytes(8 * self.size)), bytes(self.size)
        return self._values[column], self._present[column]
