"""Process-wide runtime settings for a long-running bot process.

Garbage collection: the loop allocates many short-lived objects per message, and CPython's default
thresholds then run collections so often that they dominate the event loop (measured with
benchmarks/answers.py on the 2-core machine: about 2,350 answers/s with the defaults, about 3,900 with
these settings). Objects alive at start (modules, SQLAlchemy, flows) are frozen out of collection, and the
youngest generation is collected less often. Reference cycles are still collected.

Thread switches: SQLite's COMMIT (the fsync) and a BEGIN that may wait for a lock run on the writer's thread
(storage/sql/engine.py `HybridRunner`). When that thread is done it needs the GIL back from the event loop, which
CPython hands over only after its switch interval (5 ms by default): every group commit waited up to two such
intervals. At 500 µs, `benchmarks/answers.py --rate 1000` (SQLite, paced at half the capacity) went from p50 15 / p99
39 ms to p50 8-10 / p99 22 ms, with no measurable change in CPU per answer at saturation. At 100 µs the COMMIT starts
on the writer's thread 0.7 ms after the batch's statements instead of 1.8-2.2 ms (mean, timed per batch at 2,000
answers/s offered); the cost is only paid while another thread waits for the GIL, which the writer does twice per
batch.
"""

from __future__ import annotations

import gc
import sys

GEN0_THRESHOLD = 50_000
SWITCH_INTERVAL_S = 0.0001


def tune_runtime() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(GEN0_THRESHOLD, 20, 100)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
