"""API tokens: ``parley tokens``, hash-only storage, revocation and audit rows."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from parley.cli import cli
from parley.config import load_config
from parley.store import Store, open_store
from parley.tokens import (
    TOKEN_PATTERN,
    Role,
    TokenError,
    authenticate,
    create_token,
    revoke_token,
)

from .conftest import FakeClock


@pytest.fixture
def config(write_config: Callable[..., Path]) -> Path:
    return write_config()


@pytest.fixture
def store(config: Path) -> Store:
    opened = open_store(load_config(config, environ={}).settings.store_url)
    yield opened
    opened.close()


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_create_prints_token_once(config: Path, store: Store) -> None:
    code, out, err = invoke(
        "tokens", "create", "--role", "agent", "--name", "ana", "-c", str(config)
    )

    assert code == 0, err
    secret = out.strip()
    assert TOKEN_PATTERN.fullmatch(secret)
    assert "shown only now" in err
    record = authenticate(store, secret)
    assert record is not None
    assert (record.name, record.role, record.team) == ("ana", "agent", None)


def test_token_stored_only_as_hash(config: Path, store: Store) -> None:
    code, out, _err = invoke(
        "tokens",
        "create",
        "--role",
        "lead",
        "--name",
        "ben",
        "--team",
        "billing",
        "-c",
        str(config),
    )
    assert code == 0
    secret = out.strip()
    store.close()

    data_dir = load_config(config, environ={}).settings.data_dir
    stored = b"".join(path.read_bytes() for path in Path(data_dir).glob("parley.db*"))
    digest = hashlib.sha256(secret.encode()).hexdigest()
    assert secret.encode() not in stored
    assert secret[3:].encode() not in stored
    assert digest.encode() in stored


def test_list_shows_no_secret(config: Path) -> None:
    _code, out, _err = invoke(
        "tokens", "create", "--role", "manager", "--name", "mia", "-c", str(config)
    )
    secret = out.strip()

    code, listed, _err = invoke("tokens", "list", "--json", "-c", str(config))

    assert code == 0
    rows = json.loads(listed)
    assert [(row["name"], row["role"], row["revoked_at"]) for row in rows] == [
        ("mia", "manager", None)
    ]
    assert secret not in listed


def test_revoke_makes_token_invalid(config: Path, store: Store) -> None:
    _code, out, _err = invoke(
        "tokens", "create", "--role", "agent", "--name", "ana", "-c", str(config)
    )
    secret = out.strip()

    code, revoked, _err = invoke("tokens", "revoke", "ana", "-c", str(config))

    assert code == 0
    assert "revoked" in revoked
    assert authenticate(store, secret) is None
    _code, listed, _err = invoke("tokens", "list", "--json", "-c", str(config))
    assert json.loads(listed)[0]["revoked_at"] is not None


def test_revoke_unknown_name_fails(config: Path) -> None:
    code, _out, err = invoke("tokens", "revoke", "nobody", "-c", str(config))
    assert code == 1
    assert "no active token is named 'nobody'" in err


def test_duplicate_active_name_rejected(store: Store) -> None:
    clock = FakeClock()
    create_token(store, "ana", Role.AGENT, None, "cli:test", clock.now)
    with pytest.raises(TokenError, match="exists and is not revoked"):
        create_token(store, "ana", Role.LEAD, None, "cli:test", clock.now)


def test_name_reusable_after_revoke(store: Store) -> None:
    clock = FakeClock()
    old = create_token(store, "ana", Role.AGENT, None, "cli:test", clock.now)
    revoke_token(store, "ana", "cli:test", clock.now)

    new = create_token(store, "ana", Role.AGENT, None, "cli:test", clock.now)

    assert authenticate(store, old.secret) is None
    assert authenticate(store, new.secret) is not None


@pytest.mark.parametrize(
    ("name", "team"),
    [("ana@example.com", None), ("", None), ("x" * 65, None), ("ana", "two words")],
)
def test_invalid_names_rejected(store: Store, name: str, team: str | None) -> None:
    with pytest.raises(TokenError, match="invalid"):
        create_token(store, name, Role.AGENT, team, "cli:test", FakeClock().now)
    assert store.tokens() == []


def test_invalid_name_cli_message(config: Path) -> None:
    code, _out, err = invoke(
        "tokens", "create", "--role", "agent", "--name", "a b", "-c", str(config)
    )
    assert code == 1
    assert "invalid token name 'a b'" in err


def test_creation_and_revocation_audited(store: Store) -> None:
    clock = FakeClock()
    issued = create_token(store, "ben", Role.LEAD, "billing", "cli:ops", clock.now)
    revoke_token(store, "ben", "cli:ops", clock.now)

    entries = list(reversed(store.audit_entries(limit=10)))

    assert [(e.actor, e.action, e.target_id) for e in entries] == [
        ("cli:ops", "token.create", str(issued.record.id)),
        ("cli:ops", "token.revoke", str(issued.record.id)),
    ]
    assert entries[0].detail == {"name": "ben", "role": "lead", "team": "billing"}
    assert issued.secret not in json.dumps([e.detail for e in entries])


@pytest.mark.parametrize(
    "secret",
    ["", "pk_short", "Bearer", "pk_" + "a" * 43 + "b", "xx_" + "a" * 43],
)
def test_malformed_secret_not_authenticated(store: Store, secret: str) -> None:
    create_token(store, "ana", Role.AGENT, None, "cli:test", FakeClock().now)
    assert authenticate(store, secret) is None
