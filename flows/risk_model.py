"""The risk scan's second opinion: a small statistical model for phrasings the word list does not know.

The word list (flows/risk.py) is the layer that must fire, and it explains itself. Many people write about
wanting to die in words no list foresees ("lægge mig til at sove for sidste gang"), so a logistic regression,
trained on the evaluation statements (benchmarks/train_risk_model.py), looks at what the list let through. Above
its threshold it raises a low-level signal: a coach reads the message and the safety check is offered; the coach
sees that the model, not a rule, fired.

It reads a message three ways, each a block of TF-IDF features (sublinear tf, l2 norm per block):

- **char**: character n-grams inside each word of the message in canonical spelling (flows/risk_words.py), robust
  to typos and to æ/ø/å typed as ae/oe/aa or a/o;
- **word**: the canonical words and each pair of neighbours;
- **concept**: the word list's concepts each word counts as (WISH, DIE, NOT, LIVE, BURDEN ...), and each pair of
  concepts within a few words ("LIVE+NOT"): what the rules look for, without the rules' exact wording or window,
  so "[not] ... [exist]" counts however it is phrased.

Words an exception of the word list takes out ("keder mig ihjel", "dead tired", "vågner før kl 9") are taken out
for the model too. Pure Python, no dependency: the weights are data (flows/risk_model.json); the file carries
probabilities scikit-learn gave, so a test can prove the two agree.
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

FORMAT = 2  # the model file's format; an older file is refused (the word list then works alone)
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
MAX_CONCEPT_GRAMS = 4_000  # bounds the work on a very long message


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


def concept_ngrams(concepts: Sequence[frozenset[str]], window: int) -> list[str]:
    """Each concept of each word, and each pair of different concepts at most `window` words apart (in
    alphabetical order: "LIVE+NOT" for "not ... live" and "live ... not")."""
    grams: list[str] = []
    for i, here in enumerate(concepts):
        grams.extend(sorted(here))
        for j in range(i + 1, min(len(concepts), i + window + 1)):
            grams.extend(f"{a}+{b}" if a < b else f"{b}+{a}" for a in here for b in concepts[j] if a != b)
        if len(grams) > MAX_CONCEPT_GRAMS:
            break
    return grams


@dataclass(frozen=True)
class Features:
    """How a message is turned into the three blocks of features (settings stored in the model file)."""

    char_low: int = 2
    char_high: int = 5
    concept_window: int = 4

    def of(self, words: Sequence[str], concepts: Sequence[frozenset[str]]) -> dict[str, list[str]]:
        """The features of a message: its words (flows/risk_words.py `words_of`, exceptions taken out) and the
        concepts of each of those words."""
        text = canonical_words(words)
        return {"char": char_ngrams(text, self.char_low, self.char_high), "word": word_ngrams(text),
                "concept": concept_ngrams(concepts, self.concept_window)}


@dataclass(frozen=True)
class RiskModel:
    """Per block of features, per feature: (idf, coefficient)."""

    blocks: Mapping[str, Mapping[str, tuple[float, float]]]
    intercept: float
    threshold: float
    min_words: int
    features: Features = Features()
    checks: tuple[tuple[str, float], ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RiskModel:
        if data.get("format") != FORMAT:
            raise ValueError(f"model file format {data.get('format')!r}, not {FORMAT}")

        def table(raw: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
            return {str(k): (float(v[0]), float(v[1])) for k, v in raw.items()}

        settings = data["settings"]
        features = Features(int(settings["char"][0]), int(settings["char"][1]), int(settings["concept_window"]))
        return cls({str(name): table(raw) for name, raw in data["blocks"].items()}, float(data["intercept"]),
                   float(data["threshold"]), int(data["min_words"]), features,
                   tuple((str(t), float(p)) for t, p in data.get("checks", ())))

    def probability_of(self, words: Sequence[str], concepts: Sequence[frozenset[str]] = ()) -> float:
        """The probability for a message: its words (exceptions taken out) and the concepts of each word
        (flows/risk.py `RiskTerms.model_view` gives both)."""
        grams = self.features.of(words, concepts or [frozenset()] * len(words))
        score = self.intercept + sum(_part(grams[name], weights) for name, weights in self.blocks.items())
        return 1.0 / (1.0 + math.exp(-score))

    def fires_on(self, words: Sequence[str], concepts: Sequence[frozenset[str]] = (),
                 length: int | None = None) -> float | None:
        """The probability when it is at or above the threshold and the message (`length` words, by default
        len(words)) has at least `min_words` words."""
        if (len(words) if length is None else length) < self.min_words:
            return None
        p = self.probability_of(words, concepts)
        return p if p >= self.threshold else None


def _part(grams: list[str], weights: Mapping[str, tuple[float, float]]) -> float:
    """One block's share of the score: sum of coefficient x l2-normalised (1 + log tf) x idf."""
    values = []
    for gram, count in Counter(grams).items():
        known = weights.get(gram)
        if known is not None:
            idf, coef = known
            values.append(((1.0 + math.log(count)) * idf, coef))
    norm = math.sqrt(sum(v * v for v, _ in values))
    return sum(v * coef for v, coef in values) / norm if norm else 0.0
