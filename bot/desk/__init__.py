"""The coaches' desk in the browser: alerts, messages, each person's story and scores, tasks, response figures.

A Starlette app of its own (`python -m bot desk`, or beside the webhooks under `bot run` on its own port), bound to
127.0.0.1 by default: it never shares the public webhook port. Pages are Jinja2 templates through the bot's gettext
catalogs, made live with htmx (vendored under static/, no CDN). Every page and action goes through `DeskGuard`
(bot/desk/guard.py): a server-side session, CSRF on every POST, the security headers, and the same access rules and
the same actions as the terminal desk (bot/coach.py, bot/people.py).
"""
