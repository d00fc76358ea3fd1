import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text

from parley.config import load_config
from parley.crypto import DecryptionError, KeyConfigError, Keyring, generate_key
from parley.models import AddressKind, ChannelAddress, ContactRecord
from parley.runtime import Runtime, build_runtime
from parley.store import Store, open_store
from parley.store.engine import create_store_engine

from .conftest import FakeClock, drain
from .desk_helpers import inbound

FIRST_NAME = "Wrenfield"
LAST_NAME = "Okonkwo-Castellanos"
EMAIL = "wren.castellanos@example.org"
PHONE = "+14155550177"
BODY = "Where is the teal kayak paddle I ordered"
NOTE = "Customer prefers calls after five"
EVIDENCE = "checkout box ticked on order 8841"
NOW = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)

PERSONAL_DATA = [FIRST_NAME, LAST_NAME, EMAIL, PHONE, BODY, NOTE, EVIDENCE]


@pytest.fixture
def sqlite_runtime(
    write_config: Callable[..., Path], tmp_path: Path, clock: FakeClock
) -> Iterator[Runtime]:
    path = write_config(store_url=f"sqlite:///{tmp_path / 'data' / 'parley.db'}")
    runtime = build_runtime(load_config(path, environ={}), clock=clock)
    yield runtime
    runtime.close()


def _save_customer(store: Store) -> int:
    record = ContactRecord(
        source="crm",
        first_name=FIRST_NAME,
        last_name=LAST_NAME,
        email=EMAIL,
        phone=PHONE,
        fields={"Loyalty Program": "Gold"},
    )
    addresses = [
        ChannelAddress(AddressKind.PHONE, PHONE),
        ChannelAddress(AddressKind.EMAIL, EMAIL),
    ]
    contact = store.save_contact(record, addresses, NOW)
    store.put_source_record(contact.id, "crm", "c-1", {"email": EMAIL}, NOW)
    return contact.id


def test_sqlite_file_holds_no_personal_data(
    sqlite_runtime: Runtime, tmp_path: Path
) -> None:
    store = sqlite_runtime.store
    contact_id = _save_customer(store)
    conversation_id = inbound(sqlite_runtime, BODY, "m-1", sender=PHONE)
    store.add_note(conversation_id, "agent", NOTE, NOW)
    store.add_consent(
        "sandbox", PHONE, "informational", "opt_in", "checkout", "shop", EVIDENCE, NOW
    )
    drain(sqlite_runtime)

    # The data went in and reads back in the clear through the store.
    messages = store.messages(conversation_id)
    assert any(message.body == BODY for message in messages)
    assert any(FIRST_NAME in message.body for message in messages)
    assert store.get_contact(contact_id).email == EMAIL  # type: ignore[union-attr]
    assert store.ledger(PHONE)[-1].evidence == EVIDENCE

    files = sorted((tmp_path / "data").glob("parley.db*"))
    assert any(path.name.endswith("-wal") for path in files)
    raw = b"".join(path.read_bytes() for path in files)
    for value in [*PERSONAL_DATA, PHONE.lstrip("+"), PHONE[2:]]:
        assert value.encode("utf-8") not in raw, value
        assert value.encode("utf-16-le") not in raw, value


def _dump(url: str) -> dict[str, list[tuple[str, ...]]]:
    """Return every row of every table, read without decryption."""
    engine: Engine = create_store_engine(url)
    dump: dict[str, list[tuple[str, ...]]] = {}
    try:
        with engine.connect() as conn:
            for name in sorted(inspect(conn).get_table_names()):
                rows = conn.execute(text(f"SELECT * FROM {name}"))  # noqa: S608
                dump[name] = sorted(tuple(str(value) for value in row) for row in rows)
    finally:
        engine.dispose()
    return dump


def _filled_store(url: str, key: str | None) -> None:
    """Store a customer and a message; None takes the configured or per-user key."""
    store = open_store(url, Keyring.parse(key, "test") if key else None)
    _save_customer(store)
    conversation_id, _ = store.open_conversation(1, "sandbox", PHONE, NOW)
    store.add_inbound_message(conversation_id, "sandbox", BODY, "m-1", NOW)
    store.close()


def test_wrong_key_material_changes_nothing(store_url: str) -> None:
    key = generate_key("main")
    _filled_store(store_url, key)
    before = _dump(store_url)

    wrong = Keyring.parse(generate_key("main"), "test")
    with pytest.raises(DecryptionError, match="'main' does not match"):
        open_store(store_url, wrong)
    assert _dump(store_url) == before


def test_unknown_key_id_changes_nothing(store_url: str) -> None:
    _filled_store(store_url, generate_key("main"))
    before = _dump(store_url)

    other = Keyring.parse(generate_key("other"), "test")
    with pytest.raises(DecryptionError, match="main, which are not configured"):
        open_store(store_url, other)
    assert _dump(store_url) == before


