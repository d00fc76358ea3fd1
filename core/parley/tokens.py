"""API tokens: issuing, hashing, revoking and checking them.

A token is ``pk_`` followed by 32 random bytes in URL-safe base64. The store
keeps only its SHA-256 hash, so the token is shown once, when it is made,
and a copy of the database does not let anyone call the API.
"""

from __future__ import annotations

import enum
import getpass
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from parley.errors import ParleyError
from parley.store import Store
from parley.store.desk_records import TokenRecord

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "pk_"

# 32 random bytes are 43 characters of unpadded URL-safe base64.
TOKEN_PATTERN = re.compile(r"pk_[A-Za-z0-9_-]{43}")

# Token names and team names appear in logs and the audit log, so they are
# short identifiers rather than email addresses or free text.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_RULE = (
    "1 to 64 characters: letters, digits, '.', '_' or '-', starting with a "
    "letter or digit"
)


class Role(enum.StrEnum):
    """The permission level of a token.

    Agents read conversations, reply, write notes and close threads. Leads
    may also assign conversations. Managers may read but not write.
    """

    AGENT = "agent"
    LEAD = "lead"
    MANAGER = "manager"


class TokenError(ParleyError):
    """A token could not be created or revoked; the message gives the reason."""


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: its stored record and the secret, shown once."""

    record: TokenRecord
    secret: str


def hash_token(secret: str) -> str:
    """Return the hex SHA-256 hash under which a token is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def cli_actor() -> str:
    """Return the audit actor for a command run by an operator: ``cli:<user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        return "cli"
    return f"cli:{user}"


def check_name(value: str, what: str) -> str:
    """Return a token or team name unchanged when it is valid.

    Raises:
        TokenError: the name does not follow :data:`NAME_RULE`.
    """
    if NAME_PATTERN.fullmatch(value) is None:
        raise TokenError(f"invalid {what} {value!r}: use {NAME_RULE}")
    return value


def create_token(
    store: Store,
    name: str,
    role: Role,
    team: str | None,
    actor: str,
    now: datetime,
) -> IssuedToken:
    """Issue a token and record its creation in the audit log.

    Raises:
        TokenError: the name or team is invalid, or an unrevoked token
            already has the name.
    """
    check_name(name, "token name")
    if team is not None:
        check_name(team, "team name")

    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.transaction() as conn:
        record = store.add_token(name, role.value, team, hash_token(secret), now, conn)
        if record is None:
            raise TokenError(
                f"a token named {name!r} exists and is not revoked; revoke it with "
                f"'parley tokens revoke {name}' or choose another name"
            )
        store.add_audit(
            actor,
            "token.create",
            "token",
            record.id,
            {"name": name, "role": role.value, "team": team},
            now,
            conn=conn,
        )
    logger.info("token %s created with role %s by %s", name, role.value, actor)
    return IssuedToken(record=record, secret=secret)


def revoke_token(store: Store, name: str, actor: str, now: datetime) -> TokenRecord:
    """Revoke the unrevoked token with a name and record it in the audit log.

    Raises:
        TokenError: no unrevoked token has the name.
    """
    with store.transaction() as conn:
        record = store.revoke_token(name, now, conn=conn)
        if record is None:
            raise TokenError(
                f"no active token is named {name!r}; 'parley tokens list' shows them"
            )
        store.add_audit(
            actor, "token.revoke", "token", record.id, {"name": name}, now, conn=conn
        )
    logger.info("token %s revoked by %s", name, actor)
    return record


def authenticate(store: Store, secret: str) -> TokenRecord | None:
    """Return the unrevoked token a secret belongs to, or None."""
    if TOKEN_PATTERN.fullmatch(secret) is None:
        return None
    record = store.token_by_hash(hash_token(secret))
    if record is None or record.revoked_at is not None:
        return None
    return record
