"""The tables of the coaches' and administrators' side: the desk's log-ins and sessions, randomised cohorts and their
allocations, appointments. Same metadata and conventions as storage/sql/schema.py, which re-exports them, so code
reads every table as ``schema.<name>``; each came with its own Alembic revision.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint, text

from storage.sql.codecs import UTCDateTime
from storage.sql.metadata import metadata

# --- the coaches' desk in the browser (bot/desk/; Alembic revision 0003) ---

desk_users = Table(  # a coach's own log-in where there is no identity provider: passkeys, with TOTP as backup
    "desk_users",
    metadata,
    Column("coach_id", String(64), primary_key=True),  # an id of the deployment file's `coaches`
    Column("totp_secret", Text, nullable=False),  # a sealed token (storage/crypto.py): the file alone logs no one in
    Column("totp_last_step", Integer, nullable=False),  # the newest code used: a code works once
    Column("created_at", UTCDateTime, nullable=False),
)

desk_passkeys = Table(
    "desk_passkeys",
    metadata,
    Column("credential_id", String(700), primary_key=True),  # base64url, as the browser gives it
    Column("coach_id", String(64), ForeignKey("desk_users.coach_id"), nullable=False),
    Column("public_key", Text, nullable=False),  # base64url COSE key: public, nothing to seal
    Column("sign_count", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Index(None, "coach_id"),
)

desk_sessions = Table(  # server-side sessions: the cookie holds an opaque id, stored here only as its SHA-256
    "desk_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("coach_id", String(64), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("how", String(16), nullable=False),  # oidc, passkey or totp
    Column("created_at", UTCDateTime, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    Index(None, "seen_at"),
)

desk_login_failures = Table(  # failed log-ins, counted per key (a keyed hash of the user name or the address)
    "desk_login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index(None, "key", "at"),
)

# --- randomised cohorts and their allocations (issue 15: seed 002's lottery; added by revision 0004_arms) ---

randomised_cohorts = Table(  # a cohort whose enrolments are allocated to the programme or to the control arm
    "randomised_cohorts",
    metadata,
    Column("cohort", String(100), primary_key=True),
    Column("scheme", String(100), nullable=False),  # how the sequence is made (bot/allocation.py), e.g. blocks-4-6
    Column("key_id", String(64), nullable=False),  # which allocation key: its fingerprint, never the key
    Column("allocated", Integer, nullable=False),  # how many were allocated: the next one's place in the sequence
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

allocations = Table(  # one row per allocated participant, written in the transaction that enrols them
    "allocations",
    metadata,
    Column("participant_id", Integer, ForeignKey("participants.id"), primary_key=True, autoincrement=False),
    Column("cohort", String(100), ForeignKey("randomised_cohorts.cohort"), nullable=False),
    Column("seq", Integer, nullable=False),  # 0-based place in the cohort's sequence
    Column("arm", String(16), nullable=False),  # programme or control
    Column("block", Integer, nullable=False),  # 0-based block of the sequence
    Column("block_size", Integer, nullable=False),
    Column("allocated_by", String(200), nullable=False),
    Column("allocated_at", UTCDateTime, nullable=False),
    UniqueConstraint("cohort", "seq"),
    CheckConstraint("arm IN ('programme', 'control')", name="arm"),
)

# --- the desk's pending log-in challenges (revision 0005) ---

desk_challenges = Table(  # a log-in's pending challenge (passkey, identity provider): short-lived, used once
    "desk_challenges",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # SHA-256 of the challenge, or of the browser's state cookie
    Column("purpose", String(16), nullable=False),  # passkey_add, passkey_login, oidc; enrolment (a checked list)
    Column("coach_id", String(64), nullable=True),  # whose passkey is being added; None while no one is known
    Column("data", Text, nullable=False),  # a sealed token: what the answer is checked against
    Column("expires_at", UTCDateTime, nullable=False),
    Index(None, "expires_at"),
)

# --- appointments (issue 15: talks and group sessions a coach books; added by revision 0008) ---

appointments = Table(  # one booked talk or session; its reminders are schedule rows of kind `appointment`
    "appointments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),  # screening, group, coaching, counselling, follow_up
    Column("starts_at", UTCDateTime, nullable=False),
    Column("minutes", Integer, nullable=False),
    Column("place", String(300), nullable=False),  # an address or room, '' when by video
    Column("video", String(500), nullable=False),  # a video link, '' when in person
    Column("cohort", String(100), nullable=True),  # booked for a cohort (its members then are the attendees)
    Column("booked_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # revision 0009 (appointment_cancel): cancelling, moving, and the group sessions a programme declares
    Column("series", String(300), nullable=True),  # a declared group session: programme:cohort:session:w1-mon
    Column("moves", Integer, nullable=False, server_default=text("0")),  # how often its time was changed
    Column("moved_at", UTCDateTime, nullable=True),  # the last change: answers before it were to the old time
    Column("cancelled_at", UTCDateTime, nullable=True),
    Column("cancelled_by", String(200), nullable=True),
    Index(None, "starts_at"),
    Index(None, "series", unique=True),  # a declared session is booked once, whoever runs the booking
)

appointment_attendees = Table(  # who is expected, and whether they came (marked by a coach)
    "appointment_attendees",
    metadata,
    Column("appointment_id", Integer, ForeignKey("appointments.id"), primary_key=True, autoincrement=False),
    Column("participant_id", Integer, ForeignKey("participants.id"), primary_key=True, autoincrement=False),
    Column("attendance", String(16), nullable=True),  # None until marked: attended or missed
    Column("marked_by", String(200), nullable=True),
    Column("marked_at", UTCDateTime, nullable=True),
    Index(None, "participant_id"),
    CheckConstraint("attendance IN ('attended', 'missed')", name="attendance"),
)

# --- channel health (the administrators' page, bot/desk/views/admin_health.py; revision channel_heartbeats) ---

channel_heartbeats = Table(  # when each channel last heard from its provider: one row per channel and signal
    "channel_heartbeats",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("signal", String(32), primary_key=True),  # received (a message or update), status (a delivery report)
    Column("seen_at", UTCDateTime, nullable=False),  # written at most once a minute per process (bot/heartbeats.py)
)
