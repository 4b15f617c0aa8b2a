"""The risk scan's second opinion: a small statistical model for phrasings the word list does not know.

The word list (flows/risk.py) is the layer that must fire, and it explains itself. Many people write about
wanting to die in words no list foresees ("lægge mig til at sove for sidste gang"), so a logistic regression
over character n-grams and word pairs, trained on the evaluation statements (benchmarks/train_risk_model.py),
looks at what the list let through. Above its threshold it raises a low-level signal: a coach reads the
message and the safety check is offered; the coach sees that the model, not a rule, fired.

Pure Python, no dependency: the weights are data (flows/risk_model.json), and `probability` reproduces
scikit-learn's TF-IDF features (`char_wb` 2-5 and word 1-2 grams, sublinear tf, l2 norm) exactly; the file
carries probabilities scikit-learn gave so a test can prove the two agree.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flows.risk_words import canonical, words_of

_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def canonical_text(text: str) -> str:
    """The message as the model reads it: its words in canonical spelling, one space apart."""
    return canonical_words(words_of(text))


def canonical_words(words: Sequence[str]) -> str:
    """`canonical_text` of a message whose words (flows/risk_words.py `words_of`) are read already."""
    return " ".join(canonical(word) for word in words)


def char_ngrams(text: str, low: int = 2, high: int = 5) -> list[str]:
    """scikit-learn's `char_wb`: n-grams inside each word padded with one space on both sides."""
    grams = []
    for word in text.split():
        padded = f" {word} "
        for n in range(low, high + 1):
            offset = 0
            grams.append(padded[offset:offset + n])
            while offset + n < len(padded):
                offset += 1
                grams.append(padded[offset:offset + n])
            if offset == 0:  # a word shorter than n counts once
                break
    return grams


def word_ngrams(text: str) -> list[str]:
    """Words of two letters or more, and each pair of neighbours."""
    tokens = _TOKEN.findall(text)
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


@dataclass(frozen=True)
class RiskModel:
    """Weights per feature: (idf, coefficient), for the character and the word features."""

    chars: Mapping[str, tuple[float, float]]
    words: Mapping[str, tuple[float, float]]
    intercept: float
    threshold: float
    min_words: int
    checks: tuple[tuple[str, float], ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RiskModel:
        def table(raw: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
            return {str(k): (float(v[0]), float(v[1])) for k, v in raw.items()}

        return cls(table(data["char"]), table(data["word"]), float(data["intercept"]), float(data["threshold"]),
                   int(data["min_words"]), tuple((str(t), float(p)) for t, p in data.get("checks", ())))

    def probability(self, text: str) -> float:
        return self.probability_of(words_of(text))

    def probability_of(self, words: Sequence[str]) -> float:
        """`probability` of a message whose words (flows/risk_words.py `words_of`) are read already."""
        canonical_form = canonical_words(words)
        score = self.intercept + _part(char_ngrams(canonical_form), self.chars) + _part(
            word_ngrams(canonical_form), self.words)
        return 1.0 / (1.0 + math.exp(-score))

    def fires(self, text: str) -> float | None:
        """The probability when it is at or above the threshold (and the message has enough words)."""
        return self.fires_on(words_of(text))

    def fires_on(self, words: Sequence[str]) -> float | None:
        """`fires` for a message whose words (flows/risk_words.py `words_of`) are read already."""
        if len(words) < self.min_words:
            return None
        p = self.probability_of(words)
        return p if p >= self.threshold else None


def _part(grams: list[str], weights: Mapping[str, tuple[float, float]]) -> float:
    """One vectorizer's share of the score: sum of coefficient x l2-normalised (1 + log tf) x idf."""
    values = []
    for gram, count in Counter(grams).items():
        known = weights.get(gram)
        if known is not None:
            idf, coef = known
            values.append(((1.0 + math.log(count)) * idf, coef))
    norm = math.sqrt(sum(v * v for v, _ in values))
    return sum(v * coef for v, coef in values) / norm if norm else 0.0
