"""Every conversation in tests/transcripts/*.txt, replayed through the real bot (tests/transcript_runner.py).

One test per file. When the bot does something else than the file says, the test fails with a diff; after a
deliberate change, `pytest tests/test_transcripts_data.py --update-transcripts` writes what the bot does now into
the files (review it with git diff before committing).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.transcript_runner import TRANSCRIPTS, replay

FILES = sorted(TRANSCRIPTS.glob("*.txt"))


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
async def test_transcript(path: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    result = await replay(path, tmp_path)
    if result.matches:
        return
    if request.config.getoption("--update-transcripts"):
        path.write_text(result.rewritten(), encoding="utf-8")
        return
    pytest.fail(result.report(), pytrace=False)