def _no_configured_keys(monkeypatch: pytest.MonkeyPatch, config_home: Path) -> Path:
    monkeypatch.delenv("PARLEY_KEYS", raising=False)
    monkeypatch.delenv("PARLEY_KEY_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    return config_home / "parley" / "keys"


def test_new_store_creates_per_user_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = _no_configured_keys(monkeypatch, tmp_path / "config")
    url = f"sqlite:///{tmp_path / 'data' / 'parley.db'}"
    (tmp_path / "data").mkdir()

    _filled_store(url, None)

    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    store = open_store(url)
    try:
        assert store.latest_conversation(PHONE) == 1
    finally:
        store.close()


def test_missing_key_for_existing_store_changes_nothing(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _filled_store(store_url, generate_key("main"))
    before = _dump(store_url)
    key_file = _no_configured_keys(monkeypatch, tmp_path / "config")

    with pytest.raises(KeyConfigError, match="PARLEY_KEYS.*parley keys generate"):
        open_store(store_url)

    assert not key_file.exists()
    assert _dump(store_url) == before


def test_right_key_reads_back(store_url: str) -> None:
    key = generate_key("main")
    _filled_store(store_url, key)
    store = open_store(store_url, Keyring.parse(key, "test"))
    try:
        contact = store.find_contact(ChannelAddress(AddressKind.EMAIL, EMAIL))
        assert contact is not None
        assert contact.fields == {"Loyalty Program": "Gold"}
        assert store.source_records(contact.id) == {"crm": {"email": EMAIL}}
        assert store.latest_conversation(PHONE) == 1
    finally:
        store.close()


def _downgrade_to_plaintext(url: str) -> None:
    """Turn a new store into one written before migration 7, with plaintext rows."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    stamp = "2026-11-17 15:00:00.000000"
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM schema_migrations WHERE version = 7"))
        conn.execute(text("DROP TABLE encryption_keys"))
        conn.execute(text("DROP TABLE key_rotations"))
        for index in (
            "uq_contact_addresses_kind_value_hash",
            "uq_conversations_channel_address_hash",
            "ix_conversations_address_hash",
            "ix_consent_address_hash",
        ):
            conn.execute(text(f"DROP INDEX {index}"))
        conn.execute(
            text(
                "INSERT INTO contacts (id, first_name, last_name, email, phone, fields, "
                "sources, created_at, updated_at) VALUES (1, :first, :last, :email, "
                ":phone, '{\"Loyalty Program\": \"Gold\"}', '{}', :at, :at)"
            ),
            {
                "first": FIRST_NAME,
                "last": LAST_NAME,
                "email": EMAIL,
                "phone": PHONE,
                "at": stamp,
            },
        )
        conn.execute(
            text(
                "INSERT INTO contact_addresses (contact_id, kind, value, created_at) "
                "VALUES (1, 'phone', :phone, :at)"
            ),
            {"phone": PHONE, "at": stamp},
        )
        conn.execute(
            text(
                "INSERT INTO conversations (id, contact_id, channel, address, state, "
                "opened_at, updated_at) VALUES (1, 1, 'sandbox', :phone, 'open', :at, :at)"
            ),
            {"phone": PHONE, "at": stamp},
        )
        conn.execute(
            text(
                "INSERT INTO messages (conversation_id, direction, channel, kind, purpose, "
                "body, status, provider_message_id, created_at, updated_at) VALUES "
                "(1, 'in', 'sandbox', 'customer', 'conversational', :body, 'received', "
                "'m-1', :at, :at)"
            ),
            {"body": BODY, "at": stamp},
        )
        conn.execute(
            text(
                "INSERT INTO consent_records (channel, address, purpose, action, source, "
                "actor, evidence, recorded_at) VALUES ('sandbox', :phone, "
                "'informational', 'opt_in', 'checkout', 'shop', :evidence, :at)"
            ),
            {"phone": PHONE, "evidence": EVIDENCE, "at": stamp},
        )
    engine.dispose()


def test_migration_encrypts_existing_rows(store_url: str) -> None:
    key = generate_key("main")
    open_store(store_url, Keyring.parse(key, "test")).close()
    _downgrade_to_plaintext(store_url)

    store = open_store(store_url, Keyring.parse(key, "test"))
    try:
        contact = store.find_contact(ChannelAddress(AddressKind.PHONE, PHONE))
        assert contact is not None
        assert contact.first_name == FIRST_NAME
        assert contact.fields == {"Loyalty Program": "Gold"}
        assert store.latest_conversation(PHONE) == 1
        assert store.messages(1)[0].body == BODY
        assert [entry.evidence for entry in store.ledger(PHONE)] == [EVIDENCE]
        # The unique index on the hash still stops a second conversation.
        assert store.open_conversation(1, "sandbox", PHONE, NOW) == (1, False)
    finally:
        store.close()

    dump = repr(_dump(store_url))
    for value in PERSONAL_DATA:
        assert value not in dump, value


def test_lookup_hash_column_filled(store_url: str) -> None:
    key = generate_key("main")
    _filled_store(store_url, key)
    store = open_store(store_url, Keyring.parse(key, "test"))
    try:
        digest = store.lookup_hash(PHONE)
        with store.engine.connect() as conn:
            found = conn.execute(
                text("SELECT count(*) FROM contact_addresses WHERE value_hash = :h"),
                {"h": digest},
            ).scalar_one()
    finally:
        store.close()
    assert found == 1
    assert digest != PHONE
