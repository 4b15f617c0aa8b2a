"""What storage raises for callers to catch: one `StorageError` family instead of bare builtins.

Each class also derives from the builtin it replaces (`LookupError`, `ValueError`, `RuntimeError`), so code written
against the builtins keeps working; new code catches these by name. Messages name the field and never echo the
value (a phone number, a name): they may reach a log.
"""

from __future__ import annotations


class StorageError(Exception):
    """Anything storage refuses or cannot do."""


class NotFound(StorageError, LookupError):
    """The id names nothing stored (a participant, an escalation, a notification, an outbox row)."""


class UnknownParticipantError(NotFound):
    pass


class UnknownEscalationError(NotFound):
    pass


class UnknownNotificationError(NotFound):
    pass


class UnknownOutboxError(NotFound):
    pass


class AlreadyTaken(StorageError, ValueError):
    """Unique data that belongs to someone else already: a ref, a phone number, an address, a provider id, a code."""


class InvalidRecord(StorageError, ValueError):
    """A value storage will not store (a naive datetime, an empty coach id, a non-finite score...)."""


class StorageClosed(StorageError, RuntimeError):
    """The storage was closed; nothing more can be read or written through it."""


class Unsupported(StorageError, ValueError):
    """The database cannot do what was asked (e.g. in-memory SQLite, a report the backend does not read yet)."""


def unknown_participant(participant_id: int) -> UnknownParticipantError:
    return UnknownParticipantError(f"participant {participant_id} does not exist")


class Corrupt(StorageError, ValueError):
    """Something stored cannot be read back as written (a JSON value that is not an object, an unknown answer kind)."""
