"""The allocation sequence (bot/allocation.py): balanced blocks of 4 and 6, the same for the same key and cohort,
different for another key, and, through the real enrolment, stored with who and when and checked by an auditor."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.allocation import SCHEME, AllocationKeyError, block_of, draw, key_bytes, key_id, sequence
from bot.app import open_app
from bot.clock import COPENHAGEN, FakeClock
from bot.commands.main import main
from bot.enroll import EnrolmentError, EnrolmentRequest, enrol
from bot.settings import reload_settings
from storage.allocation_records import CONTROL, PROGRAMME, RandomisedCohort
from tests.conftest import without_consent

keys = st.binary(min_size=16, max_size=64)
cohorts = st.text(min_size=1, max_size=30)


@given(keys, cohorts, st.integers(min_value=1, max_value=200))
@settings(max_examples=60, deadline=None)
def test_every_prefix_is_balanced_within_three_and_every_block_exactly(key: bytes, cohort: str, n: int) -> None:
    drawn = list(itertools.islice(sequence(key, cohort), n))
    arms = Counter(d.arm for d in drawn)
    assert abs(arms[PROGRAMME] - arms[CONTROL]) <= 3  # half a block of 6 at most
    for _, members in itertools.groupby(drawn, key=lambda d: d.block):
        places = list(members)
        assert places[0].block_size in (4, 6)
        if len(places) == places[0].block_size:  # a complete block: exactly half and half
            assert Counter(p.arm for p in places) == {PROGRAMME: len(places) // 2, CONTROL: len(places) // 2}


@given(keys, cohorts, st.integers(min_value=0, max_value=120))
@settings(max_examples=60, deadline=None)
def test_the_same_key_and_cohort_give_the_same_allocation_every_time(key: bytes, cohort: str, seq: int) -> None:
    block_of.cache_clear()  # recomputed, not remembered
    first = draw(key, cohort, seq)
    block_of.cache_clear()
    assert draw(key, cohort, seq) == first
    assert list(itertools.islice(sequence(key, cohort), seq + 1))[seq] == first


def test_another_key_or_another_cohort_gives_another_sequence() -> None:
    key = b"k" * 32
    ours = [d.arm for d in itertools.islice(sequence(key, "trial-1"), 40)]
    assert ours != [d.arm for d in itertools.islice(sequence(b"j" * 32, "trial-1"), 40)]
    assert ours != [d.arm for d in itertools.islice(sequence(key, "trial-2"), 40)]


def test_both_block_sizes_and_every_order_occur_over_many_cohorts() -> None:
    """Nothing to predict from the pattern: sizes 4 and 6 both occur, and all 6 orders of a block of 4."""
    key = b"an allocation key of ours"
    blocks = [block_of(key, f"c{i}", 0) for i in range(400)]
    sizes = Counter(len(b) for b in blocks)
    assert sizes[4] > 150 and sizes[6] > 150
    assert len({b for b in blocks if len(b) == 4}) == 6


def test_a_short_key_is_refused() -> None:
    with pytest.raises(AllocationKeyError):
        key_bytes("short")


def test_enrolment_allocates_in_the_order_of_the_sequence_and_an_auditor_can_recompute_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "the deployment's allocation secret"
    key = key_bytes(secret)
    db = tmp_path / "bot.db"
    expected = asyncio.run(enrol_ten(db, tmp_path, key))
    monkeypatch.setenv("BOT_ALLOCATION_KEY", secret)
    reload_settings()
    try:
        assert main(["cohort", "verify", "trial-1", "--db", str(db)]) == 0
        out = capsys.readouterr().out
        programme_count = expected.count(PROGRAMME)
        assert (f"cohort 'trial-1': 10 allocations ({programme_count} programme, {10 - programme_count} control), "
                f"0 not as the sequence gives") in out
        monkeypatch.setenv("BOT_ALLOCATION_KEY", "some other secret of 16+ chars")
        reload_settings()
        assert main(["cohort", "verify", "trial-1", "--db", str(db)]) == 1
        assert "not the one cohort 'trial-1' was randomised with" in capsys.readouterr().err
    finally:
        monkeypatch.delenv("BOT_ALLOCATION_KEY")
        reload_settings()


async def enrol_ten(db: Path, tmp_path: Path, key: bytes) -> list[str]:
    """Ten enrolled into a randomised cohort through `bot.enroll.enrol`, and two refused; the arms drawn."""
    now = datetime(2026, 3, 10, 9, 0, tzinfo=COPENHAGEN)
    async with open_app(str(db), FakeClock(now), deployment_path=without_consent(tmp_path),
                        coach_channels={}) as app:
        programme = app.registry.library.programme
        await app.storage.randomise_cohort(RandomisedCohort("trial-1", SCHEME, key_id(key), "admin:lead", now))
        invites = [await enrol(app.storage, EnrolmentRequest(f"Person {i}", f"+45201234{i:02d}", cohort="trial-1",
                                                             start_date=date(2026, 3, 16)),
                               [], now, "", programme, allocation_key=key, actor="admin:nurse")
                   for i in range(10)]
        expected = [draw(key, "trial-1", seq).arm for seq in range(10)]
        assert [i.allocation.arm for i in invites if i.allocation] == expected
        stored = await app.storage.allocations("trial-1")
        assert [(a.seq, a.arm, a.allocated_by, a.allocated_at) for a in stored] == [
            (seq, arm, "admin:nurse", now) for seq, arm in enumerate(expected)]
        for invite in invites:  # control: the waves only; programme: module 1 and the rest too
            kinds = {r.kind for r in await app.storage.schedule_of(invite.participant.id)}
            assert invite.allocation is not None
            assert kinds == ({"wave_open"} if invite.allocation.arm == CONTROL else
                             {"wave_open", "module", "exercise", "checkin", "tre_summary"})
        audit = [e for e in await app.storage.audit_entries() if e.action == "participant.allocated"]
        assert sorted(e.detail["seq"] for e in audit) == list(range(10))
        assert {e.actor for e in audit} == {"admin:nurse"}
        with pytest.raises(EnrolmentError, match="another BOT_ALLOCATION_KEY"):
            await enrol(app.storage, EnrolmentRequest("Late", "+4520999990", cohort="trial-1"), [], now, "",
                        programme, allocation_key=b"not the key of this cohort", actor="admin:nurse")
        with pytest.raises(EnrolmentError, match="set BOT_ALLOCATION_KEY"):
            await enrol(app.storage, EnrolmentRequest("Late", "+4520999990", cohort="trial-1"), [], now, "",
                        programme, actor="admin:nurse")
        assert len(await app.storage.allocations("trial-1")) == 10  # nothing allocated by the refused ones
    return expected
