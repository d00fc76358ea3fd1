"""Deliveries through the daemon's HTTP app, up to the message a customer gets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from shopify_support import (
    SECRET,
    SHOP,
    compact,
    load_fixture,
    shopify_toml,
    signed_headers,
    write_config,
)
from starlette.testclient import TestClient

import parley.config
from parley.daemon import Daemon
from parley.runtime import Runtime, build_runtime
from parley.store import MessageRecord

TEMPLATES = {
    "order_confirmed": "Hi {{First Name | there}}, thanks for your order "
    "{{Order Number}} ({{Order Total}}).",
    "order_shipped": "Hi {{First Name | there}}, your order {{Order Number}} "
    "has been shipped. Track it: {{Tracking URL | no tracking yet}}",
    "order_cancelled": "Hi {{First Name | there}}, your order {{Order Number}} "
    "was cancelled ({{Cancel Reason}}).",
}

ORDER_UPDATES = """
[order_updates]
channel = "sandbox"

[order_updates.templates]
confirmed = "order_confirmed"
shipped = "order_shipped"
cancelled = "order_cancelled"

[outbox]
poll_interval_seconds = 3600
"""


def templates_toml() -> str:
    lines = [f"{name} = {json.dumps(text)}" for name, text in TEMPLATES.items()]
    return "\n[templates]\n" + "\n".join(lines) + "\n"


@pytest.fixture
def runtime(tmp_path: Path, store_url: str) -> Iterator[Runtime]:
    shops = [{"domain": SHOP, "client_secret": SECRET}]
    body = shopify_toml(shops) + ORDER_UPDATES + templates_toml()
    path = write_config(tmp_path, store_url, body, plugins=("sandbox", "shopify"))
    built = build_runtime(parley.config.load_config(path, environ={}))
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    # The workers poll once an hour here, so each test drives them with drain().
    with TestClient(Daemon(runtime).app) as test_client:
        yield test_client


def drain(runtime: Runtime) -> None:
    for _ in range(20):
        busy = runtime.event_worker.run_once() + runtime.outbox_worker.run_once()
        if not busy:
            return
    raise AssertionError("workers still busy after 20 rounds")


def order_updates(runtime: Runtime) -> list[MessageRecord]:
    return [m for m in runtime.store.messages() if m.kind == "order_update"]


def post(client: TestClient, body: bytes, headers: dict[str, str]) -> int:
    response = client.post("/webhooks/shopify", content=body, headers=headers)
    return response.status_code


def order_1001(tags: str = "") -> bytes:
    order = {
        "id": 1001,
        "name": "#1001",
        "updated_at": "2026-11-17T09:41:58-05:00",
        "tags": tags,
        "customer": {"id": 7001, "first_name": "Ana", "phone": "+14155550127"},
        "fulfillments": [
            {
                "id": 9001,
                "status": "success",
                "tracking_company": "USPS",
                "tracking_url": "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400100000000000000001",
            }
        ],
    }
    return compact(order)


def test_redelivered_update_sends_one_message(
    client: TestClient, runtime: Runtime
) -> None:
    body = order_1001()
    headers = signed_headers(body, "orders/updated", "dup-1")
    statuses = [post(client, body, headers) for _ in range(3)]
    tag_edit = order_1001(tags="vip")
    statuses.append(
        post(client, tag_edit, signed_headers(tag_edit, "orders/updated", "dup-2"))
    )

    drain(runtime)

    assert statuses == [200, 200, 200, 200]
    [message] = order_updates(runtime)
    assert message.address == "+14155550127"
    assert message.body == (
        "Hi Ana, your order #1001 has been shipped. Track it: "
        "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400100000000000000001"
    )
    assert message.status == "sent"


def test_fixtures_send_confirmation_then_shipment(
    client: TestClient, runtime: Runtime
) -> None:
    for name in ("orders_create", "fulfillments_create", "orders_fulfilled"):
        body, headers = load_fixture(name)
        assert post(client, body, headers) == 200

    drain(runtime)

    bodies = [message.body for message in order_updates(runtime)]
    assert bodies == [
        "Hi Avery, thanks for your order #1042 (116.63 USD).",
        "Hi Avery, your order #1042 has been shipped. Track it: "
        "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1Z999AA10123456784",
    ]
    addresses = {message.address for message in order_updates(runtime)}
    assert addresses == {"+14155550123"}


def test_cancelled_fixture_message(client: TestClient, runtime: Runtime) -> None:
    body, headers = load_fixture("orders_cancelled")

    assert post(client, body, headers) == 200
    drain(runtime)

    [message] = order_updates(runtime)
    assert (
        message.body == "Hi Jordan, your order #1043 was cancelled (Customer request)."
    )


def test_reencoded_body_rejected_over_http(
    client: TestClient, runtime: Runtime
) -> None:
    body, headers = load_fixture("orders_create")
    reencoded = json.dumps(json.loads(body)).encode()

    response = client.post("/webhooks/shopify", content=reencoded, headers=headers)
    drain(runtime)

    assert response.status_code == 401
    assert "X-Shopify-Hmac-Sha256" in response.json()["error"]
    assert SECRET not in response.text
    assert runtime.store.counts()["webhook_deliveries"] == 0
    assert order_updates(runtime) == []


def test_unknown_topic_rejected_over_http(client: TestClient, runtime: Runtime) -> None:
    body = order_1001()

    response = client.post(
        "/webhooks/shopify",
        content=body,
        headers=signed_headers(body, "customers/create", "t-1"),
    )

    assert response.status_code == 400
    assert "customers/create" in response.json()["error"]
    assert runtime.store.counts()["webhook_deliveries"] == 0


def _nothing_stored(runtime: Runtime) -> bool:
    counts = runtime.store.counts()
    return counts["webhook_deliveries"] == 0 and counts["events"] == 0


def test_invalid_json_rejected_over_http(client: TestClient, runtime: Runtime) -> None:
    body = b'{"id": 1001, "name": "#1001",'
    response = client.post(
        "/webhooks/shopify",
        content=body,
        headers=signed_headers(body, "orders/create", "t-2"),
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]
    assert _nothing_stored(runtime)


def test_missing_webhook_id_rejected_over_http(
    client: TestClient, runtime: Runtime
) -> None:
    body = order_1001()
    headers = signed_headers(body, "orders/create", "t-3")
    del headers["X-Shopify-Webhook-Id"]
    response = client.post("/webhooks/shopify", content=body, headers=headers)
    assert response.status_code == 400
    assert "X-Shopify-Webhook-Id" in response.json()["error"]
    assert _nothing_stored(runtime)


def test_oversized_body_rejected_over_http(
    client: TestClient, runtime: Runtime
) -> None:
    order = json.loads(order_1001())
    order["note"] = "x" * 1_100_000
    body = compact(order)
    response = client.post(
        "/webhooks/shopify",
        content=body,
        headers=signed_headers(body, "orders/create", "t-4"),
    )
    assert response.status_code == 413
    assert "larger than" in response.json()["error"]
    assert _nothing_stored(runtime)


def test_rejection_logs_no_personal_data(
    client: TestClient, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    body = order_1001()
    headers = signed_headers(body, "orders/create", "t-5")
    headers["X-Shopify-Hmac-Sha256"] = "bm90IHRoZSByaWdodCBzaWduYXR1cmU="
    client.post("/webhooks/shopify", content=body, headers=headers)
    client.post(
        "/webhooks/shopify",
        content=body,
        headers=signed_headers(body, "customers/create", "t-6"),
    )
    assert "rejected with 401" in caplog.text
    assert "rejected with 400" in caplog.text
    assert "4155550127" not in caplog.text
    assert "Ana" not in caplog.text
    assert SECRET not in caplog.text


def test_tampered_fulfillment_changes_nothing(
    client: TestClient, runtime: Runtime
) -> None:
    order, order_headers = load_fixture("orders_create")
    assert post(client, order, order_headers) == 200
    drain(runtime)
    before = runtime.store.counts()
    messages_before = runtime.store.messages()

    body, headers = load_fixture("fulfillments_create")
    tampered = bytearray(body)
    tampered[body.index(b"1Z999")] = ord("2")
    assert post(client, bytes(tampered), headers) == 401
    drain(runtime)
    assert runtime.store.counts() == before
    assert runtime.store.messages() == messages_before

    assert post(client, body, headers) == 200
    assert post(client, body, headers) == 200
    drain(runtime)
    shipped = [m for m in order_updates(runtime) if "shipped" in m.body]
    assert len(shipped) == 1
    assert "trackNums=1Z999AA10123456784" in shipped[0].body


def test_late_confirmation_does_not_move_back(
    client: TestClient, runtime: Runtime
) -> None:
    for name in ("orders_fulfilled", "orders_create"):
        body, headers = load_fixture(name)
        assert post(client, body, headers) == 200
    drain(runtime)

    bodies = [message.body for message in order_updates(runtime)]
    assert len(bodies) == 1
    assert "has been shipped" in bodies[0]
    outcomes = [outcome for _key, _status, outcome in runtime.store.event_outcomes()]
    assert "skipped: older than the order's latest processed status" in outcomes
