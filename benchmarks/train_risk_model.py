"""Train the risk scan's second opinion (flows/risk_model.json), and measure how it generalises.

    uv run --with scikit-learn python benchmarks/train_risk_model.py [--out flows/risk_model.json]
    uv run --with scikit-learn python benchmarks/train_risk_model.py --cv      # leave one file out: C, threshold
    uv run --with scikit-learn python benchmarks/train_risk_model.py --cv --before  # the same for the previous model
    uv run --with scikit-learn python benchmarks/train_risk_model.py --honest  # files nothing was tuned for (round 3)

The model is a logistic regression over three blocks of TF-IDF features (flows/risk_model.py): character n-grams
(2-5, within words) and word uni/bigrams of the message in canonical spelling, and the word list's concepts with
each pair of concepts within 4 words; the words an exception of the list takes out are taken out for the model
too. It is trained on all five evaluation files (tune, holdout, fresh, final, final2), with everyday chat replies and
every answer label of the shipped flows (everyday_replies.txt) and the developer's training statements
(training_extra.csv) added; class weights balanced.

**Choosing C and the threshold (--cv).** Each of the five files is left out in turn: the model is trained on the
other four (with the everyday replies and the extra statements) and scores the one left out. The word list has
been tuned on all five files, so rules plus model on a left-out file is optimistic; C and the threshold are
chosen on the model alone: for each C the highest recall, pooled over the five left-out files, with pooled false
alarms on their everyday statements at most 0.05 (the word list's own false alarms on a new writer, 0.03-0.05 so
far, come on top; together at most about 0.10); of the Cs within 0.01 of the best recall the smallest, the most
regularised, is chosen (a large C learns the training sentences by heart, and fired more on short everyday
answers). The choice (round 4, five files, the final list and statements): C=10, threshold 0.70 (round 3: C=10,
0.75). C=30 with threshold 0.75 is as good within the noise (pooled 0.889 at 0.051): while statements were added the
choice flipped between the two.

**Honest figures (--honest).** Round 4 read every file, so only round 3's state can be scored honestly: final.csv
with the word list as it was before round 3 (git 4f10250, tuned on the other three files) and a model trained
without final.csv; fresh.csv with the word list as it was before anyone read fresh.csv (git 94f46da) plus the
round-3 changes (written from final.csv's misses and a list of common phrasings, never from fresh.csv) and a model
trained without fresh.csv; final2.csv with the list at the end of round 3 (git 534843d) and a model trained on the
four older files. Models: C=10, threshold 0.75, the extra statements and everyday replies as committed at the end
of round 3. "before" is the previous model (characters and words only, C=2, threshold 0.8, no extra statements,
no exceptions taken out, the everyday replies as they were). The honest figure for round 4 needs a new writer.

scikit-learn is needed here only: the bot scores with flows/risk_model.py, a few lines of pure Python that
reproduce the same features. The file stores, for a handful of statements, the probability scikit-learn gave,
and tests/flows/test_risk_model.py checks that the pure-Python scorer agrees.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.risk import RiskTerms, is_concept  # noqa: E402
from flows.risk_file import read_risk_terms  # noqa: E402
from flows.risk_loader import answer_labels  # noqa: E402
from flows.risk_model import FORMAT, Features  # noqa: E402
from flows.risk_words import words_of  # noqa: E402

DATA = ROOT / "benchmarks" / "risk_eval"
TERMS_FILE = ROOT / "flows" / "risk_terms.yaml"
FILES = ("tune", "holdout", "fresh", "final", "final2")
C, THRESHOLD, MIN_WORDS = 10.0, 0.70, 3
C_GRID = (3.0, 10.0, 30.0, 100.0, 300.0)
THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(9))  # 0.50 ... 0.90
MAX_FALSE_ALARMS = 0.05  # the model alone, pooled over the left-out files
RECALL_TOLERANCE = 0.01  # of the Cs this close to the best recall, the smallest (the most regularised) is chosen
BEFORE_ROUND3 = "4f10250"  # the word list before round 3: tuned on tune, holdout and fresh, never on final
BEFORE_FRESH = "94f46da"  # the word list when fresh.csv was first scored: tuned on tune and holdout only
ROUND3_END = "534843d"  # the list, extra statements and replies after round 3: never changed for final2.csv
ROUND3_FILES = ("tune", "holdout", "fresh", "final")
ROUND3_THRESHOLD = 0.75
FEATURES = Features()
CHECKS = ("jeg vil ikke være her mere", "jeg er dødtræt i dag", "I can't see the point of anything anymore",
          "ret ofte", "min mor døde sidste år", "har samlet nogle piller sammen", "hope i don't wake up before 9")

Row = dict[str, str]


def read_file(name: str, revision: str | None = None) -> list[Row]:
    """An evaluation or training file, as committed at `revision` if given."""
    if revision is not None:
        return list(csv.DictReader(git_show(revision, f"benchmarks/risk_eval/{name}.csv").splitlines()))
    with (DATA / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def everyday_replies(revision: str | None = None) -> list[str]:
    """Ordinary chat (everyday_replies.txt, as committed at `revision` if given) and every answer label of the
    shipped flows, as negatives: the model must never fire on someone answering a question or saying they are
    fine."""
    text = (DATA / "everyday_replies.txt").read_text(encoding="utf-8") if revision is None else git_show(
        revision, "benchmarks/risk_eval/everyday_replies.txt")
    texts = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return texts + answer_labels(ROOT / "flows" / "definitions")


def is_risk(row: Row) -> bool:
    return row["category"] != "none"


class Viewer:
    """The model's features of a text, as flows/risk.py gives them at run time (or, for the previous model,
    characters and words of the whole message)."""

    def __init__(self, terms: RiskTerms, blocks: Sequence[str] = ("char", "word", "concept"), mask: bool = True):
        self.terms, self.blocks, self.mask = terms, tuple(blocks), mask

    def __call__(self, text: str) -> dict[str, list[str]]:
        if self.mask:
            words, concepts = self.terms.model_view(text)
        else:
            words = words_of(text)
            concepts = [frozenset()] * len(words)
        grams = FEATURES.of(words, concepts)
        return {name: grams[name] for name in self.blocks}


def _identity(grams: list[str]) -> list[str]:
    return grams


class Trained:
    """A fitted model: one TF-IDF vectorizer per block and a logistic regression over all of them."""

    def __init__(self, viewer: Viewer, texts: list[str], labels: list[bool], c: float):
        from scipy.sparse import hstack
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.viewer, self._hstack = viewer, hstack
        views = [viewer(text) for text in texts]
        self.vectorizers = {name: TfidfVectorizer(analyzer=_identity, sublinear_tf=True, min_df=2, lowercase=False)
                            for name in viewer.blocks}
        features = hstack([v.fit_transform([view[name] for view in views])
                           for name, v in self.vectorizers.items()]).tocsr()
        self.model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit(features, labels)

    def probabilities(self, texts: Sequence[str]) -> list[float]:
        views = [self.viewer(text) for text in texts]
        features = self._hstack([v.transform([view[name] for view in views])
                                 for name, v in self.vectorizers.items()]).tocsr()
        return [float(p) for p in self.model.predict_proba(features)[:, 1]]

    def to_json(self, trained_on: list[str], threshold: float) -> dict[str, Any]:
        coef = self.model.coef_[0]
        blocks, offset = {}, 0
        for name, vectorizer in self.vectorizers.items():
            blocks[name] = {term: [round(float(vectorizer.idf_[i]), 5), round(float(coef[offset + i]), 5)]
                            for term, i in sorted(vectorizer.vocabulary_.items())}
            offset += len(vectorizer.vocabulary_)
        checks = [[text, round(p, 4)] for text, p in zip(CHECKS, self.probabilities(CHECKS), strict=True)]
        return {
            "about": "Second opinion of the free-text risk scan; made by benchmarks/train_risk_model.py. Do not edit.",
            "format": FORMAT, "trained_on": trained_on, "threshold": threshold, "min_words": MIN_WORDS,
            "settings": {"char": [FEATURES.char_low, FEATURES.char_high], "concept_window": FEATURES.concept_window},
            "intercept": round(float(self.model.intercept_[0]), 5), "blocks": blocks, "checks": checks,
        }


def extra_rows(revision: str | None = None) -> list[Row]:
    return read_file("training_extra", revision)


def training_set(files: Sequence[str], extra: bool, before: bool = False,
                 revision: str | None = None) -> tuple[list[str], list[bool]]:
    """The statements of `files`, the extra ones if `extra` (as committed at `revision` if given), and the everyday
    replies (as they were before round 3 if `before`, else at `revision`)."""
    rows = [row for name in files for row in read_file(name)] + (extra_rows(revision) if extra else [])
    everyday = everyday_replies(BEFORE_ROUND3 if before else revision)
    return [row["text"] for row in rows] + everyday, [is_risk(row) for row in rows] + [False] * len(everyday)


class Scored:
    """One left-out file: per statement, whether it is a risk statement, the model's probability, whether a rule
    fires and how many words it has."""

    def __init__(self, rows: list[Row], probabilities: list[float], terms: RiskTerms):
        self.risk = [is_risk(row) for row in rows]
        self.p = probabilities
        self.rule = [terms.scan_rules(row["text"]) is not None for row in rows]
        self.length = [len(words_of(row["text"])) for row in rows]

    def model(self, threshold: float) -> list[bool]:
        return [p >= threshold and n >= MIN_WORDS for p, n in zip(self.p, self.length, strict=True)]

    def union(self, threshold: float) -> list[bool]:
        return [m or r for m, r in zip(self.model(threshold), self.rule, strict=True)]

    def rates(self, fired: list[bool]) -> tuple[int, int, int, int]:
        """(risk found, risk statements, false alarms, everyday statements)."""
        hits = sum(f for f, r in zip(fired, self.risk, strict=True) if r)
        alarms = sum(f for f, r in zip(fired, self.risk, strict=True) if not r)
        return hits, sum(self.risk), alarms, len(self.risk) - sum(self.risk)


def fmt(counts: tuple[int, int, int, int]) -> str:
    hits, risky, alarms, quiet = counts
    return f"{hits / risky:.3f} ({hits}/{risky}) / {alarms / quiet:.3f} ({alarms}/{quiet})"


def pooled(scored: Sequence[Scored], fired: Callable[[Scored], list[bool]]) -> tuple[int, int, int, int]:
    parts = [s.rates(fired(s)) for s in scored]
    return tuple(sum(p[i] for p in parts) for i in range(4))  # type: ignore[return-value]


def leave_one_out(c: float, terms: RiskTerms, viewer: Viewer, before: bool = False) -> dict[str, Scored]:
    scored = {}
    for left_out in FILES:
        texts, labels = training_set([f for f in FILES if f != left_out], extra=not before, before=before)
        trained = Trained(viewer, texts, labels, c)
        rows = read_file(left_out)
        scored[left_out] = Scored(rows, trained.probabilities([row["text"] for row in rows]), terms)
    return scored


def cross_validate() -> None:
    terms = load_terms(TERMS_FILE.read_text(encoding="utf-8"))
    viewer = Viewer(terms)
    best_of: dict[float, tuple[float, float]] = {}  # C -> (recall, threshold) at false alarms <= MAX_FALSE_ALARMS
    results = {}
    print("leave one file out; the model alone, pooled; per C the best recall with false alarms <= "
          f"{MAX_FALSE_ALARMS}, and the smallest C within {RECALL_TOLERANCE} of the best is chosen")
    for c in C_GRID:
        scored = list(leave_one_out(c, terms, viewer).values())
        results[c] = scored
        cells = []
        for threshold in THRESHOLDS:
            hits, risky, alarms, quiet = pooled(scored, lambda s, t=threshold: s.model(t))
            cells.append(f"{threshold:.2f}: {hits / risky:.3f}/{alarms / quiet:.3f}")
            if alarms / quiet <= MAX_FALSE_ALARMS and hits / risky > best_of.get(c, (-1.0, 0.0))[0]:
                best_of[c] = (hits / risky, threshold)
        print(f"  C={c:<5} " + "  ".join(cells), flush=True)
    top = max(recall for recall, _ in best_of.values())
    c = min(c for c, (recall, _) in best_of.items() if recall >= top - RECALL_TOLERANCE)  # the simplest that is as good
    threshold = best_of[c][1]
    print(f"chosen: C={c}, threshold {threshold} (shipped: C={C}, threshold {THRESHOLD})")
    print(f"per left-out file at C={c}, threshold {threshold}: recall (found/risk) / false alarms (alarms/everyday)")
    print("  (the word list was tuned on all five files: its column and rules + model are in-sample for the rules)")
    print_folds(dict(zip(FILES, results[c], strict=True)), threshold)


def print_folds(scored: dict[str, Scored], threshold: float) -> None:
    for name, s in scored.items():
        print(f"  {name:<8} rules {fmt(s.rates(s.rule))}   model {fmt(s.rates(s.model(threshold)))}   "
              f"rules + model {fmt(s.rates(s.union(threshold)))}")
    every = list(scored.values())
    print(f"  {'pooled':<8} rules {fmt(pooled(every, lambda s: s.rule))}   "
          f"model {fmt(pooled(every, lambda s: s.model(threshold)))}   "
          f"rules + model {fmt(pooled(every, lambda s: s.union(threshold)))}")


def cross_validate_before() -> None:
    """The previous model (characters and words, C=2, threshold 0.8, no extra statements) with the word list
    before round 3, each file left out in turn."""
    import yaml

    terms = load_terms(yaml.safe_dump(git_list(BEFORE_ROUND3), allow_unicode=True, sort_keys=False, width=1000))
    scored = leave_one_out(2.0, terms, Viewer(terms, ("char", "word"), mask=False), before=True)
    print("before round 3, leave one file out (C=2, threshold 0.8; the list before round 3, tuned on tune, holdout "
          "and fresh): recall / false alarms")
    print_folds(scored, 0.8)


def load_terms(text: str) -> RiskTerms:
    terms, problems = read_risk_terms(text, "risk_terms.yaml")
    if terms is None:
        raise SystemExit("\n".join(map(str, problems)))
    return terms


def git_show(revision: str, path: str) -> str:
    return subprocess.run(["git", "show", f"{revision}:{path}"], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout


def git_list(revision: str) -> dict[str, Any]:
    import yaml

    data: dict[str, Any] = yaml.safe_load(git_show(revision, "flows/risk_terms.yaml"))
    return data


def with_changes(base: dict[str, Any], before: dict[str, Any], after: dict[str, Any]) -> str:
    """`base` plus what changed from `before` to `after`: concept words, exceptions and rules added."""
    import yaml

    def key(item: Any) -> str:
        return json.dumps(item, sort_keys=True, ensure_ascii=False)

    merged = json.loads(json.dumps(base))
    for name, words in after["concepts"].items():
        added = [w for w in words if w not in before["concepts"].get(name, [])]
        have = merged["concepts"].setdefault(name, [])
        have += [w for w in added if w not in have]
    merged["concepts"] = {name: words for name, words in merged["concepts"].items() if words}

    def known(item: Any) -> bool:  # a rule on a concept made after `base` and not in the change is left out
        written = item["words"] if isinstance(item, dict) else item
        return all(t in merged["concepts"] for t in str(written).split() if is_concept(t))

    for section in ("exceptions", "high", "moderate", "low"):
        old = {key(item) for item in before.get(section) or []}
        merged.setdefault(section, [])
        merged[section] += [item for item in after.get(section) or [] if key(item) not in old and known(item)]
    text: str = yaml.safe_dump(merged, allow_unicode=True, sort_keys=False, width=1000)
    return text


def honest() -> None:
    import yaml

    # Round 4 read every file, so the honest figures are those of round 3's list and model settings (ROUND3_END):
    # the list at the end of round 3 for fresh (its changes from final's misses) and final2, and round 3's extra
    # statements and everyday replies; the next honest figure is a new writer's file, scored once.
    now = git_list(ROUND3_END)
    before_round3 = git_list(BEFORE_ROUND3)
    lists = {"final": load_terms(yaml.safe_dump(before_round3, allow_unicode=True, sort_keys=False, width=1000)),
             "fresh": load_terms(with_changes(git_list(BEFORE_FRESH), before_round3, now)),
             "final2": load_terms(yaml.safe_dump(now, allow_unicode=True, sort_keys=False, width=1000))}
    print("rules and model never changed for the file scored (round 3's list, model settings and extra statements): "
          "recall (found/risk) / false alarms (alarms/everyday)")
    base = load_terms(yaml.safe_dump(git_list(BEFORE_FRESH), allow_unicode=True, sort_keys=False, width=1000))
    fresh = read_file("fresh")
    print(f"  fresh, the list at {BEFORE_FRESH} alone (without round 3): "
          f"{fmt(Scored(fresh, [0.0] * len(fresh), base).rates(Scored(fresh, [0.0] * len(fresh), base).rule))}")
    for name, terms in lists.items():
        rows = read_file(name)
        others = [f for f in ROUND3_FILES if f != name]
        text = [row["text"] for row in rows]
        old_texts, old_labels = training_set(others, extra=False, before=True)
        old = Scored(rows, Trained(Viewer(terms, ("char", "word"), mask=False), old_texts, old_labels, 2.0)
                     .probabilities(text), terms)
        new_texts, new_labels = training_set(others, extra=name != "final", revision=ROUND3_END)  # extra: after final
        new = Scored(rows, Trained(Viewer(terms), new_texts, new_labels, 10.0).probabilities(text), terms)
        what = {"final": "list before round 3", "fresh": f"list at {BEFORE_FRESH} + round 3",
                "final2": "list after round 3"}[name]
        print(f"  {name} ({what}); rules alone {fmt(new.rates(new.rule))}")
        print(f"    before: model {fmt(old.rates(old.model(0.8)))}   rules + model {fmt(old.rates(old.union(0.8)))}")
        print(f"    round 3: model {fmt(new.rates(new.model(ROUND3_THRESHOLD)))}   "
              f"rules + model {fmt(new.rates(new.union(ROUND3_THRESHOLD)))}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "flows" / "risk_model.json")
    parser.add_argument("--cv", action="store_true", help="leave one file out: C and threshold, figures per file")
    parser.add_argument("--honest", action="store_true",
                        help="the three files round 3's rules and model were never changed for")
    parser.add_argument("--before", action="store_true", help="with --cv: the previous model and word list")
    args = parser.parse_args()
    if args.cv:
        cross_validate_before() if args.before else cross_validate()
        return 0
    if args.honest:
        honest()
        return 0
    terms = load_terms(TERMS_FILE.read_text(encoding="utf-8"))
    texts, labels = training_set(FILES, extra=True)
    trained = Trained(Viewer(terms), texts, labels, C)
    trained_on = [f"benchmarks/risk_eval/{name}.csv" for name in (*FILES, "training_extra")]
    out = trained.to_json([*trained_on, "benchmarks/risk_eval/everyday_replies.txt"], THRESHOLD)
    args.out.write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(f"{len(texts)} statements ({sum(labels)} risk), "
          f"{sum(len(b) for b in out['blocks'].values())} features -> {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
