import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from parley.cli import cli
from parley.crypto import DecryptionError, Keyring, generate_key, key_id_of
from parley.models import AddressKind, ChannelAddress, ContactRecord
from parley.store import open_store, schema
from parley.store.encryption import encrypted_columns
from parley.store.rekey import encrypted_tables
from parley.store.rotation import KeyRotation

NOW = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
PHONES = [f"+1415555{index:04d}" for index in range(7)]


def _fill(url: str, keys: str) -> None:
    store = open_store(url, Keyring.parse(keys, "test"))
    try:
        for index, phone in enumerate(PHONES):
            record = ContactRecord(source="crm", first_name=f"Name{index}")
            contact = store.save_contact(
                record, [ChannelAddress(AddressKind.PHONE, phone)], NOW
            )
            conversation_id, _ = store.open_conversation(
                contact.id, "sandbox", phone, NOW
            )
            store.add_inbound_message(
                conversation_id, "sandbox", f"hello {index}", f"m-{index}", NOW
            )
            store.add_consent(
                "sandbox", phone, "informational", "opt_in", "checkout", "t", "box", NOW
            )
        store.set_plugin_state("shopify", "cursor", "abc", NOW)
    finally:
        store.close()


def _key_ids(url: str, keys: str) -> set[str]:
    """Return the key ids of every encrypted value in the store."""
    store = open_store(url, Keyring.parse(keys, "test"))
    found: set[str] = set()
    try:
        with store.engine.connect() as conn:
            for table in encrypted_tables():
                for column in encrypted_columns(table):
                    query = text(
                        f"SELECT {column.name} FROM {table.name} "  # noqa: S608
                        f"WHERE {column.name} IS NOT NULL"
                    )
                    found |= {
                        key_id_of(str(value)) for value in conn.execute(query).scalars()
                    }
    finally:
        store.close()
    return found


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "parley.toml"
    path.write_text(f'[store]\nurl = "{url}"\n', encoding="utf-8")
    return path


def test_generate_prints_usable_key() -> None:
    result = CliRunner().invoke(cli, ["keys", "generate", "--id", "k2026"])
    assert result.exit_code == 0, result.output
    keyring = Keyring.parse(result.output.strip(), "output")
    assert keyring.key_ids == ("k2026",)


def test_generate_rejects_bad_id() -> None:
    result = CliRunner().invoke(cli, ["keys", "generate", "--id", "a b"])
    assert result.exit_code == 1
    assert "invalid key id 'a b'" in result.output


def test_generate_write_prepends(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "keys"
    runner = CliRunner()
    first = runner.invoke(
        cli, ["keys", "generate", "--id", "old", "--write", str(path)]
    )
    second = runner.invoke(
        cli, ["keys", "generate", "--id", "new", "--write", str(path)]
    )
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Keyring.from_file(path).key_ids == ("new", "old")


def test_rotate_reencrypts_everything(tmp_path: Path, store_url: str) -> None:
    old, new = generate_key("old"), generate_key("new")
    _fill(store_url, old)
    config = _config(tmp_path, store_url)

    result = CliRunner().invoke(
        cli,
        ["keys", "rotate", "--batch-size", "3", "-c", str(config)],
        env={"PARLEY_KEYS": f"{new},{old}"},
    )
    assert result.exit_code == 0, result.output
    assert "rotated to key new" in result.output
    assert "retired key(s): old" in result.output
    assert _key_ids(store_url, new) == {"new"}

    # The old key is no longer needed, nor accepted alone.
    store = open_store(store_url, Keyring.parse(new, "test"))
    try:
        assert store.find_contact(ChannelAddress(AddressKind.PHONE, PHONES[3]))
        assert store.latest_conversation(PHONES[5]) is not None
        assert store.get_plugin_state("shopify", "cursor") == "abc"
        assert len(store.ledger(PHONES[0])) == 1
    finally:
        store.close()
    with pytest.raises(DecryptionError, match="old"):
        open_store(store_url, Keyring.parse(old, "test"))


def test_rotate_resumes_after_interruption(tmp_path: Path, store_url: str) -> None:
    old, new = generate_key("old"), generate_key("new")
    _fill(store_url, old)
    both = f"{new},{old}"

    store = open_store(store_url, Keyring.parse(both, "test"))
    try:
        report = KeyRotation(store, clock=lambda: NOW).run(batch_size=2, max_batches=3)
        assert not report.complete
        with store.engine.connect() as conn:
            progress = conn.execute(select(schema.key_rotations)).all()
        assert sum(row.rows_done for row in progress) == 6
        assert {row.target_key_id for row in progress} == {"new"}
    finally:
        store.close()
    assert _key_ids(store_url, both) == {"old", "new"}

    result = CliRunner().invoke(
        cli,
        ["keys", "rotate", "-c", str(_config(tmp_path, store_url))],
        env={"PARLEY_KEYS": both},
    )
    assert result.exit_code == 0, result.output
    assert "resuming after 6 row(s)" in result.output
    assert _key_ids(store_url, new) == {"new"}


def test_rotate_without_key_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'parley.db'}"
    _fill(url, generate_key("main"))
    monkeypatch.delenv("PARLEY_KEYS", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    config = _config(tmp_path, url)

    result = CliRunner().invoke(cli, ["keys", "rotate", "-c", str(config)])

    assert result.exit_code == 1
    assert "no encryption key configured" in result.output


def test_run_without_key_fails_for_existing_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    database = tmp_path / "data" / "parley.db"
    _fill(f"sqlite:///{database}", generate_key("main"))
    before = database.read_bytes()
    monkeypatch.delenv("PARLEY_KEYS", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    config = tmp_path / "parley.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n', encoding="utf-8")

    result = CliRunner().invoke(cli, ["run", "-c", str(config), "--port", "0"])

    assert result.exit_code == 1
    assert "no encryption key configured" in result.output
    assert "parley keys generate" in result.output
    assert not (tmp_path / "config" / "parley" / "keys").exists()
    assert database.read_bytes() == before
