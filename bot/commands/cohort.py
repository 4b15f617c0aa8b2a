"""`cohort randomise NAME`: opt a new cohort in to randomisation (seed 002's lottery: the programme or usual care);
`cohort verify NAME`: an auditor's check that every stored allocation is the one the key's sequence gives.

Both need `BOT_ALLOCATION_KEY` (bot/allocation.py). Randomising is audited with who and when; each enrolment into the
cohort is then allocated in its own transaction (`enroll --cohort NAME`).
"""

from __future__ import annotations

import argparse
import sys

from bot import config
from bot.commands.common import Commands, handled_by


def add_parser(commands: Commands) -> None:
    cohort = commands.add_parser("cohort", help="randomised cohorts: a control arm with usual care")
    actions = cohort.add_subparsers(dest="cohort_command", required=True, metavar="ACTION")
    randomise = actions.add_parser("randomise", help="allocate everyone enrolled in a NEW cohort to the programme "
                                   "or the control arm (blocks of 4 and 6; needs BOT_ALLOCATION_KEY)")
    randomise.add_argument("name", metavar="NAME")
    config.add_db_argument(randomise)
    handled_by(randomise, _randomise)
    verify = actions.add_parser("verify", help="recompute the cohort's sequence with BOT_ALLOCATION_KEY and compare "
                                "it with every stored allocation")
    verify.add_argument("name", metavar="NAME")
    config.add_db_argument(verify)
    handled_by(verify, _verify, existing_db=True)


def _key() -> bytes | None:
    from bot.allocation import AllocationKeyError, configured_key

    try:
        key = configured_key()
    except AllocationKeyError as exc:
        print(str(exc), file=sys.stderr)
        return None
    if key is None:
        print("set BOT_ALLOCATION_KEY (a secret of at least 16 characters, kept like the data key)", file=sys.stderr)
    return key


async def _randomise(args: argparse.Namespace) -> int:
    from bot.allocation import SCHEME, key_id
    from bot.app import open_app
    from storage.allocation_records import RandomisedCohort
    from storage.errors import AlreadyTaken, InvalidRecord

    key = _key()
    if key is None:
        return 2
    async with open_app(args.db) as app:
        try:
            opted = await app.storage.randomise_cohort(
                RandomisedCohort(args.name.strip(), SCHEME, key_id(key), config.operator(), app.clock.now()))
        except (AlreadyTaken, InvalidRecord) as exc:
            print(f"cohort {args.name!r} not randomised: {exc}", file=sys.stderr)
            return 1
    print(f"cohort {opted.cohort!r} is randomised ({opted.scheme}, key {opted.key_id}): enrol with --cohort "
          f"{opted.cohort}")
    return 0


async def _verify(args: argparse.Namespace) -> int:
    from bot.allocation import draw, key_id
    from bot.app import open_app
    from storage.records import AuditRecord

    key = _key()
    if key is None:
        return 2
    async with open_app(args.db) as app:
        cohort = await app.storage.randomised_cohort(args.name)
        if cohort is None:
            print(f"cohort {args.name!r} is not randomised", file=sys.stderr)
            return 1
        if key_id(key) != cohort.key_id:
            print(f"this BOT_ALLOCATION_KEY is not the one cohort {cohort.cohort!r} was randomised with",
                  file=sys.stderr)
            return 1
        allocations = await app.storage.allocations(cohort.cohort)
        wrong = [a.seq for a in allocations if draw(key, cohort.cohort, a.seq).arm != a.arm]
        places = {a.seq for a in allocations}
        gaps = [seq for seq in range(cohort.allocated) if seq not in places]  # erased participants leave a gap
        arms = {arm: sum(a.arm == arm for a in allocations) for arm in ("programme", "control")}
        detail = {"cohort": cohort.cohort, "allocations": len(allocations), "mismatches": len(wrong)}
        await app.storage.record_audit(AuditRecord(config.operator(), "cohort.verified", f"cohort:{cohort.cohort}",
                                                   app.clock.now(), detail))
    print(f"cohort {cohort.cohort!r}: {len(allocations)} allocations ({arms['programme']} programme, "
          f"{arms['control']} control), {len(wrong)} not as the sequence gives, {len(gaps)} places without a "
          f"stored allocation (erased)")
    for seq in wrong:
        print(f"  place {seq + 1}: stored arm differs from the sequence")
    return 0 if not wrong else 1
