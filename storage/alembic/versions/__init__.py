"""The revisions, oldest first by their ``down_revision`` chain; `v0001_baseline` folds the numbered migrations 1 to
10 of storage/legacy_migrations.py into the schema they left. Add one with ``python -m bot db revision -m "..."``."""
