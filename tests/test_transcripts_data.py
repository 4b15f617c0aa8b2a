"""Every conversation in tests/transcripts/*.txt, replayed through the real bot (tests/transcript_runner.py).

One test per file. When the bot does something else than the file says, the test fails with a diff; after a
deliberate change, `pytest tests/test_transcripts_data.py --update-transcripts` writes what the bot does now into
the files (review it with git diff before committing). The last tests show that the runner does fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.transcript_runner import TRANSCRIPTS, TranscriptError, replay

FILES = sorted(TRANSCRIPTS.glob("*.txt"))


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
async def test_transcript(path: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    assert path.read_text(encoding="utf-8").startswith("#"), f"{path}: start with a # line saying what it shows"
    result = await replay(path, tmp_path)
    if result.matches:
        return
    if request.config.getoption("--update-transcripts"):
        path.write_text(result.rewritten(), encoding="utf-8")
        return
    pytest.fail(result.report(), pytrace=False)


# --- the runner fails when it should, and says why ---

STOPPED = """\
# STOP with a line the bot does not say
participant: p1
clock: 2026-11-23 10:00

start life_satisfaction
< Alt i alt, hvor tilfreds er du med dit liv for tiden?
  Svar med et helt tal fra 0 (slet ikke tilfreds) til 10 (fuldt ud tilfreds).
> STOP
< Du har stoppet spørgeskemaet. Alt, hvad du har svaret, er slettet.
> 2
"""


async def test_a_wrong_expected_line_fails_with_a_readable_diff(tmp_path: Path) -> None:
    path = tmp_path / "stopped.txt"
    path.write_text(STOPPED, encoding="utf-8")
    result = await replay(path, tmp_path)
    assert not result.matches
    report = result.report()
    assert f"{path}: the bot does not do what the transcript says, first after line 8 ('> STOP')" in report
    assert "pytest tests/test_transcripts_data.py --update-transcripts" in report
    diff = report.splitlines()
    assert "-< Du har stoppet spørgeskemaet. Alt, hvad du har svaret, er slettet." in diff
    assert "+< Du har stoppet spørgeskemaet. De svar, du nåede at give, er gemt. Tak for din tid." in diff
    assert "+< Tak for din besked. Du har ikke noget spørgeskema i gang lige nu." in " ".join(diff)  # after > 2
    assert " > STOP" in diff  # context, so the reader sees where


async def test_a_missing_or_wrong_side_effect_fails(tmp_path: Path) -> None:
    path = tmp_path / "who5.txt"
    text = (TRANSCRIPTS / "who5_low_score_referral_task.txt").read_text(encoding="utf-8")
    wrong = text.replace("! coach task #1 consider_referral, due in 2 days\n", "")
    assert wrong != text
    path.write_text(wrong, encoding="utf-8")
    report = (await replay(path, tmp_path)).report()
    assert "+! coach task #1 consider_referral, due in 2 days" in report.splitlines()


async def test_updating_writes_what_the_bot_does_and_then_it_matches(tmp_path: Path) -> None:
    path = tmp_path / "stopped.txt"
    path.write_text(STOPPED, encoding="utf-8")
    path.write_text((await replay(path, tmp_path / "first")).rewritten(), encoding="utf-8")
    again = await replay(path, tmp_path / "second")
    assert again.matches
    assert "< Du har stoppet spørgeskemaet. De svar, du nåede at give, er gemt." in path.read_text(encoding="utf-8")
    assert path.read_text(encoding="utf-8").startswith("# STOP with a line the bot does not say\nparticipant: p1\n")


@pytest.mark.parametrize(("text", "says"), [
    ("participant: p1\n< hello\n", "stopped.txt:2: what the bot says (<) or does (!) must follow an input"),
    ("participant: p1\nhello there\n", "stopped.txt:2: not a transcript line: 'hello there'"),
    ("participant: p1\nclock +soon\n", "stopped.txt:2: a time span such as +2h"),
    ("participant: p1\nnobody> LISTE\n", "stopped.txt:2: nobody> : no coach 'nobody' in the deployment"),
    ("> hej\n", "stopped.txt:1: who is writing? Start with a participant: line"),
    ("participant: p1\nchannel: fax\n> hej\n", "stopped.txt:3: channel: one of console, sms, not 'fax'"),
])
async def test_a_file_that_is_not_a_transcript_says_where_and_why(tmp_path: Path, text: str, says: str) -> None:
    (tmp_path / "stopped.txt").write_text(text, encoding="utf-8")
    with pytest.raises(TranscriptError) as error:
        await replay(tmp_path / "stopped.txt", tmp_path)
    assert says in str(error.value)
