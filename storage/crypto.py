"""Keys for data at rest: contact details and names are encrypted, addresses are found by a keyed hash.

The database file alone identifies nobody: a phone number, a Telegram chat id or a name is stored only as a
token (AES-256-GCM from the `cryptography` package, see `Keys.seal`), and an address is looked up by HMAC-SHA256 of
its channel and value under a second key, so finding the person behind a message needs no decryption and a stolen
file gives no list of numbers to try.

Tokens written before 2026-12 are Fernet tokens (AES-128-CBC with HMAC-SHA256); they open as before, with the same
keys. New ones are AES-256-GCM because a seal is on every step's path (the state, the message, the answer's text)
and Fernet costs 5-6 times as much: about 16 µs against 3 µs for a short text on the 2-core machine
(docs/architecture.md, "Data at rest").

Keys come from the environment (secrets only there):

- ``BOT_DATA_KEY``: a Fernet key (``python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key()
  .decode())"``); several, comma-separated, to rotate: the first encrypts, every one decrypts. Each key also gives
  the AES-256-GCM key of the new tokens (HKDF-SHA256 of its 32 bytes), so the setting is the same for both kinds.
- ``BOT_LOOKUP_KEY``: any secret of at least 32 characters, for the address hash. It cannot be rotated in place
  (every stored hash depends on it).
- ``BOT_RESEARCH_KEY`` (optional): at least 32 characters, for the research export's pseudonyms.

With none of the first two set (a development machine), a key file is generated once beside the database
(``<database>.keys``, mode 0600) and a warning is logged each time it is used: production must set the
variables. Losing the keys loses the encrypted data; keep them in the deployment's secret store.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from storage.files import private_directory

log = logging.getLogger(__name__)

DATA_KEY = "BOT_DATA_KEY"
LOOKUP_KEY = "BOT_LOOKUP_KEY"
RESEARCH_KEY = "BOT_RESEARCH_KEY"
MIN_SECRET = 32
KEYS_INFO = "stressbot.keys"  # where a migration finds the keys: `Connection.info[KEYS_INFO]`
GCM_VERSION = 0x81  # first byte of an AES-256-GCM token (a Fernet token's is 0x80)
_GCM_HEADER = bytes((GCM_VERSION,))
_NONCE = 12
_GCM_INFO = b"stressbot seal aes-256-gcm v1"


class KeyConfigError(ValueError):
    """The keys are missing, malformed, or not the ones the data was written with (never echoes a key)."""


@dataclass(frozen=True)
class Keys:
    """The secrets storage needs; `source` says where they came from (for messages, never the keys)."""

    data: MultiFernet  # opens the Fernet tokens written before the AES-GCM ones
    sealers: tuple[AESGCM, ...]  # one per data key, in the same order: the first seals, every one opens
    lookup: bytes
    research: bytes | None = None
    source: str = "environment"

    @classmethod
    def from_values(cls, data: str, lookup: str, research: str | None = None, source: str = "environment") -> Keys:
        parts = [part.strip().encode() for part in data.split(",") if part.strip()]
        try:
            fernets = [Fernet(part) for part in parts]
            sealers = tuple(AESGCM(_gcm_key(part)) for part in parts)
        except (ValueError, TypeError):
            message = f"{DATA_KEY} must be Fernet keys (32 url-safe base64-encoded bytes), comma-separated"
            raise KeyConfigError(message) from None
        if not fernets:
            raise KeyConfigError(f"{DATA_KEY} is empty")
        return cls(MultiFernet(fernets), sealers, _secret(LOOKUP_KEY, lookup),
                   None if research is None else _secret(RESEARCH_KEY, research), source)

    @classmethod
    def generate(cls, source: str = "generated") -> Keys:
        """Fresh random keys (the in-memory storage, and tests)."""
        values = new_key_values()
        return cls.from_values(values[DATA_KEY], values[LOOKUP_KEY], values[RESEARCH_KEY], source)

    def seal(self, text: str) -> str:
        """Encrypt: a different token every time, so equal values cannot be told apart in the file.

        The token is url-safe base64 of the version byte 0x81, a random 96-bit nonce, and the AES-256-GCM
        ciphertext with its 16-byte tag, which the open checks (as Fernet's HMAC was) and which covers the version
        byte too (associated data). Random nonces are safe under one key for far more messages than a municipality
        sends (NIST SP 800-38D's bound is 2**32 per key)."""
        nonce = os.urandom(_NONCE)
        sealed = self.sealers[0].encrypt(nonce, text.encode("utf-8"), _GCM_HEADER)
        return base64.urlsafe_b64encode(_GCM_HEADER + nonce + sealed).decode("ascii")

    def open(self, token: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(token)
            if raw[:1] != _GCM_HEADER:  # written before the AES-GCM tokens
                return self.data.decrypt(token.encode("ascii")).decode("utf-8")
            return self._open_gcm(raw[1:1 + _NONCE], raw[1 + _NONCE:]).decode("utf-8")
        except (InvalidToken, InvalidTag, UnicodeError, binascii.Error, ValueError):
            raise KeyConfigError(f"stored data cannot be decrypted with the data key from {self.source}: "
                                 f"is {DATA_KEY} the key this database was written with?") from None

    def _open_gcm(self, nonce: bytes, sealed: bytes) -> bytes:
        for sealer in self.sealers[:-1]:
            try:
                return sealer.decrypt(nonce, sealed, _GCM_HEADER)
            except InvalidTag:
                continue  # sealed with a later key in the list (a rotation)
        return self.sealers[-1].decrypt(nonce, sealed, _GCM_HEADER)

    def digest(self, channel: str, address: str) -> str:
        """The keyed hash an address is found by (hex); the channel is part of it, so equal strings on two
        channels do not share a hash."""
        return hmac.new(self.lookup, f"{channel}\x00{address}".encode(), hashlib.sha256).hexdigest()

    def pseudonym(self, ref: str) -> str:
        """A stable research pseudonym for a participant: the same every export, unlinkable without the key."""
        if self.research is None:
            raise KeyConfigError(f"set {RESEARCH_KEY} (at least {MIN_SECRET} characters) for the research export")
        digest = hmac.new(self.research, f"participant\x00{ref}".encode(), hashlib.sha256).digest()
        return "r-" + base64.b32encode(digest[:10]).decode("ascii").lower()


def _gcm_key(fernet_key: bytes) -> bytes:
    """The AES-256-GCM key that goes with a Fernet key: HKDF-SHA256 of its 32 bytes, so one setting gives both. The
    key is decoded as Fernet decodes it (url-safe base64, stray characters ignored), so any key it accepts works."""
    material = base64.urlsafe_b64decode(fernet_key)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_GCM_INFO).derive(material)


def _secret(name: str, value: str) -> bytes:
    if len(value) < MIN_SECRET:
        raise KeyConfigError(f"{name} must be at least {MIN_SECRET} characters")
    return value.encode("utf-8")


def new_key_values() -> dict[str, str]:
    """New values for the three variables (what the development key file holds)."""
    return {
        DATA_KEY: Fernet.generate_key().decode("ascii"),
        LOOKUP_KEY: secrets.token_urlsafe(32),
        RESEARCH_KEY: secrets.token_urlsafe(32),
    }


def key_file_for(database: Path) -> Path:
    return database.with_name(database.name + ".keys")


def load_keys(database: Path | None, environ: Mapping[str, str] | None = None) -> Keys:
    """The keys from the environment; without them, from the development key file beside `database` (made on
    first use). One of the two main variables without the other is refused: half a configuration is a mistake."""
    env = os.environ if environ is None else environ
    data, lookup = env.get(DATA_KEY) or None, env.get(LOOKUP_KEY) or None
    if data is not None and lookup is not None:
        return Keys.from_values(data, lookup, env.get(RESEARCH_KEY) or None)
    if data is not None or lookup is not None:
        raise KeyConfigError(f"set both {DATA_KEY} and {LOOKUP_KEY}, or neither (development only)")
    if database is None:
        raise KeyConfigError(f"set {DATA_KEY} and {LOOKUP_KEY}: a database that is not a local file gets no key file")
    path = key_file_for(database)
    values = _read_or_create(path)
    log.warning("%s and %s are not set: using the development key file %s. Production must set them "
                "(see docs/data-protection.md).", DATA_KEY, LOOKUP_KEY, path)
    return Keys.from_values(values[DATA_KEY], values[LOOKUP_KEY], values.get(RESEARCH_KEY), str(path))


def _read_or_create(path: Path) -> dict[str, str]:
    if not path.exists():
        private_directory(path.parent)  # a data directory made here is owner-only, as the database's
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(new_key_values(), out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)  # never replaces a file another process made first
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or info.st_mode & (stat.S_IRWXG | stat.S_IRWXO) or info.st_uid != os.getuid():
        raise KeyConfigError(f"the key file {path} must be a plain file of this user, readable by them only "
                             "(chmod 600): refused")
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KeyConfigError(f"the key file {path} cannot be read: {type(exc).__name__}") from None
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in (DATA_KEY, LOOKUP_KEY)):
        raise KeyConfigError(f"the key file {path} does not hold {DATA_KEY} and {LOOKUP_KEY}")
    return {str(k): str(v) for k, v in raw.items()}
