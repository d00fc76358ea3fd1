"""Encryption at rest: named AES-256-GCM keys and keyed lookup hashes.

A :class:`Keyring` contains one or more named 256-bit keys. The first is the
current key, which encrypts new values; the others stay to decrypt values
written before a rotation. A value is stored as ``v1:<key id>:<base64>``,
where the base64 part is a random 96-bit nonce followed by the AES-GCM
ciphertext and tag. The associated data names the table and column, so a
value copied into another column fails authentication.

Values that the store looks up (phone numbers, emails, channel addresses)
also get a keyed hash: HMAC-SHA256 under a separate 256-bit hash key. The
hash key is random, generated once per store and kept in the store only
wrapped (AES-GCM encrypted) under each data key. Rotating data keys rewraps
it but never changes it, so the lookup hashes stay valid through a rotation.

Keys come from ``PARLEY_KEYS`` (``id:base64,id:base64``, the first is the
current key) or from a key file with one ``id:base64`` line per key. A key
file must not be readable by group or others.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from parley.errors import StoreError

KEYS_ENV = "PARLEY_KEYS"
KEY_FILE_ENV = "PARLEY_KEY_FILE"
FORMAT_VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# Associated data of the wrapped hash key, distinct from every column's.
HASH_KEY_CONTEXT = "encryption_keys.hash_key"


class EncryptionKeyError(StoreError):
    """Base of encryption key problems; the store cannot be used safely."""


class KeyConfigError(EncryptionKeyError):
    """Keys are missing, malformed or stored in an unsafe file."""


class DecryptionError(EncryptionKeyError):
    """A value cannot be decrypted: unknown key id, wrong key or altered data."""


@dataclass(frozen=True)
class NamedKey:
    """One 256-bit data key and the id stored with every value it encrypts."""

    key_id: str
    material: bytes

    def __repr__(self) -> str:
        return f"NamedKey(key_id={self.key_id!r}, material=<hidden>)"


def generate_key(key_id: str | None = None) -> str:
    """Return a new random key as ``id:base64``, ready for PARLEY_KEYS or a key file."""
    key_id = key_id or f"k{secrets.token_hex(4)}"
    _check_key_id(key_id, "the new key")
    material = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")
    return f"{key_id}:{material}"


def default_key_file() -> Path:
    """Return the per-user key file: ``$XDG_CONFIG_HOME/parley/keys``.

    It lives in the user's config directory, away from the data directory,
    so a copy of the data alone cannot be decrypted.
    """
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "parley" / "keys"


def add_key_to_file(path: Path, entry: str) -> bool:
    """Put a key first in a key file with mode 600; return True when it had keys before."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(entry + "\n" + old)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return bool(old.strip())


