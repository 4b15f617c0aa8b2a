"""The harness's ceiling: the least a Telegram bot can do per update, to measure what no bot can beat here.

    TELEGRAM_BOT_TOKEN=... TELEGRAM_API_BASE_URL=http://127.0.0.1:PORT/bot python benchmarks/telegram_ceiling.py

`benchmarks/telegram.py` runs it as the variant `ceiling`, beside ours and the naive peer, against the same fake Bot
API on the same machine. It answers like the naive peer (a question after /start and after each answer, "Tak.
Score" after the tenth), but with nothing between the wire and the reply: no framework (aiohttp and json only), a
counter per chat for state, no storage, every update of a getUpdates batch answered concurrently. Its updates/s is
the physical limit of this harness and machine for any bot, since the fake server, the harness and the bot share
the same cores: a target above it cannot be met here, whatever the bot does.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter

import aiohttp

ITEMS = 10
SENDS_AT_ONCE = 100  # connections; the fake server closes each after one request (HTTP/1.0)


def reply_to(answered: int) -> str:
    """The text the naive peer would send after `answered` answers (0 after /start)."""
    return "Tak. Score 20" if answered >= ITEMS else f"PSS item {answered + 1}: 0-4?"


async def main() -> None:
    base = f"{os.environ['TELEGRAM_API_BASE_URL']}{os.environ['TELEGRAM_BOT_TOKEN']}"
    answered: Counter[int] = Counter()
    offset = 0
    connector = aiohttp.TCPConnector(limit=SENDS_AT_ONCE)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def send(chat: int, text: str) -> None:
            async with session.post(f"{base}/sendMessage", json={"chat_id": chat, "text": text}) as response:
                await response.read()

        while True:
            async with session.post(f"{base}/getUpdates", json={"offset": offset, "timeout": 1}) as response:
                updates = (await response.json())["result"]
            sends = []
            for update in updates:
                offset = update["update_id"] + 1
                message = update.get("message") or {}
                chat, text = message.get("chat", {}).get("id"), message.get("text", "")
                if chat is None:
                    continue
                if text.startswith("/start"):
                    answered[chat] = 0
                else:
                    answered[chat] += 1
                sends.append(send(chat, reply_to(answered[chat])))
            await asyncio.gather(*sends)


if __name__ == "__main__":
    if "TELEGRAM_API_BASE_URL" not in os.environ or "TELEGRAM_BOT_TOKEN" not in os.environ:
        raise SystemExit("benchmarks/telegram_ceiling.py is the variant `ceiling` of benchmarks/telegram.py, which "
                         "runs it with TELEGRAM_API_BASE_URL and TELEGRAM_BOT_TOKEN set: run that one")
    asyncio.run(main())
