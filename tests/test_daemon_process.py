"""End-to-end tests of ``parley run`` as a real process."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from parley.store import Store

from .daemon_process import DaemonProcess, wait_for

pytestmark = pytest.mark.slow


def _sandbox_lines(data_dir: Path) -> list[dict[str, object]]:
    path = data_dir / "sandbox-outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _status_of(store: Store, kind: str) -> str | None:
    for message in store.messages():
        if message.kind == kind:
            return message.status
    return None


@pytest.fixture
def latency_config(write_config: Callable[..., Path]) -> Path:
    return write_config("\n[sandbox]\nlatency_ms = 2500\n")


def test_sigkill_before_send_sends_once(latency_config: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    daemon = DaemonProcess(latency_config, tmp_path / "daemon.log")
    daemon.start()
    store = Store(f"sqlite:///{data_dir / 'parley.db'}")
    try:
        inbound = json.dumps(
            {"from": "+14155550123", "body": "Hello there", "id": "k-1"}
        ).encode()
        response = daemon.post("/webhooks/sandbox", inbound)
        assert response.status_code == 200

        # The sandbox sleeps 2.5 s inside send: kill the daemon in that window.
        wait_for(lambda: _status_of(store, "auto_reply") == "sending")
        daemon.kill()
        assert _sandbox_lines(data_dir) == []

        restarted = DaemonProcess(latency_config, tmp_path / "daemon.log")
        restarted.start()
        wait_for(lambda: _status_of(store, "auto_reply") == "sent")
        again = restarted.post("/webhooks/sandbox", inbound)
        assert again.status_code == 200
        wait_for(lambda: store.counts()["pending_events"] == 0)
        assert restarted.terminate() == 0
    finally:
        daemon.kill()
        store.close()

    lines = _sandbox_lines(data_dir)
    assert len(lines) == 1
    assert lines[0]["kind"] == "auto_reply"
    assert lines[0]["to"] == "+14155550123"


def test_sigterm_finishes_inflight_send(latency_config: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    daemon = DaemonProcess(latency_config, tmp_path / "daemon.log")
    daemon.start()
    store = Store(f"sqlite:///{data_dir / 'parley.db'}")
    try:
        inbound = json.dumps(
            {"from": "+14155550124", "body": "Hi", "id": "t-1"}
        ).encode()
        assert daemon.post("/webhooks/sandbox", inbound).status_code == 200
        wait_for(lambda: _status_of(store, "auto_reply") == "sending")
        exit_code = daemon.terminate()
        status = _status_of(store, "auto_reply")
    finally:
        daemon.kill()
        store.close()

    assert exit_code == 0
    assert status == "sent"
    assert len(_sandbox_lines(data_dir)) == 1
    log = (tmp_path / "daemon.log").read_text()
    assert "daemon stopped" in log


def test_second_daemon_on_sqlite_refused(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = write_config()
    first = DaemonProcess(config, tmp_path / "first.log")
    first.start()
    try:
        second = DaemonProcess(config, tmp_path / "second.log")
        with pytest.raises(AssertionError, match="another parley daemon"):
            second.start(timeout=15)
    finally:
        first.kill()


SHOP = "harbor-and-pine-test.myshopify.com"
SHOP_SECRET = "daemon-process-test-secret"


def _signed_order(webhook_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "id": 6120459210842,
            "name": "#1042",
            "updated_at": "2026-11-16T10:15:22-05:00",
            "customer": {"id": 1, "first_name": "Avery", "phone": "+14155550123"},
        }
    ).encode()
    digest = hmac.new(SHOP_SECRET.encode(), body, hashlib.sha256).digest()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Webhook-Id": webhook_id,
    }
    return body, headers


def test_sigkill_after_order_webhook_sends_once(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = write_config(
        f'\n[sandbox]\nlatency_ms = 2500\n\n[[shopify.shops]]\ndomain = "{SHOP}"\n'
        f'client_secret = "{SHOP_SECRET}"\n',
        plugins=("sandbox", "shopify"),
    )
    data_dir = tmp_path / "data"
    body, headers = _signed_order("webhook-1")
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    daemon.start()
    store = Store(f"sqlite:///{data_dir / 'parley.db'}")
    try:
        assert daemon.post("/webhooks/shopify", body, headers).status_code == 200
        wait_for(lambda: _status_of(store, "order_update") == "sending")
        daemon.kill()

        restarted = DaemonProcess(config, tmp_path / "daemon.log")
        restarted.start()
        assert restarted.post("/webhooks/shopify", body, headers).status_code == 200
        wait_for(lambda: _status_of(store, "order_update") == "sent")
        assert restarted.terminate() == 0
        counts = store.counts()
    finally:
        daemon.kill()
        store.close()

    lines = _sandbox_lines(data_dir)
    assert [line["body"] for line in lines] == [
        "Hi Avery, thanks for your order #1042."
    ]
    assert counts["events"] == 1
    assert counts["webhook_deliveries"] == 1
