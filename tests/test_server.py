"""`python -m bot run` as it runs in production: a separate process, its webhooks over HTTP, the real twilio
SDK sending to the fake Twilio on localhost. Enrol, get the invite, answer, get a reply, stop cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bot.http_guard import LOG_BURST
from storage import NotificationStatus, SqlStorage
from storage.crypto import Keys, new_key_values
from tests.fakes.twilio import FakeTwilio
from tests.postgres_cluster import free_port

ROOT = Path(__file__).resolve().parent.parent
KEYS = {name: value for name, value in new_key_values().items() if name != "BOT_RESEARCH_KEY"}
RISK = "jeg har samlet piller sammen og vil ikke leve mere"



async def wait_for(condition, seconds: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def test_run_serves_sms_end_to_end(tmp_path: Path) -> None:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    async with FakeTwilio() as fake:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "BOT_DB": str(tmp_path / "bot.db"),
               "TWILIO_ACCOUNT_SID": fake.account_sid, "TWILIO_AUTH_TOKEN": fake.auth_token,
               "TWILIO_FROM": "+4570000000", "TWILIO_API_BASE_URL": fake.url, "PUBLIC_BASE_URL": public,
               "SMS_SEGMENTS_PER_SECOND": "100", **KEYS,
               # a Monday morning: the enrolment day's measurement (10:00) is not due yet, whenever the suite runs
               "BOT_FIXED_NOW": "2026-03-02T08:00:00+01:00"}
        enrolled = subprocess.run([sys.executable, "-m", "bot", "enroll", "--name", "Ida", "--phone", "12345678"],
                                  cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert enrolled.returncode == 0, enrolled.stderr
        server = subprocess.Popen([sys.executable, "-m", "bot", "run", "--port", str(port)], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            async with httpx.AsyncClient() as http:
                async def healthy() -> bool:
                    try:
                        return (await http.get(f"{public}/health")).status_code == 200
                    except httpx.TransportError:
                        return False

                deadline = time.monotonic() + 30
                while not await healthy():
                    assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                    await asyncio.sleep(0.1)
                assert (await http.get(f"{public}/ready")).json() == {"status": "ready"}
                await wait_for(lambda: len(fake.sent) >= 1)  # the invite queued by `enroll`
                assert fake.sent[0]["to"] == "+4512345678" and fake.sent[0]["body"].startswith("Hej. Du er nu tilmeldt")
                async def text(body: str) -> None:
                    headers, form = fake.signed_inbound(f"{public}/twilio/sms", From="+4512345678",
                                                        To="+4570000000", Body=body)
                    response = await http.post(f"{public}/twilio/sms", data=form, headers=headers)
                    assert response.status_code == 200 and "<Response></Response>" in response.text

                await text("hej")  # the programme's terms come first
                await wait_for(lambda: len(fake.sent) >= 2)
                assert fake.sent[1]["body"].startswith("Forløbets beskeder bruges til")
                assert fake.sent[1]["body"].endswith("Siger du ja til det? Svar ja eller nej.\n1 = Ja\n0 = Nej")
                await text("ja")
                await wait_for(lambda: len(fake.sent) >= 3)
                assert fake.sent[2]["body"].startswith("Tak. Du kan altid trække dit samtykke tilbage")
                delivered = await fake.deliver_status(fake.sent[2]["sid"], "delivered")
                assert delivered.status_code == 204
                await text(RISK)  # the shipped coach has only "console": under `bot run` that is the log
                await wait_for(lambda: any("Livslinien" in m["body"] for m in fake.sent))
        finally:
            server.send_signal(signal.SIGINT)
            _, err = server.communicate(timeout=30)
        assert server.returncode == 0, err
        assert "12345678" not in err  # no phone number in the logs
        assert "piller" not in err and "leve" not in err and "p-" not in err  # no message, no participant
        assert "could not be delivered" in err  # the console is not counted as reaching the coach
        keys = Keys.from_values(KEYS["BOT_DATA_KEY"], KEYS["BOT_LOOKUP_KEY"])
        storage = SqlStorage(tmp_path / "bot.db", keys=keys)
        try:
            [escalation] = await storage.escalations()
            tried = await storage.notifications(escalation.id)
        finally:
            await storage.close()
        assert tried and {n.status for n in tried} == {NotificationStatus.FAILED}  # tried again later


async def until_healthy(public: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            try:
                if (await http.get(f"{public}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the server did not become healthy")
            await asyncio.sleep(0.1)


async def test_half_sent_requests_neither_silence_the_server_nor_flood_its_log(tmp_path: Path) -> None:
    """Slowloris: hundreds of connections that never finish their headers. They are closed after the header
    deadline, the server answers again while the attacker still holds them open, and the refusals are logged a
    few times, not once each."""
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    async with FakeTwilio() as fake:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "BOT_DB": str(tmp_path / "bot.db"),
               "TWILIO_ACCOUNT_SID": fake.account_sid, "TWILIO_AUTH_TOKEN": fake.auth_token,
               "TWILIO_FROM": "+4570000000", "TWILIO_API_BASE_URL": fake.url, "PUBLIC_BASE_URL": public, **KEYS}
        server = subprocess.Popen([sys.executable, "-m", "bot", "run", "--port", str(port)], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        held: list[socket.socket] = []
        try:
            await until_healthy(public)
            for _ in range(400):
                sock = socket.create_connection(("127.0.0.1", port))
                sock.sendall(b"POST /twilio/sms HTTP/1.1\r\nHost: x\r\nContent-Type: applica")
                held.append(sock)
            started = time.monotonic()
            await until_healthy(public, seconds=30)  # while all 400 are still open on our side
            assert time.monotonic() - started < 25
            closed = 0
            for sock in held:
                sock.settimeout(1)
                try:
                    closed += sock.recv(1) == b""
                except TimeoutError:  # still open
                    pass
                except OSError:  # reset: closed too
                    closed += 1
            assert closed == len(held)  # the server hung up on every one of them
        finally:
            for sock in held:
                sock.close()
            server.send_signal(signal.SIGINT)
            _, err = server.communicate(timeout=30)
        assert server.returncode == 0, err
        assert err.count("did not arrive within") <= LOG_BURST + 1 and len(err) < 20_000, err[-2000:]


def test_run_with_a_real_channel_refuses_the_development_key_file(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BOT_DB": str(tmp_path / "bot.db"), "TELEGRAM_BOT_TOKEN": "1:x"}
    for name in KEYS:
        env.pop(name, None)
    result = subprocess.run([sys.executable, "-m", "bot", "run", "--port", str(free_port())], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "BOT_DATA_KEY and BOT_LOOKUP_KEY must be set" in result.stderr
    assert not (tmp_path / "bot.db").exists() and not (tmp_path / "bot.db.keys").exists()


async def test_run_serves_telegram_webhooks_end_to_end(tmp_path: Path) -> None:
    from tests.fakes.telegram import FakeTelegram

    port = free_port()
    public = f"http://127.0.0.1:{port}"
    async with FakeTelegram() as fake:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "BOT_DB": str(tmp_path / "bot.db"),
               "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE_URL": fake.base_url,
               "TELEGRAM_WEBHOOK_SECRET": "s3cret-token", "PUBLIC_BASE_URL": public,
               "TELEGRAM_BOT_USERNAME": "stress_test_bot", **KEYS,
               "BOT_FIXED_NOW": "2026-03-02T08:00:00+01:00"}  # before the enrolment day's measurement, always
        enrolled = subprocess.run([sys.executable, "-m", "bot", "enroll", "--name", "Jo", "--telegram"],
                                  cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert enrolled.returncode == 0, enrolled.stderr
        code = enrolled.stdout.strip().split("start=")[1]
        server = subprocess.Popen([sys.executable, "-m", "bot", "run", "--port", str(port)], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            await wait_for(lambda: fake.webhook.get("url") == f"{public}/telegram/webhook", 30)
            await until_healthy(public)  # set during startup, a moment before the port listens (docs/operations.md)
            assert fake.webhook.get("secret_token") == "s3cret-token"
            assert "help" in fake.command_names("da")
            forged = await fake.post_to_webhook(fake.user_sends_command(501, 501, f"/start {code}"),
                                                secret_token="wrong")
            assert forged.status_code == 403
            linked = await fake.post_to_webhook(fake.user_sends_command(501, 501, f"/start {code}"))
            assert linked.status_code == 200
            [terms] = await fake.wait_sent(501, 1, timeout=20)  # the welcome and the terms: one message
            assert "\n\nForløbets beskeder bruges til" in terms.text and terms.data_for("Ja")
            await fake.post_to_webhook(fake.user_presses_button(501, 501, terms.message_id, terms.data_for("Ja")))
            thanks = (await fake.wait_sent(501, 2, timeout=20))[1]
            assert thanks.text.startswith("Tak. Du kan altid trække dit samtykke tilbage")
        finally:
            server.send_signal(signal.SIGINT)
            _, err = server.communicate(timeout=30)
        assert server.returncode == 0, err
        assert fake.token not in err  # the bot token never reaches the logs
