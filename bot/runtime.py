"""Process-wide runtime settings for a long-running bot process.

Garbage collection: the loop allocates many short-lived objects per message, and CPython's default
thresholds then run collections so often that they dominate the event loop (measured with
benchmarks/answers.py on the 2-core machine: about 2,350 answers/s with the defaults, about 3,900 with
these settings). Objects alive at start (modules, SQLAlchemy, flows) are frozen out of collection, and the
youngest generation is collected less often. Reference cycles are still collected.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 50_000


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(GEN0_THRESHOLD, 20, 100)
