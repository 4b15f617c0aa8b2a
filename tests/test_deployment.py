"""Safety configuration: validated with every problem at once; deadlines and rosters in Copenhagen time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.deployment import DEFAULT_PATH, DeploymentError, load_deployment

DEPLOYMENT = load_deployment()


def test_the_shipped_configuration_loads() -> None:
    assert {c.id for c in DEPLOYMENT.contacts} == {"akuttelefonen", "psychiatric_emergency", "livslinien", "emergency"}


@pytest.mark.parametrize(("now", "level", "deadline"), [
    (datetime(2026, 11, 23, 9, 0, tzinfo=UTC), "high", datetime(2026, 11, 23, 9, 15, tzinfo=UTC)),
    (datetime(2026, 11, 23, 9, 0, tzinfo=UTC), "moderate", datetime(2026, 11, 23, 11, 0, tzinfo=UTC)),
    # Monday -> Tuesday 12:00 in Copenhagen (11:00 UTC in winter)
    (datetime(2026, 11, 23, 9, 0, tzinfo=UTC), "low", datetime(2026, 11, 24, 11, 0, tzinfo=UTC)),
    # Friday evening -> Monday 12:00
    (datetime(2026, 11, 27, 20, 0, tzinfo=UTC), "low", datetime(2026, 11, 30, 11, 0, tzinfo=UTC)),
    # summer time: 12:00 in Copenhagen is 10:00 UTC
    (datetime(2026, 6, 30, 22, 30, tzinfo=UTC), "low", datetime(2026, 7, 2, 10, 0, tzinfo=UTC)),
])
def test_deadlines(now: datetime, level: str, deadline: datetime) -> None:
    assert DEPLOYMENT.deadline(level, now) == deadline


def test_roster_tiers_and_office_hours() -> None:
    monday_morning = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert DEPLOYMENT.in_office_hours(monday_morning)
    assert not DEPLOYMENT.in_office_hours(datetime(2026, 11, 28, 9, 0, tzinfo=UTC))  # Saturday
    assert [c.id for c in DEPLOYMENT.coaches_for(0, monday_morning)] == ["coach"]
    assert [c.id for c in DEPLOYMENT.coaches_for(2, monday_morning)] == ["coach", "backup", "lead"]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    text = text.replace("    urgent: true\n", "").replace("high: 15m", "high: soon").replace("backup: [backup]",
                                                                                            "backup: [nobody]")
    path = tmp_path / "deployment.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DeploymentError) as caught:
        load_deployment(path)
    message = str(caught.value)
    assert "no crisis contact is marked urgent" in message
    assert "deadline for high must look like 15m" in message
    assert "roster backup names 'nobody', who is not in coaches" in message
    assert all(line.startswith(f"{path}:") for line in message.splitlines())


def test_a_broken_configuration_stops_the_bot_from_starting(tmp_path: Path) -> None:
    path = tmp_path / "deployment.yaml"
    path.write_text("crisis_contacts: []\n", encoding="utf-8")
    with pytest.raises(DeploymentError, match="at least one contact"):
        load_deployment(path)
