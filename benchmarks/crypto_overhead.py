"""Measure what encryption at rest costs per customer message.

The script builds a runtime on a temporary SQLite store with the sandbox
channel and queues ``--count`` customer messages from as many new phone
numbers. It times the event and outbox workers until every message is
stored and its first-message reply sent. Each message takes the encrypted
paths of a conversation: the event payload, a contact and address lookup by
hash, a new conversation, the stored body and the reply.

It runs once with the real cipher (AES-256-GCM and HMAC-SHA256) and once
with a pass-through cipher that stores values as they are, and reports the
median wall-clock and CPU time per message of ``--repeat`` runs of each, and
their ratios. It also counts the values encrypted or decrypted per message
and times one encryption of a 160-character body, which together estimate
the cipher's own share without the noise of whole runs.

    .venv/bin/python benchmarks/crypto_overhead.py --count 300 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import textwrap
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from parley.config import load_config
from parley.crypto import Keyring, StoreCipher, generate_key, new_hash_key
from parley.models import AddressKind, ChannelAddress, InboundMessage
from parley.pipeline import inbound_to_json
from parley.runtime import Runtime, build_runtime

CONFIG = """
data_dir = "{data_dir}"

[plugins]
enabled = ["sandbox"]

[compliance]
require_informational_consent = false
sending_window = "00:00-00:00"

[replies]
first_message = "welcome"

[templates]
welcome = "Hi {{{{First Name | there}}}}, thanks for writing. Reply STOP to opt out."
"""

BODY = "Hi, my order from last week has not arrived yet. Can you check where it is?"


class PassThroughKeyring:
    """Stores values unencrypted: the baseline without encryption."""

    current_id = "plain"
    key_ids = ("plain",)

    def encrypt_text(self, value: str, context: str) -> str:
        """Return the value unchanged."""
        return value

    def decrypt_text(self, token: str, context: str) -> str:
        """Return the stored value unchanged."""
        return token


class PassThroughHasher:
    """Uses the value itself as its lookup key."""

    def digest(self, value: str, context: str = "address") -> str:
        """Return the value, cut to the hash column's width."""
        return value[:64]


class PassThroughCipher:
    """A stand-in for StoreCipher that neither encrypts nor hashes."""

    keyring = PassThroughKeyring()
    hasher = PassThroughHasher()


def _runtime(workdir: Path, encrypted: bool) -> Runtime:
    config = workdir / "parley.toml"
    config.write_text(
        textwrap.dedent(CONFIG.format(data_dir=workdir / "data")), encoding="utf-8"
    )
    runtime = build_runtime(load_config(config, environ={}))
    if not encrypted:
        runtime.store._use_cipher(PassThroughCipher())  # type: ignore[arg-type]
    return runtime


def _queue(runtime: Runtime, count: int) -> None:
    now = datetime.now(UTC)
    for index in range(count):
        message = InboundMessage(
            channel="sandbox",
            sender=ChannelAddress(AddressKind.PHONE, f"+1415555{index:04d}"),
            body=BODY,
            provider_message_id=f"bench-{index}",
            received_at=now,
        )
        runtime.store.add_event(
            "message_received",
            "sandbox",
            f"inbound:sandbox:bench-{index}",
            inbound_to_json(message),
            now,
        )


def _drain(runtime: Runtime) -> None:
    while runtime.event_worker.run_once() + runtime.outbox_worker.run_once():
        pass


class CountingKeyring:
    """Wraps the real keyring and counts the values it encrypts and decrypts."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self.current_id = keyring.current_id
        self.key_ids = keyring.key_ids
        self.calls = 0

    def encrypt_text(self, value: str, context: str) -> str:
        """Encrypt with the real keyring and count the call."""
        self.calls += 1
        return self.keyring.encrypt_text(value, context)

    def decrypt_text(self, token: str, context: str) -> str:
        """Decrypt with the real keyring and count the call."""
        self.calls += 1
        return self.keyring.decrypt_text(token, context)


class CountingCipher:
    """A StoreCipher whose keyring counts its calls."""

    def __init__(self, cipher: StoreCipher) -> None:
        self.keyring = CountingKeyring(cipher.keyring)
        self.hasher = cipher.hasher


@dataclass
class RunResult:
    """Wall-clock and CPU seconds per message, and cipher calls per message."""

    wall: float
    cpu: float
    cipher_calls: float


def run_once(count: int, encrypted: bool) -> RunResult:
    """Process ``count`` messages and return the cost per message."""
    with tempfile.TemporaryDirectory() as tmp:
        runtime = _runtime(Path(tmp), encrypted)
        counting = None
        if encrypted:
            assert runtime.store.cipher is not None
            counting = CountingCipher(runtime.store.cipher)
            runtime.store._use_cipher(counting)  # type: ignore[arg-type]
        try:
            _queue(runtime, count)
            if counting is not None:
                counting.keyring.calls = 0
            started = time.perf_counter()
            cpu_started = time.process_time()
            _drain(runtime)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            sent = sum(1 for m in runtime.store.messages() if m.direction == "out")
            if sent != count:
                raise SystemExit(f"expected {count} replies, found {sent}")
        finally:
            runtime.close()
    calls = counting.keyring.calls / count if counting is not None else 0.0
    return RunResult(elapsed / count, cpu / count, calls)


def cipher_cost(rounds: int = 20000) -> float:
    """Return the seconds to encrypt and decrypt one 160-character body."""
    cipher = StoreCipher(Keyring.parse(generate_key("bench"), "bench"), new_hash_key())
    body = "x" * 160
    started = time.perf_counter()
    for _ in range(rounds):
        token = cipher.keyring.encrypt_text(body, "messages.body")
        cipher.keyring.decrypt_text(token, "messages.body")
    return (time.perf_counter() - started) / rounds


def main() -> None:
    """Run both modes and print the medians and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="messages per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each mode")
    args = parser.parse_args()

    os.environ.setdefault("PARLEY_KEYS", generate_key("bench"))
    # One discarded run of each mode warms imports, caches and the file system.
    run_once(args.count, encrypted=False)
    run_once(args.count, encrypted=True)
    plain, encrypted = [], []
    for _ in range(args.repeat):
        # Alternating the modes spreads background load over both.
        plain.append(run_once(args.count, encrypted=False))
        encrypted.append(run_once(args.count, encrypted=True))
    print(f"messages per run: {args.count}, runs per mode: {args.repeat}")
    for label, attribute in (("wall-clock", "wall"), ("CPU", "cpu")):
        plain_ms = statistics.median(getattr(r, attribute) for r in plain) * 1000
        encrypted_ms = (
            statistics.median(getattr(r, attribute) for r in encrypted) * 1000
        )
        print(
            f"{label}: {plain_ms:.2f} ms per message without encryption, "
            f"{encrypted_ms:.2f} ms with, ratio {encrypted_ms / plain_ms:.3f}"
        )
    calls = statistics.median(r.cipher_calls for r in encrypted)
    per_call = cipher_cost() / 2
    print(f"values encrypted or decrypted per message: {calls:.1f}")
    print(f"one encrypt or decrypt of a 160-character body: {per_call * 1e6:.1f} us")
    print(f"estimated cipher time per message: {calls * per_call * 1000:.3f} ms")


if __name__ == "__main__":
    main()
