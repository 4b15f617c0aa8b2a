"""Alembic's environment (env.py) and the schema's revisions (versions/), one per change since the baseline.

Run through storage/upgrade.py (`SqlStorage.migrate`, `python -m bot db ...`), never with an alembic.ini: the
environment takes the caller's connection, so an upgrade is one transaction under the caller's lock. A package so
that the wheel carries the revisions.
"""
