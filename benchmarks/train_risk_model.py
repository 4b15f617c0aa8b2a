"""Train the risk scan's second opinion (flows/risk_model.json) on the evaluation statements.

    uv run --with scikit-learn python benchmarks/train_risk_model.py [--out flows/risk_model.json]

A logistic regression over TF-IDF character n-grams (2-5, within words) and word uni/bigrams of the
message in canonical spelling (flows/risk_words.canonical). It is trained on tune.csv, holdout.csv and
fresh.csv, with everyday chat replies and every answer label of the shipped flows as negatives
(everyday_replies.txt); final.csv is never used, so benchmarks/risk_recall.py can measure it on statements it has not
seen. C and the threshold were chosen by leave-one-file-out cross-validation on the training files: the
highest mean recall of rules plus model with no fold over 8 % false alarms (C=2, threshold 0.8).

scikit-learn is needed here only: the bot scores with flows/risk_model.py, a few lines of pure Python that
reproduce the same features. The file stores, for a handful of statements, the probability scikit-learn
gave, and tests/flows/test_risk_model.py checks that the pure-Python scorer agrees.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.risk_loader import answer_labels  # noqa: E402
from flows.risk_model import canonical_text  # noqa: E402

DATA = ROOT / "benchmarks" / "risk_eval"
TRAIN = ("tune", "holdout", "fresh")
C, THRESHOLD, MIN_WORDS = 2.0, 0.8, 3
CHECKS = ("jeg vil ikke være her mere", "jeg er dødtræt i dag", "I can't see the point of anything anymore",
          "ret ofte", "min mor døde sidste år", "har samlet nogle piller sammen")


def everyday_replies() -> list[str]:
    """Ordinary chat (everyday_replies.txt) and every answer label of the shipped flows, as negatives: the
    model must never fire on someone answering a question or saying they are fine."""
    texts = [line.strip() for line in (DATA / "everyday_replies.txt").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    return texts + answer_labels(ROOT / "flows" / "definitions")


def main() -> int:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "flows" / "risk_model.json")
    args = parser.parse_args()
    rows = [row for name in TRAIN for row in csv.DictReader((DATA / f"{name}.csv").open(encoding="utf-8"))]
    everyday = everyday_replies()
    texts = [canonical_text(row["text"]) for row in rows] + [canonical_text(text) for text in everyday]
    labels = [row["category"] != "none" for row in rows] + [False] * len(everyday)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2, lowercase=False)
    words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=2, lowercase=False,
                            token_pattern=r"(?u)\b\w\w+\b")
    from scipy.sparse import hstack

    features = hstack([chars.fit_transform(texts), words.fit_transform(texts)]).tocsr()
    model = LogisticRegression(C=C, max_iter=3000, class_weight="balanced").fit(features, labels)
    coef = model.coef_[0]
    split = len(chars.vocabulary_)

    def table(vectorizer: TfidfVectorizer, offset: int) -> dict[str, list[float]]:
        return {term: [round(float(vectorizer.idf_[i]), 5), round(float(coef[offset + i]), 5)]
                for term, i in sorted(vectorizer.vocabulary_.items())}

    checks = [[text, round(float(model.predict_proba(hstack([chars.transform([canonical_text(text)]),
                                                             words.transform([canonical_text(text)])]))[0, 1]), 4)]
              for text in CHECKS]
    out = {
        "about": "Second opinion of the free-text risk scan; made by benchmarks/train_risk_model.py. Do not edit.",
        "trained_on": [f"benchmarks/risk_eval/{name}.csv" for name in TRAIN],
        "threshold": THRESHOLD, "min_words": MIN_WORDS, "intercept": round(float(model.intercept_[0]), 5),
        "char": table(chars, 0), "word": table(words, split), "checks": checks,
    }
    args.out.write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(f"{len(rows)} statements and {len(everyday)} everyday replies, {features.shape[1]} features -> "
          f"{args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
