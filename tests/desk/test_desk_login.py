"""Logging in to the desk in a real browser: through the municipality's identity provider (a fake one on this
machine, on another site than the desk, as a real one is), with a passkey (Chromium's virtual authenticator), with a
one-time code; the rate limit; the sessions' ends (log-out, 8 hours in all); every attempt audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import CDPSession, Page, expect

from bot.clock import FakeClock
from bot.deployment import DeploymentError, load_deployment
from bot.desk.login_codes import BEGUN_PER_ADDRESS, PER_COACH, WINDOW
from bot.settings import SettingsError, settings
from tests.conftest import T0, without_consent
from tests.desk.live import LiveDesk, screenshot
from tests.fakes.oidc import CLIENT_ID, CLIENT_SECRET, FakeOidc


def with_logins(tmp_path: Path) -> Path:
    """The shipped deployment with the identity provider's names for two of the three coaches."""
    path = without_consent(tmp_path)
    text = path.read_text(encoding="utf-8")
    text = text.replace("  - id: coach\n", "  - id: coach\n    login: Coach@Kommune.dk\n")
    text = text.replace("  - id: lead\n", "  - id: lead\n    login: lead@kommune.dk\n")
    path.write_text(text, encoding="utf-8")
    return path


def audit(live: LiveDesk) -> list[tuple[str, str, dict[str, Any]]]:
    return [(a.actor, a.action, a.detail) for a in live.run(live.app.storage.audit_entries())]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def idp(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOidc]:
    """The municipality's identity provider at http://localhost:PORT (the desk is at 127.0.0.1: another site)."""
    with FakeOidc(clock=clock.now, host="localhost") as provider:
        monkeypatch.setenv("DESK_OIDC_ISSUER", provider.issuer)
        monkeypatch.setenv("DESK_OIDC_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("DESK_OIDC_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setenv("DESK_OIDC_NAME", "Kommunens log-in")
        yield provider


@pytest.fixture
def desk_with_idp(idp: FakeOidc, clock: FakeClock, tmp_path: Path) -> Iterator[LiveDesk]:
    with LiveDesk(str(tmp_path / "bot.db"), clock, deployment_path=with_logins(tmp_path)) as desk:
        yield desk


def test_a_coach_logs_in_through_the_identity_provider_and_lands_on_the_desk(desk_with_idp: LiveDesk, idp: FakeOidc,
                                                                             page: Page) -> None:
    live = desk_with_idp
    idp.next_user = {"sub": "u-4711", "email": "coach@kommune.dk", "name": "Mette Coach"}
    page.goto(f"{live.url}/alerts")
    expect(page).to_have_url(f"{live.url}/login?next=/alerts")
    first = page.get_by_role("link", name="Kommunens log-in")
    expect(first).to_be_visible()
    assert page.locator("#oidc-login, #coach_id").first.get_attribute("id") == "oidc-login"  # the provider first
    screenshot(page, "login-with-provider")
    first.click()
    expect(page).to_have_url(f"{live.url}/alerts")
    expect(page.locator("form[action='/logout'] button")).to_be_visible()
    asked = idp.authorize_requests[-1]
    assert asked["code_challenge_method"] == "S256" and asked["nonce"] and asked["state"]
    assert asked["redirect_uri"] == f"{live.url}/oidc/callback"
    assert idp.token_requests[-1]["code_verifier"]
    assert ("coach:coach", "desk.login", {"via": "desk", "how": "oidc"}) in audit(live)


def test_the_same_answer_from_the_provider_does_not_log_in_twice(desk_with_idp: LiveDesk, idp: FakeOidc,
                                                                 page: Page) -> None:
    live = desk_with_idp
    idp.next_user = {"sub": "u-4711", "email": "coach@kommune.dk"}
    callbacks: list[str] = []
    page.on("request", lambda r: callbacks.append(r.url) if "/oidc/callback" in r.url else None)
    page.goto(f"{live.url}/oidc/start?next=/alerts")
    expect(page).to_have_url(f"{live.url}/alerts")
    page.context.clear_cookies()
    response = page.goto(callbacks[0])
    assert response is not None and response.status == 401
    expect(page.get_by_role("alert")).to_contain_text("Kommunens log-in")
    assert [d["how"] for _, action, d in audit(live) if action == "desk.login"] == ["oidc"]
    assert ("desk:unknown", "desk.login_failed") in {(actor, action) for actor, action, _ in audit(live)}


def test_someone_the_provider_knows_but_the_desk_does_not_is_refused_kindly(desk_with_idp: LiveDesk, idp: FakeOidc,
                                                                            page: Page) -> None:
    live = desk_with_idp
    idp.next_user = {"sub": "u-9", "email": "someone.else@kommune.dk"}
    page.goto(f"{live.url}/login")
    page.get_by_role("link", name="Kommunens log-in").click()
    expect(page.get_by_role("alert")).to_contain_text("administrator")
    screenshot(page, "login-refused")
    refused = [(actor, d) for actor, action, d in audit(live) if action == "desk.login_refused"]
    assert len(refused) == 1 and refused[0][0] == "oidc:unknown"
    assert "someone.else" not in str(refused)  # the claim itself is not kept
    page.goto(f"{live.url}/alerts")
    expect(page).to_have_url(f"{live.url}/login?next=/alerts")


def test_an_id_token_not_signed_with_the_provider_s_key_is_refused(desk_with_idp: LiveDesk, idp: FakeOidc,
                                                                   page: Page) -> None:
    live = desk_with_idp
    idp.next_user = {"sub": "u-4711", "email": "coach@kommune.dk"}
    idp.forge_next = True
    page.goto(f"{live.url}/login?next=/alerts")
    page.get_by_role("link", name="Kommunens log-in").click()
    expect(page.get_by_role("alert")).to_contain_text("Kommunens log-in")
    failed = [(actor, d) for actor, action, d in audit(live) if action == "desk.login_failed"]
    assert failed == [("desk:unknown", {"via": "desk", "how": "oidc",
                                        "reason": "the id token was refused: BadSignatureError"})]
    assert not [a for a in audit(live) if a[1] == "desk.login"]


def virtual_authenticator(page: Page) -> CDPSession:
    """Chromium's virtual authenticator: a platform authenticator that keeps passkeys and verifies the user."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    return cdp


def log_in_with_code(live: LiveDesk, page: Page, base: str, coach_id: str, path: str = "/") -> None:
    if coach_id not in live.secrets:
        live.add_user(coach_id)
    page.goto(f"{base}{path}")
    page.fill("#coach_id", coach_id)
    page.fill("#code", live.code(coach_id))
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()
    live.clock.advance(timedelta(seconds=31))


def test_a_coach_adds_a_passkey_and_logs_in_with_it(live: LiveDesk, page: Page) -> None:
    base = f"http://localhost:{live.port}"  # a passkey needs a domain name, not an IP address
    virtual_authenticator(page)
    log_in_with_code(live, page, base, "coach", "/account")
    expect(page).to_have_url(f"{base}/account")
    expect(page.locator("table.passkeys")).to_have_count(0)
    page.locator("#passkey-add-button").click()
    expect(page).to_have_url(f"{base}/account?done=added")
    rows = page.locator("table.passkeys tbody tr")
    expect(rows).to_have_count(1)
    stored = live.run(live.app.storage.passkeys("coach"))
    assert len(stored) == 1 and stored[0].credential_id.startswith(rows.first.locator("code").inner_text()[:8])
    screenshot(page, "account")
    page.goto(f"{base}/account?lang=en")
    screenshot(page, "account-en")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "account-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.locator("form[action='/logout'] button").click()
    expect(page).to_have_url(f"{base}/login")
    page.goto(f"{base}/login?next=/alerts")
    page.locator("#passkey-login-button").click()
    expect(page).to_have_url(f"{base}/alerts")
    logins = [d["how"] for actor, action, d in audit(live) if action == "desk.login" and actor == "coach:coach"]
    assert sorted(logins) == ["passkey", "totp"]
    assert live.run(live.app.storage.passkeys("coach"))[0].used_at == live.clock.now()
    assert ("coach:coach", "desk.passkey_added") in {(a, b) for a, b, _ in audit(live)}

    page.goto(f"{base}/account")
    page.locator(f"form:has(input[value='{stored[0].credential_id}']) button").click()
    expect(page).to_have_url(f"{base}/account?done=removed")
    assert live.run(live.app.storage.passkeys("coach")) == []
    assert ("coach:coach", "desk.passkey_removed") in {(a, b) for a, b, _ in audit(live)}


def test_a_passkey_answer_without_a_challenge_of_ours_is_refused_and_counted(live: LiveDesk, page: Page) -> None:
    forged = {"credential": {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {
        "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiQUFBQSJ9",
        "authenticatorData": "AAAA", "signature": "AAAA"}}, "next": "/alerts"}
    response = page.request.post(f"{live.url}/passkey/login", data=forged)
    assert response.status == 401 and "set-cookie" not in response.headers
    assert [(a, d["reason"]) for a, action, d in audit(live) if action == "desk.login_failed"] == [
        ("desk:unknown", "unknown or expired challenge")]


def test_wrong_codes_are_refused_then_even_the_right_one_until_the_wait_is_over(live: LiveDesk, page: Page) -> None:
    live.add_user("coach")
    page.goto(f"{live.url}/login?lang=en")
    for _ in range(PER_COACH):
        page.fill("#coach_id", "coach")
        page.fill("#code", "000000")
        page.click("form[action='/login'] button[type=submit]")
        expect(page.get_by_role("alert")).to_contain_text("not right")
    page.fill("#coach_id", "coach")
    page.fill("#code", live.code("coach"))
    page.click("form[action='/login'] button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("Too many attempts")
    screenshot(page, "login-rate-limited-en")
    reasons = [d["reason"] for actor, action, d in audit(live) if action == "desk.login_failed"]
    assert sorted(reasons) == ["rate limit"] + ["wrong code"] * PER_COACH
    live.clock.advance(timedelta(minutes=16))
    live.log_in(page, "coach", "/alerts")
    expect(page).to_have_url(f"{live.url}/alerts")


def test_a_working_day_ends_the_session_even_when_it_is_busy(live: LiveDesk, page: Page) -> None:
    live.log_in(page, "coach", "/alerts")
    for _ in range(47):  # a page every 10 minutes: never idle, 7 h 50 min in all (with the log-in's 31 s)
        live.clock.advance(timedelta(minutes=10))
        page.goto(f"{live.url}/alerts")
        expect(page).to_have_url(f"{live.url}/alerts")
    live.clock.advance(timedelta(minutes=10))
    page.goto(f"{live.url}/alerts")
    expect(page).to_have_url(f"{live.url}/login?next=/alerts")


def test_an_open_alerts_page_polling_by_itself_does_not_keep_an_idle_session_alive(live: LiveDesk, page: Page) -> None:
    """The alerts page asks for news every few seconds on its own; that is not someone at the desk. A tab left open
    on an unattended screen (names, what people wrote) is logged out after 15 minutes as promised."""
    live.log_in(page, "coach", "/alerts")
    poll = page.locator("#alerts").get_attribute("hx-get")
    assert poll is not None and "poll=1" in poll
    for _ in range(14):  # 14 minutes of polls alone: the session is still there
        live.clock.advance(timedelta(minutes=1))
        assert page.request.get(f"{live.url}{poll}").url == f"{live.url}{poll}"
    live.clock.advance(timedelta(minutes=1, seconds=30))
    met = page.request.get(f"{live.url}{poll}", headers={"HX-Request": "true"}, max_redirects=0)
    assert met.headers.get("hx-redirect") == "/login?next=/alerts"  # back to the page after, not its bare fragment
    page.goto(f"{live.url}/alerts")
    expect(page).to_have_url(f"{live.url}/login?next=/alerts")


def test_a_coach_at_work_on_the_alerts_page_stays_logged_in(live: LiveDesk, page: Page) -> None:
    live.log_in(page, "coach", "/alerts")
    for _ in range(4):  # a click every 10 minutes, with the page polling in between: 40 minutes, never idle
        live.clock.advance(timedelta(minutes=10))
        assert "/login" not in page.request.get(f"{live.url}/alerts/list?show=all&poll=1").url
        page.goto(f"{live.url}/alerts?show=all")
        expect(page).to_have_url(f"{live.url}/alerts?show=all")


def test_a_log_in_as_people_type_it_a_capital_letter_and_the_code_in_two_halves(live: LiveDesk, page: Page) -> None:
    """Authenticator apps show "123 456"; a phone capitalises the first letter. Neither is a wrong code (each
    counted towards the lock-out)."""
    live.add_user("coach")
    code = live.code("coach")
    page.goto(f"{live.url}/alerts")
    page.fill("#coach_id", "Coach ")
    page.fill("#code", f"{code[:3]} {code[3:]}")
    page.click("form[action='/login'] button[type=submit]")
    expect(page).to_have_url(f"{live.url}/alerts")
    assert ("coach:coach", "desk.login") in {(a, b) for a, b, _ in audit(live)}


def test_logging_out_ends_the_session_for_good(live: LiveDesk, page: Page) -> None:
    live.log_in(page, "coach", "/alerts")
    cookie = next(c for c in page.context.cookies() if c["name"] == "desk_session")
    page.locator("form[action='/logout'] button").click()
    expect(page).to_have_url(f"{live.url}/login")
    page.context.add_cookies([cookie])  # the old cookie, kept by someone: the session behind it is gone
    page.goto(f"{live.url}/alerts")
    expect(page).to_have_url(f"{live.url}/login?next=/alerts")
    assert ("coach:coach", "desk.logout") in {(a, b) for a, b, _ in audit(live)}


def test_the_log_in_page_in_danish_and_english_and_on_a_phone(live: LiveDesk, page: Page) -> None:
    page.goto(f"{live.url}/login")
    expect(page.locator("html")).to_have_attribute("lang", "da")
    expect(page.locator("#oidc-login")).to_have_count(0)  # no provider configured: passkeys and codes
    screenshot(page, "login")
    page.goto(f"{live.url}/login?lang=en")
    expect(page.get_by_role("button", name="Log in with a passkey")).to_be_visible()
    screenshot(page, "login-en")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live.url}/login")
    screenshot(page, "login-phone")


def test_a_coach_s_login_at_the_provider_is_read_from_the_deployment_once_per_coach(tmp_path: Path) -> None:
    deployment = load_deployment(with_logins(tmp_path))
    assert deployment.coach_with_login(" COACH@kommune.dk") == deployment.coaches["coach"]
    assert deployment.coach_with_login("backup") is None
    path = tmp_path / "twice.yaml"
    path.write_text(with_logins(tmp_path).read_text(encoding="utf-8").replace(
        "login: lead@kommune.dk", "login: coach@kommune.dk"), encoding="utf-8")
    with pytest.raises(DeploymentError, match="'lead': login is the identity provider's name"):
        load_deployment(path)


def test_an_identity_provider_without_its_client_is_named_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESK_OIDC_ISSUER", "https://login.kommune.dk")
    monkeypatch.setenv("DESK_OIDC_CLIENT_SECRET", "s3cret")
    with pytest.raises(SettingsError, match=r"^DESK_OIDC_CLIENT_ID: must be set when DESK_OIDC_ISSUER is"):
        settings()


def test_beginning_passkey_log_ins_over_and_over_is_refused_before_the_challenges_pile_up(live: LiveDesk,
                                                                                          page: Page) -> None:
    """Anyone may begin a passkey log-in (the page does it for the coach), and each stores a challenge for five
    minutes: from one address, the 61st within 15 minutes is refused, and no challenge is stored for it."""
    for _ in range(BEGUN_PER_ADDRESS):
        assert page.request.post(f"{live.url}/passkey/login/options").status == 200
    refused = page.request.post(f"{live.url}/passkey/login/options")
    assert refused.status == 429 and refused.json() == {"problem": "wait"}
    live.clock.advance(WINDOW + timedelta(seconds=1))
    assert page.request.post(f"{live.url}/passkey/login/options").status == 200
