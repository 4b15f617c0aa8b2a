"""Fakes of remote services (Telegram Bot API, ...) served on 127.0.0.1, so the real client libraries can be tested
end to end on a machine that cannot reach the internet."""