def keys_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Return True when PARLEY_KEYS, PARLEY_KEY_FILE or the per-user key file is set."""
    environ = os.environ if environ is None else environ
    return bool(
        environ.get(KEYS_ENV, "").strip()
        or environ.get(KEY_FILE_ENV, "").strip()
        or default_key_file().exists()
    )


class Keyring:
    """Named data keys; the first encrypts, every one decrypts."""

    def __init__(self, keys: Sequence[NamedKey]) -> None:
        if not keys:
            raise KeyConfigError(_missing_keys_message())
        seen: set[str] = set()
        for key in keys:
            if key.key_id in seen:
                raise KeyConfigError(
                    f"key id {key.key_id!r} appears twice; give every key its own id"
                )
            seen.add(key.key_id)
        self.keys = tuple(keys)
        self._ciphers = {key.key_id: AESGCM(key.material) for key in keys}

    def __repr__(self) -> str:
        return f"Keyring(key_ids={list(self.key_ids)!r})"

    @property
    def current_id(self) -> str:
        """The id of the key that encrypts new values."""
        return self.keys[0].key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every configured key id, current first."""
        return tuple(key.key_id for key in self.keys)

    # Construction

    @classmethod
    def parse(cls, text: str, source: str) -> Keyring:
        """Parse ``id:base64`` entries separated by commas or lines.

        Blank lines and lines starting with ``#`` are skipped. ``source``
        names where the text came from, for error messages.
        """
        keys = []
        for raw in re.split(r"[,\n]", text):
            entry = raw.strip()
            if not entry or entry.startswith("#"):
                continue
            keys.append(_parse_entry(entry, source))
        if not keys:
            raise KeyConfigError(f"{source} contains no keys. {_generate_hint()}")
        return cls(keys)

    @classmethod
    def from_file(cls, path: Path) -> Keyring:
        """Read a key file, rejecting one that group or others may read."""
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise KeyConfigError(
                f"key file {path} not found. {_generate_hint()}"
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyConfigError(
                f"key file {path} has mode {stat.filemode(mode)}, so other users may "
                f"read it; run `chmod 600 {path}`"
            )
        return cls.parse(path.read_text(encoding="utf-8"), f"key file {path}")

    @classmethod
    def resolve(cls, environ: Mapping[str, str] | None = None) -> Keyring:
        """Find the keys: PARLEY_KEYS, then PARLEY_KEY_FILE, then the per-user key file.

        Raises:
            KeyConfigError: no keys are configured, or they are invalid.
        """
        environ = os.environ if environ is None else environ
        value = environ.get(KEYS_ENV, "").strip()
        if value:
            return cls.parse(value, KEYS_ENV)
        key_file = environ.get(KEY_FILE_ENV, "").strip()
        if key_file:
            return cls.from_file(Path(key_file).expanduser())
        fallback = default_key_file()
        if fallback.exists():
            return cls.from_file(fallback)
        raise KeyConfigError(_missing_keys_message())

    @classmethod
    def ephemeral(cls) -> Keyring:
        """Return a keyring with one random key, for demos and tests that keep no data."""
        return cls.parse(generate_key("ephemeral"), "an ephemeral key")

    # Encryption

    def encrypt(self, plaintext: bytes, context: str) -> str:
        """Encrypt bytes under the current key, bound to ``context`` (table.column)."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._ciphers[self.current_id].encrypt(
            nonce, plaintext, context.encode("utf-8")
        )
        payload = base64.b64encode(nonce + sealed).decode("ascii")
        return f"{FORMAT_VERSION}:{self.current_id}:{payload}"

    def decrypt(self, token: str, context: str) -> bytes:
        """Decrypt a stored value written for ``context``.

        Raises:
            DecryptionError: the value is not in the stored format, its key
                is not configured, or authentication failed (wrong key,
                altered value or a value moved from another column).
        """
        key_id, payload = _split_token(token, context)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError(
                f"{context} contains a value encrypted with key {key_id!r}, which is not "
                f"configured (configured: {', '.join(self.key_ids)}); add it back to "
                f"{KEYS_ENV} or the key file"
            )
        try:
            raw = base64.b64decode(payload, validate=True)
            return cipher.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode("utf-8")
            )
        except (InvalidTag, binascii.Error, ValueError):
            raise DecryptionError(
                f"cannot decrypt a value of {context} with key {key_id!r}: the key "
                "material is wrong or the stored value was altered"
            ) from None

    def encrypt_text(self, value: str, context: str) -> str:
        """Encrypt a string; see :meth:`encrypt`."""
        return self.encrypt(value.encode("utf-8"), context)

    def decrypt_text(self, token: str, context: str) -> str:
        """Decrypt a string; see :meth:`decrypt`."""
        return self.decrypt(token, context).decode("utf-8")


def key_id_of(token: str) -> str | None:
    """Return the key id of a stored value, or None when it is not encrypted."""
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != FORMAT_VERSION:
        return None
    return parts[1]


class LookupHasher:
    """Keyed hashes of looked-up values, so lookups need no decryption."""

    def __init__(self, hash_key: bytes) -> None:
        if len(hash_key) != KEY_BYTES:
            raise ValueError(f"hash key must be {KEY_BYTES} bytes, got {len(hash_key)}")
        self._key = hash_key

    def __repr__(self) -> str:
        return "LookupHasher(<hidden>)"

    def digest(self, value: str, context: str = "address") -> str:
        """Return the hex HMAC-SHA256 of a value within a context such as ``address``."""
        message = context.encode("utf-8") + b"\x00" + value.encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


class StoreCipher:
    """The store's keyring together with its unwrapped lookup hash key."""

    def __init__(self, keyring: Keyring, hash_key: bytes) -> None:
        self.keyring = keyring
        self.hasher = LookupHasher(hash_key)
        self._hash_key = hash_key

    def __repr__(self) -> str:
        return f"StoreCipher({self.keyring!r})"

    def wrapped_hash_key(self) -> str:
        """Return the hash key encrypted under the current key, for storage."""
        return wrap_hash_key(self.keyring, self._hash_key)


def new_hash_key() -> bytes:
    """Return a fresh random hash key."""
    return secrets.token_bytes(KEY_BYTES)


def wrap_hash_key(keyring: Keyring, hash_key: bytes) -> str:
    """Encrypt the hash key under the keyring's current key, for storage."""
    return keyring.encrypt(hash_key, HASH_KEY_CONTEXT)


def unwrap_hash_key(keyring: Keyring, wrapped: str) -> bytes:
    """Decrypt a stored hash key; raises DecryptionError on a wrong key."""
    return keyring.decrypt(wrapped, HASH_KEY_CONTEXT)


def _parse_entry(entry: str, source: str) -> NamedKey:
    key_id, separator, encoded = entry.partition(":")
    key_id = key_id.strip()
    if not separator:
        raise KeyConfigError(
            f"{source}: entry {_preview(entry)} has no key id; write each key as "
            f"id:base64. {_generate_hint()}"
        )
    _check_key_id(key_id, source)
    try:
        material = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        raise KeyConfigError(
            f"{source}: key {key_id!r} is not valid base64. {_generate_hint()}"
        ) from None
    if len(material) != KEY_BYTES:
        raise KeyConfigError(
            f"{source}: key {key_id!r} is {len(material)} bytes; AES-256 needs "
            f"{KEY_BYTES}. {_generate_hint()}"
        )
    return NamedKey(key_id, material)


def _check_key_id(key_id: str, source: str) -> None:
    if not KEY_ID_PATTERN.match(key_id):
        raise KeyConfigError(
            f"{source}: invalid key id {key_id!r}; use 1 to 32 letters, digits, "
            "'-' or '_'"
        )


def _split_token(token: str, context: str) -> tuple[str, str]:
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != FORMAT_VERSION:
        raise DecryptionError(
            f"{context} contains a value that is not encrypted in the {FORMAT_VERSION} "
            "format; the store was written without encryption or was altered"
        )
    return parts[1], parts[2]


def _preview(entry: str) -> str:
    # Shows only the start of an entry, because the rest may be key material.
    return repr(entry[:4] + "...") if len(entry) > 4 else repr(entry)


def _generate_hint() -> str:
    return "Create a key with `parley keys generate`."


def _missing_keys_message() -> str:
    return (
        f"no encryption key configured. Set {KEYS_ENV}=id:base64 (the first key "
        f"encrypts new data), set {KEY_FILE_ENV} to a key file, or write the per-user "
        f"key file {default_key_file()} (mode 600). {_generate_hint()}"
    )
