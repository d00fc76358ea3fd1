import base64
import os
from pathlib import Path

import pytest

from parley.crypto import (
    DecryptionError,
    KeyConfigError,
    Keyring,
    LookupHasher,
    StoreCipher,
    generate_key,
    key_id_of,
    new_hash_key,
    unwrap_hash_key,
)


def _key(key_id: str) -> str:
    return generate_key(key_id)


def test_roundtrip_records_key_id() -> None:
    keyring = Keyring.parse(_key("one"), "test")
    token = keyring.encrypt_text("Ada Lovelace", "contacts.first_name")
    assert token.startswith("v1:one:")
    assert "Ada" not in token
    assert keyring.decrypt_text(token, "contacts.first_name") == "Ada Lovelace"


def test_same_value_encrypts_differently() -> None:
    keyring = Keyring.parse(_key("one"), "test")
    first = keyring.encrypt_text("+14155550123", "conversations.address")
    second = keyring.encrypt_text("+14155550123", "conversations.address")
    assert first != second


def test_value_moved_to_other_column_fails() -> None:
    keyring = Keyring.parse(_key("one"), "test")
    token = keyring.encrypt_text("secret", "messages.body")
    with pytest.raises(DecryptionError, match="conversation_notes.body"):
        keyring.decrypt_text(token, "conversation_notes.body")


def test_wrong_key_material_fails() -> None:
    token = Keyring.parse(_key("one"), "a").encrypt_text("x", "messages.body")
    other = Keyring.parse(_key("one"), "b")
    with pytest.raises(DecryptionError, match="key material is wrong"):
        other.decrypt_text(token, "messages.body")


def test_altered_ciphertext_fails() -> None:
    keyring = Keyring.parse(_key("one"), "test")
    token = keyring.encrypt_text("hello", "messages.body")
    raw = bytearray(base64.b64decode(token.split(":", 2)[2]))
    raw[-1] ^= 1
    altered = "v1:one:" + base64.b64encode(bytes(raw)).decode()
    with pytest.raises(DecryptionError):
        keyring.decrypt_text(altered, "messages.body")


def test_unknown_key_id_names_it() -> None:
    token = Keyring.parse(_key("old"), "a").encrypt_text("x", "messages.body")
    keyring = Keyring.parse(_key("new"), "b")
    with pytest.raises(DecryptionError, match="'old'.*not configured"):
        keyring.decrypt_text(token, "messages.body")


def test_plaintext_value_rejected() -> None:
    keyring = Keyring.parse(_key("one"), "test")
    with pytest.raises(DecryptionError, match="not encrypted"):
        keyring.decrypt_text("Ada", "contacts.first_name")


def test_old_key_still_decrypts() -> None:
    old, new = _key("old"), _key("new")
    token = Keyring.parse(old, "a").encrypt_text("kept", "messages.body")
    keyring = Keyring.parse(f"{new},{old}", "b")
    assert keyring.current_id == "new"
    assert keyring.decrypt_text(token, "messages.body") == "kept"
    assert key_id_of(keyring.encrypt_text("x", "messages.body")) == "new"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "contains no keys"),
        ("nocolon", "has no key id"),
        ("bad id:" + base64.b64encode(b"k" * 32).decode(), "invalid key id"),
        ("k1:not base64!", "not valid base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "is 5 bytes"),
    ],
)
def test_parse_rejects_bad_entries(text: str, message: str) -> None:
    with pytest.raises(KeyConfigError, match=message):
        Keyring.parse(text, "PARLEY_KEYS")


def test_parse_rejects_duplicate_ids() -> None:
    with pytest.raises(KeyConfigError, match="appears twice"):
        Keyring.parse(f"{_key('a')},{_key('a')}", "PARLEY_KEYS")


def test_error_never_shows_key_material() -> None:
    material = base64.b64encode(b"s" * 31).decode()
    with pytest.raises(KeyConfigError) as caught:
        Keyring.parse(f"k1:{material}", "PARLEY_KEYS")
    assert material not in str(caught.value)
    assert material not in repr(Keyring.parse(_key("k2"), "x"))


def test_key_file_lines_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"# current first\n{_key('new')}\n\n{_key('old')}\n")
    path.chmod(0o600)
    assert Keyring.from_file(path).key_ids == ("new", "old")


def test_key_file_readable_by_others_rejected(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(_key("k1"))
    path.chmod(0o644)
    with pytest.raises(KeyConfigError, match="chmod 600"):
        Keyring.from_file(path)


def test_missing_key_file_named(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match="not found.*parley keys generate"):
        Keyring.from_file(tmp_path / "absent")


def test_resolve_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    path = tmp_path / "keys"
    path.write_text(_key("fromfile"))
    path.chmod(0o600)
    both = {"PARLEY_KEYS": _key("fromenv"), "PARLEY_KEY_FILE": str(path)}
    assert Keyring.resolve(both).current_id == "fromenv"
    assert Keyring.resolve({"PARLEY_KEY_FILE": str(path)}).current_id == "fromfile"
    with pytest.raises(KeyConfigError, match="no encryption key configured"):
        Keyring.resolve({})


def test_resolve_uses_per_user_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "parley").mkdir()
    path = tmp_path / "parley" / "keys"
    path.write_text(_key("user"))
    os.chmod(path, 0o600)
    assert Keyring.resolve({}).current_id == "user"


def test_lookup_hash_stable_and_keyed() -> None:
    key = new_hash_key()
    first, second = LookupHasher(key), LookupHasher(key)
    assert first.digest("+14155550123") == second.digest("+14155550123")
    assert first.digest("+14155550123") != first.digest("+14155550124")
    assert first.digest("a", "email") != first.digest("a", "address")
    assert LookupHasher(new_hash_key()).digest("a") != first.digest("a")


def test_hash_key_wrap_survives_rotation() -> None:
    old = Keyring.parse(_key("old"), "a")
    hash_key = new_hash_key()
    wrapped = StoreCipher(old, hash_key).wrapped_hash_key()
    both = Keyring.parse(f"{_key('new')},{generate_key('old')}", "b")
    with pytest.raises(DecryptionError):
        unwrap_hash_key(both, wrapped)
    assert unwrap_hash_key(old, wrapped) == hash_key


def test_generate_key_format() -> None:
    key_id, material = generate_key().split(":")
    assert key_id.startswith("k")
    assert len(base64.b64decode(material)) == 32
    with pytest.raises(KeyConfigError, match="invalid key id"):
        generate_key("no spaces")
