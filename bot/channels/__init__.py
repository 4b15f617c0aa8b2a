"""Channels translate between a transport (console, Telegram, SMS) and the conversation loop; nothing else."""
