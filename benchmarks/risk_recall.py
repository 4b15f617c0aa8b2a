"""Recall and false alarms of the free-text risk scan on the evaluation set in benchmarks/risk_eval/.

    python benchmarks/risk_recall.py [--split tune|holdout|fresh|final|final2|final3|all] [--quiet] [--rules-only]

Every statement is scanned with the shipped word list (`flows/risk_terms.yaml`) exactly as the engine scans
a message. A risk statement counts as found when any level fires (the person gets the crisis contacts and a
coach is alerted); the level is reported too. Printed per split: recall per category and language, the
false-alarm rate on the everyday sentences, how often the level is at least the labelled one, and every
miss and false alarm. Targets (issue 11), on statements not tuned on: recall >= 0.98, false alarms <= 0.10.
Since round 4 the word list and the model (flows/risk_model.json) have been tuned and trained on all five files
(benchmarks/risk_eval/README.md), so every figure printed here is in-sample: it shows what the scan knows, not how
it does on a new writer. The figures for new writers come from leaving each file out
(`uv run --with scikit-learn python benchmarks/train_risk_model.py --cv` and `--honest`); --rules-only gives the
word list alone.
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.risk import RiskTerms, rank  # noqa: E402
from flows.risk_loader import load_risk_terms  # noqa: E402

DATA = ROOT / "benchmarks" / "risk_eval"
TARGET_RECALL, TARGET_FALSE_ALARMS = 0.98, 0.10


SPLITS = ["tune", "holdout", "fresh", "final", "final2"]  # `all`: every file tuned on; final3 is scored on its own


def read_split(name: str) -> list[dict[str, str]]:
    with (DATA / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def evaluate(terms: RiskTerms, rows: list[dict[str, str]], quiet: bool, rules_only: bool) -> dict[str, object]:
    found: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])  # (category, lang) -> [hits, total]
    misses, alarms, under = [], [], 0
    risky = quiet_rows = level_ok = 0
    started = time.perf_counter()
    for row in rows:
        hit = terms.scan_rules(row["text"]) if rules_only else terms.scan(row["text"])
        if row["category"] == "none":
            quiet_rows += 1
            if hit is not None:
                alarms.append((row, hit.level, hit.phrase))
            continue
        risky += 1
        counts = found[(row["category"], row["lang"])]
        counts[1] += 1
        if hit is None:
            misses.append(row)
            continue
        counts[0] += 1
        if rank(hit.level) >= rank(row["level"]):
            level_ok += 1
        else:
            under += 1
    elapsed = time.perf_counter() - started
    hits = sum(h for h, _ in found.values())
    recall = hits / risky if risky else 0.0
    false_alarms = len(alarms) / quiet_rows if quiet_rows else 0.0
    print(f"  {'category':<14} {'da':>9} {'en':>9}")
    for category in sorted({c for c, _ in found}):
        cells = []
        for lang in ("da", "en"):
            h, n = found.get((category, lang), [0, 0])
            cells.append(f"{h}/{n}" if n else "-")
        print(f"  {category:<14} {cells[0]:>9} {cells[1]:>9}")
    for lang in ("da", "en"):
        h = sum(v[0] for (c, lg), v in found.items() if lg == lang)
        n = sum(v[1] for (c, lg), v in found.items() if lg == lang)
        print(f"  recall {lang}: {h}/{n} = {h / n:.3f}" if n else f"  recall {lang}: -")
    print(f"  recall: {hits}/{risky} = {recall:.3f} (target >= {TARGET_RECALL})")
    print(f"  false alarms: {len(alarms)}/{quiet_rows} = {false_alarms:.3f} (target <= {TARGET_FALSE_ALARMS})")
    print(f"  level at least the labelled one: {level_ok}/{hits}; lower than labelled: {under}")
    print(f"  scan time: {1e6 * elapsed / max(len(rows), 1):.0f} µs per statement")
    if not quiet:
        for row in misses:
            print(f"  MISS  [{row['id']}] {row['text']}")
        for row, level, phrase in alarms:
            print(f"  FALSE ALARM  [{row['id']}] {row['text']}  <- {level}: {phrase}")
    return {"recall": round(recall, 4), "false_alarm_rate": round(false_alarms, 4), "risk": risky,
            "everyday": quiet_rows, "misses": len(misses), "false_alarms": len(alarms), "level_lower": under}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=[*SPLITS, "final3", "all"], default="all")
    parser.add_argument("--quiet", action="store_true", help="figures only, no list of misses and false alarms")
    parser.add_argument("--rules-only", action="store_true", help="the word list without the model's second opinion")
    args = parser.parse_args()
    terms, problems = load_risk_terms(ROOT / "flows" / "risk_terms.yaml")
    if terms is None:
        print("\n".join(map(str, problems)), file=sys.stderr)
        return 2
    figures = {}
    for split in (SPLITS if args.split == "all" else [args.split]):
        print(f"== {split}")
        figures[split] = evaluate(terms, read_split(split), args.quiet, args.rules_only)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
