"""Moving and cancelling an appointment in a real browser: the participant's FLYT shows next to the talk with the form
to move it open; a wrong time is refused in Danish; the move tells the participant the new time and answers the
request's task; cancelling needs a tick and tells them kindly; a group session with another coach's participant has
no such form for this coach. The desk on a real SQLite file under a fake clock (tests/desk/live.py)."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

from bot.appointments import BookingRequest, book
from bot.channels.base import as_plain_text
from bot.scheduler import ProgrammeScheduler
from flows.inputs import Text
from storage.records import Participant
from tests.desk.live import LiveDesk, screenshot
from tests.desk.test_desk_appointments import enrolled


def told(live: LiveDesk, participant_id: int) -> list[str]:
    """Run the schedule's due rows as the bot would, and what the participant was sent (first lines)."""
    async def go() -> list[str]:
        async def console(_: Participant) -> str:
            return "console"

        await ProgrammeScheduler(live.app.storage, live.app.loop, live.clock, console).tick()
        rows = await live.app.storage.pending_outbox("console", 100)
        for row in rows:
            await live.app.storage.mark_sent(row.id, live.clock.now())
        return [as_plain_text(r.payload).splitlines()[0] for r in rows if r.participant_id == participant_id]
    return live.run(go())


def test_a_coach_moves_a_talk_asked_to_be_moved_then_cancels_it(live: LiveDesk, page: Page) -> None:
    anna = enrolled(live, "p-anna", "coach")
    enrolled(live, "p-other", "backup")
    talk, group = live.run(book(live.app.storage, [
        BookingRequest("coaching", "26-11-2026 14:00", 45, place="Jobcentret", people=("p-anna",)),
        BookingRequest("group", "27-11-2026 09:00", 180, place="Rådhuset", people=("p-anna", "p-other")),
    ], "coach:lead", live.clock.now()))
    live.clock.set(live.clock.now() + timedelta(days=2, hours=4))  # Wednesday 14:00: the talk's day-before reminder
    assert told(live, anna)[0] == "Påmindelse: Din coachingsamtale er torsdag den 26. november kl. 14.00."
    person = live.run(live.app.storage.participant(anna))
    assert person is not None
    live.run(live.app.loop.handle(person, Text("FLYT"), "console"))
    told(live, anna)

    live.log_in(page, "coach", "/appointments")
    row = page.locator(f"#appointment-{talk}")
    expect(row.get_by_role("note")).to_contain_text("p-anna har bedt om at flytte den.")
    expect(row.get_by_label("Ny dato og tid (fx 24-12-2026 14:00)")).to_be_visible()  # the form is open
    expect(page.locator(f"#appointment-{group}")).not_to_contain_text("Flyt eller aflys")  # p-other is not theirs
    screenshot(page, "appointments-move-asked")

    row.get_by_label("Ny dato og tid (fx 24-12-2026 14:00)").fill("25-11-2026 09:00")
    row.get_by_role("button", name="Flyt", exact=True).click()
    row = page.locator(f"#appointment-{talk}")
    expect(row.get_by_role("alert")).to_contain_text("tiden '25-11-2026 09:00' er overstået")
    row.get_by_label("Ny dato og tid (fx 24-12-2026 14:00)").fill("30.11.2026 kl. 10.00")
    row.get_by_role("button", name="Flyt", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Aftalen er flyttet")
    row = page.locator(f"#appointment-{talk}")
    expect(row.get_by_role("heading")).to_contain_text("flyttet")
    expect(row.get_by_role("note")).to_have_count(0)  # the request is answered
    assert told(live, anna) == ["Bemærk: Din coachingsamtale er flyttet til mandag den 30. november kl. 10.00."]
    tasks = live.run(live.app.storage.coach_tasks(only_open=False))
    assert [(t.kind, t.done_by) for t in tasks] == [("appointment_move", "coach")]
    keys = [r.key for r in live.run(live.app.storage.schedule_of(anna)) if r.status.value == "pending"]
    assert f"appointment:{talk}:m1:day_before" in keys and f"appointment:{talk}:two_hours" not in keys

    row.get_by_text("Flyt eller aflys").click()
    row.get_by_label("Ja, aflys den og giv deltagerne besked").check()
    screenshot(page, "appointments-cancel")
    row.get_by_role("button", name="Aflys aftalen").click()
    expect(page.get_by_role("status")).to_contain_text("Aftalen er aflyst")
    row = page.locator(f"#appointment-{talk}")
    expect(row.get_by_role("heading")).to_contain_text("Aflyst")
    expect(row.get_by_role("button")).to_have_count(0)  # no attendance, no move: it will not take place
    assert told(live, anna) == ["Vi beklager: Din coachingsamtale mandag den 30. november kl. 10.00 er aflyst."]
    assert [r.key for r in live.run(live.app.storage.schedule_of(anna))
            if r.status.value == "pending" and r.key.startswith(f"appointment:{talk}:")] == []
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "appointments-cancelled-phone")

    actions = [(a.actor, a.action, a.subject) for a in live.run(live.app.storage.audit_entries())]
    assert ("coach:coach", "appointment.moved", f"appointment:{talk}") in actions
    assert ("coach:coach", "appointment.cancelled", f"appointment:{talk}") in actions
    assert ("coach:coach", "appointment.change_refused", f"appointment:{talk}") in actions
