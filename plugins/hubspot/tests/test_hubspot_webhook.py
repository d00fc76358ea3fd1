"""HubSpot contact webhooks: v3 signatures, timestamps, and re-reading changed contacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hubspot_support import (
    CLIENT_SECRET,
    FIXTURE_TIMESTAMP,
    WEBHOOK_URL,
    base_settings,
    fixture_delivery,
    hubspot_instance,
    hubspot_vcr,
    sign_v3,
    webhook_request,
)

from parley import (
    AddressKind,
    ChannelAddress,
    ContactRecord,
    PluginContext,
    SignatureError,
    WebhookRejected,
    WebhookRoute,
)
from parley_hubspot.signature import url_variants

# The fixture's X-HubSpot-Request-Timestamp is 2026-11-17T14:05:42.117Z.
DELIVERED_AT = "2026-11-17T14:05:43+00:00"
SETTINGS = base_settings(client_secret=CLIENT_SECRET, webhook_url=WEBHOOK_URL)


def route(context: PluginContext) -> WebhookRoute:
    routes: list[WebhookRoute] = []
    context.plugin_manager.hook.register_webhooks(
        register=routes.append, context=context
    )
    assert len(routes) == 1
    return routes[0]


def test_signed_batch_stores_contacts(tmp_path: Path) -> None:
    body, headers = fixture_delivery()
    with hubspot_instance(tmp_path, SETTINGS, now=DELIVERED_AT) as instance:
        handler = route(instance.context).handler
        with hubspot_vcr().use_cassette("webhook_batch_read.yaml") as cassette:
            response = handler(webhook_request(body, headers))
        avery = instance.context.find_contact(
            ChannelAddress(AddressKind.PHONE, "+14155550123")
        )
        jordan = instance.context.find_contact(
            ChannelAddress(AddressKind.EMAIL, "jordan.ellery@example.com")
        )

    assert cassette.all_played
    assert cassette.play_count == 2
    assert response.status == 200
    assert response.body == {"status": "accepted", "contacts": 2}
    assert avery is not None
    assert avery.fields["Loyalty Program"] == "Platinum tier"
    assert jordan is not None
    assert jordan.phone == "+14155550147"


def test_route_served_at_plugin_root(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path, SETTINGS, now=DELIVERED_AT) as instance:
        served = route(instance.context)

    assert served.full_path == "/webhooks/hubspot"
    assert served.methods == ("POST",)


def test_no_route_without_client_secret(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path, base_settings(), now=DELIVERED_AT) as instance:
        routes: list[WebhookRoute] = []
        instance.context.plugin_manager.hook.register_webhooks(
            register=routes.append, context=instance.context
        )

    assert routes == []


@pytest.mark.parametrize(
    "change",
    ["wrong-secret", "tampered-body", "reserialized-body", "missing-signature", "hex"],
)
def test_bad_signature_rejected(tmp_path: Path, change: str) -> None:
    body, headers = fixture_delivery()
    if change == "wrong-secret":
        headers["X-HubSpot-Signature-v3"] = sign_v3(
            body, FIXTURE_TIMESTAMP, secret="not-the-client-secret"
        )
    elif change == "tampered-body":
        body = body.replace(b"Platinum", b"Diamond!")
    elif change == "reserialized-body":
        body = json.dumps(json.loads(body), indent=1).encode()
    elif change == "missing-signature":
        del headers["X-HubSpot-Signature-v3"]
    else:
        headers["X-HubSpot-Signature-v3"] = headers["X-HubSpot-Signature"]

    with hubspot_instance(tmp_path, SETTINGS, now=DELIVERED_AT) as instance:
        handler = route(instance.context).handler
        with hubspot_vcr().use_cassette("webhook_batch_read.yaml") as cassette:
            with pytest.raises(SignatureError) as caught:
                handler(webhook_request(body, headers))

    assert caught.value.status == 401
    assert cassette.play_count == 0
    assert CLIENT_SECRET not in caught.value.reason


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        ("2026-11-17T14:10:43+00:00", "more than five minutes old"),
        ("2026-11-17T13:59:00+00:00", "in the future"),
    ],
)
def test_timestamp_window(tmp_path: Path, now: str, reason: str) -> None:
    body, headers = fixture_delivery()
    with hubspot_instance(tmp_path, SETTINGS, now=now) as instance:
        handler = route(instance.context).handler
        with pytest.raises(SignatureError) as caught:
            handler(webhook_request(body, headers))

    assert reason in caught.value.reason


def test_four_minutes_old_accepted(tmp_path: Path) -> None:
    body, headers = fixture_delivery()
    with hubspot_instance(tmp_path, SETTINGS, now="2026-11-17T14:09:42+00:00") as inst:
        handler = route(inst.context).handler
        with hubspot_vcr().use_cassette("webhook_batch_read.yaml"):
            response = handler(webhook_request(body, headers))

    assert response.status == 200


def test_public_url_used_when_no_webhook_url(tmp_path: Path) -> None:
    body = b'[{"eventId":1,"portalId":24681357,"subscriptionType":"contact.deletion","objectId":5}]'
    timestamp = "1794924342117"
    signed_url = "https://hooks.example.com/webhooks/hubspot"
    headers = {
        "X-HubSpot-Signature-v3": sign_v3(body, timestamp, url=signed_url),
        "X-HubSpot-Request-Timestamp": timestamp,
    }
    settings = base_settings(client_secret=CLIENT_SECRET)
    with hubspot_instance(tmp_path, settings, now=DELIVERED_AT) as instance:
        core = instance.context.settings.server.model_copy(
            update={"public_url": "https://hooks.example.com/"}
        )
        instance.context.settings = instance.context.settings.model_copy(
            update={"server": core}
        )
        handler = route(instance.context).handler
        response = handler(webhook_request(body, headers))

    assert response.status == 200
    assert response.body == {"status": "accepted", "contacts": 0}


def test_url_variants_with_default_port() -> None:
    assert url_variants("https://hooks.example.com:443/hubspot") == [
        "https://hooks.example.com:443/hubspot",
        "https://hooks.example.com/hubspot",
    ]
    assert "https://hooks.example.com:443/hubspot" in url_variants(
        "https://hooks.example.com/hubspot"
    )
    assert url_variants("https://hooks.example.com:8443/h?a=b%3Ac")[1] == (
        "https://hooks.example.com:8443/h?a=b:c"
    )


def test_body_not_array_rejected(tmp_path: Path) -> None:
    body = b'{"eventId": 1}'
    headers = {
        "X-HubSpot-Signature-v3": sign_v3(body, FIXTURE_TIMESTAMP),
        "X-HubSpot-Request-Timestamp": FIXTURE_TIMESTAMP,
    }
    with hubspot_instance(tmp_path, SETTINGS, now=DELIVERED_AT) as instance:
        handler = route(instance.context).handler
        with pytest.raises(WebhookRejected) as caught:
            handler(webhook_request(body, headers))

    assert caught.value.status == 400


def test_partial_batch_read_stores_found(tmp_path: Path) -> None:
    body, headers = fixture_delivery()
    with hubspot_instance(tmp_path, SETTINGS, now=DELIVERED_AT) as instance:
        handler = route(instance.context).handler
        with hubspot_vcr().use_cassette("webhook_batch_read_partial.yaml"):
            response = handler(webhook_request(body, headers))

    assert response.status == 200
    assert response.body == {"status": "accepted", "contacts": 1}


def test_failed_batch_read_asks_for_redelivery(tmp_path: Path) -> None:
    body, headers = fixture_delivery()
    settings = dict(SETTINGS, max_attempts=2)
    with hubspot_instance(tmp_path, settings, now=DELIVERED_AT) as instance:
        handler = route(instance.context).handler
        with hubspot_vcr().use_cassette("webhook_batch_read_503.yaml") as cassette:
            response = handler(webhook_request(body, headers))

    assert cassette.all_played
    assert response.status == 503


def test_other_portal_ignored(tmp_path: Path) -> None:
    body, headers = fixture_delivery()
    settings = dict(SETTINGS, portal_id=11111111)
    with hubspot_instance(tmp_path, settings, now=DELIVERED_AT) as instance:
        handler = route(instance.context).handler
        with hubspot_vcr().use_cassette("webhook_batch_read.yaml") as cassette:
            response = handler(webhook_request(body, headers))

    assert response.body == {"status": "accepted", "contacts": 0}
    assert cassette.play_count == 0


def test_deletion_removes_hubspot_values(tmp_path: Path) -> None:
    body = b'[{"eventId":1,"portalId":24681357,"subscriptionType":"contact.deletion","objectId":5}]'
    timestamp = "1794924342117"
    signed_url = "https://hooks.example.com/webhooks/hubspot"
    headers = {
        "X-HubSpot-Signature-v3": sign_v3(body, timestamp, url=signed_url),
        "X-HubSpot-Request-Timestamp": timestamp,
    }
    settings = base_settings(client_secret=CLIENT_SECRET, webhook_url=signed_url)
    with hubspot_instance(tmp_path, settings, now=DELIVERED_AT) as instance:
        stored = instance.context.sync_contact(
            ContactRecord(
                source="hubspot",
                external_id="5",
                first_name="Avery",
                phone="+14155550123",
                fields={"Loyalty Program": "Gold tier"},
            )
        )
        handler = route(instance.context).handler
        response = handler(webhook_request(body, headers))
        after = instance.context.find_contact(
            ChannelAddress(AddressKind.PHONE, "+14155550123")
        )

    assert response.status == 200
    assert after is not None
    assert after.id == stored.id
    assert after.first_name is None
    assert after.fields == {}
