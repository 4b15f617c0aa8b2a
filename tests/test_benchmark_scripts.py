"""Every benchmark starts the way `./dev bench` runs it, `python benchmarks/NAME.py`: as a script, its folder comes
first on sys.path, where benchmarks/telegram.py would shadow python-telegram-bot's `telegram` (the priority and
webhooks benchmarks did, and stopped at their imports)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CEILING = "telegram_ceiling.py"  # not a benchmark of its own: a variant benchmarks/telegram.py runs
SCRIPTS = sorted(path.name for path in (ROOT / "benchmarks").glob("*.py") if path.name != CEILING)


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_benchmark_starts_as_a_script(script: str) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage" in done.stdout.lower()


def test_the_ceiling_variant_run_alone_says_what_runs_it() -> None:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("TELEGRAM_")}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / CEILING)], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "benchmarks/telegram.py" in done.stderr and "Traceback" not in done.stderr
