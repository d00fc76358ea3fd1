"""parley's contract suite, turned on for each kind of hook this plugin implements.

Each class runs the contract's tests against the plugin. The fixtures below
give the contract what only this plugin has: its settings{% if cookiecutter.kind != "other" %}, the recorded
API{% endif %}{% if cookiecutter.kind in ["store", "channel"] %} and signed webhook requests{% endif %}.
"""

from __future__ import annotations
{%- if cookiecutter.kind == "crm" %}

from collections.abc import Sequence

import pytest
from parley import AddressKind, ChannelAddress
from parley.testing import (
    ContactLookupContract,
    FieldSample,
    FieldsContract,
    SettingsContract,
    make_contact,
)

import {{ cookiecutter.__package }}

KNOWN = ChannelAddress(AddressKind.PHONE, "+14155550123")
UNKNOWN = (
    ChannelAddress(AddressKind.PHONE, "+14155550199"),
    ChannelAddress(AddressKind.EMAIL, "nobody@example.com"),
)


class TestSettings(SettingsContract):
    plugin = {{ cookiecutter.__package }}

    @pytest.fixture
    def plugin_settings(self, settings_section: dict[str, object]) -> dict[str, object]:
        return settings_section


class TestContactLookup(ContactLookupContract):
    plugin = {{ cookiecutter.__package }}

    @pytest.fixture
    def plugin_settings(self, settings_section: dict[str, object]) -> dict[str, object]:
        return settings_section

    @pytest.fixture
    def provider_http(self, recorded_api: None) -> None:
        return recorded_api

    @pytest.fixture
    def known_address(self) -> ChannelAddress:
        return KNOWN

    @pytest.fixture
    def unknown_addresses(self) -> Sequence[ChannelAddress]:
        return UNKNOWN


class TestFields(FieldsContract):
    plugin = {{ cookiecutter.__package }}

    @pytest.fixture
    def plugin_settings(self, settings_section: dict[str, object]) -> dict[str, object]:
        return settings_section

    @pytest.fixture
    def provider_http(self, recorded_api: None) -> None:
        return recorded_api

    @pytest.fixture
    def field_samples(self) -> Sequence[FieldSample]:
        return [
            FieldSample(make_contact(phone=KNOWN.value)),
            FieldSample(make_contact(phone=UNKNOWN[0].value)),
        ]
{%- elif cookiecutter.kind == "store" %}

import hashlib
import hmac
import json
from collections.abc import Sequence

import pytest
from parley import Headers, WebhookRequest
from parley.testing import (
    FieldSample,
    FieldsContract,
    RequestFactory,
    SettingsContract,
    WebhookContract,
    make_contact,
)

import {{ cookiecutter.__package }}
from {{ cookiecutter.__package }}.client import {{ cookiecutter.__class_prefix }}Client
from {{ cookiecutter.__package }}.const import DELIVERY_ID_HEADER, SIGNATURE_HEADER
from {{ cookiecutter.__package }}.mapping import order_events
from {{ cookiecutter.__package }}.settings import {{ cookiecutter.__class_prefix }}Settings


def sign(body: bytes, secret: str) -> str:
    """Sign a body as the store does, independently of the plugin's code."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class TestSettings(SettingsContract):
    plugin = {{ cookiecutter.__package }}

    @pytest.fixture
    def plugin_settings(self, settings_section: dict[str, object]) -> dict[str, object]:
        return settings_section


class TestWebhook(WebhookContract):
    plugin = {{ cookiecutter.__package }}

    @pytest.fixture
    def plugin_settings(self, settings_section: dict[str, object]) -> dict[str, object]:
        return settings_section

    @pytest.fixture
    def provider_http(self, recorded_api: None) -> None:
        return recorded_api

    @pytest.fixture
    def webhook_body(self) -> bytes:
        return json.dumps({"event": "order.shipped", "order_id": "5001"}).encode()

    @pytest.fixture
    def make_webhook_request(
        self, settings_section: dict[str, object]
    ) -> RequestFactory:
        secret = str(settings_section["webhook_secret"])

        def build(body: bytes, *, signed: bool = True) -> WebhookRequest:
            headers = {"Content-Type": "application/json", DELIVERY_ID_HEADER: "d-1"}
            if signed:
                headers[SIGNATURE_HEADER] = sign(body, secret)
            return WebhookRequest(
                method="POST",
                url="http://127.0.0.1:8080/webhooks/{{ cookiecutter.__plugin_id }}",
                path="",
                headers=Headers(headers),
                body=body,
            )

        return build


class TestFields(FieldsContract):
    plugin = {{ cookiecutter.__package }}

    @pytest.fixture
    def plugin_settings(self, settings_section: dict[str, object]) -> dict[str, object]:
        return settings_section

    @pytest.fixture
    def provider_http(self, recorded_api: None) -> None:
        return recorded_api

    @pytest.fixture
    def field_samples(
        self, settings_section: dict[str, object], recorded_api: None
    ) -> Sequence[FieldSample]:
        settings = {{ cookiecutter.__class_prefix }}Settings.model_validate(settings_section)
        with {{ cookiecutter.__class_prefix }}Client.from_settings(settings) as client:
            order = client.get_order("5001")
        events = order_events(order, settings.store_id)
        contact = make_contact(first_name="Avery")
        return [FieldSample(contact, event) for event in events]
{%- elif cookiecutter.kind == "channel" %}

import hashlib
import hmac
import json

import pytest
from parley import Headers, WebhookRequest
from parley.testing import ChannelContract, RequestFactory, SettingsContract

import {{ cookiecutter.__package }}
from {{ cookiecutter.__package }}.const import SIGNATURE_HEADER


def sign(body: bytes, secret: str) -> str:
    """Sign a body as the provider does, independently of the plugin's code."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class TestSettings(SettingsContract):
    plugin = {{ cookiecutter.__package }}

    @pytest.fixture
    def plugin_settings(self, settings_section: dict[str, object]) -> dict[str, object]:
        return settings_section


class TestChannel(ChannelContract):
    plugin = {{ cookiecutter.__package }}

    @pytest.fixture
    def plugin_settings(self, settings_section: dict[str, object]) -> dict[str, object]:
        return settings_section

    @pytest.fixture
    def provider_http(self, recorded_api: None) -> None:
        return recorded_api

    @pytest.fixture
    def expected_provider_message_id(self) -> str:
        return "MSG-7f3a01"

    @pytest.fixture
    def webhook_body(self) -> bytes:
        message = {
            "type": "message",
            "id": "IN-2c9e",
            "from": "+14155550123",
            "to": "+14155550100",
            "text": "Where is order #1042?",
            "timestamp": "2026-11-17T15:02:11+00:00",
        }
        return json.dumps(message).encode()

    @pytest.fixture
    def make_webhook_request(
        self, settings_section: dict[str, object]
    ) -> RequestFactory:
        secret = str(settings_section["webhook_secret"])

        def build(body: bytes, *, signed: bool = True) -> WebhookRequest:
            headers = {"Content-Type": "application/json"}
            if signed:
                headers[SIGNATURE_HEADER] = sign(body, secret)
            return WebhookRequest(
                method="POST",
                url="http://127.0.0.1:8080/webhooks/{{ cookiecutter.__plugin_id }}",
                path="",
                headers=Headers(headers),
                body=body,
            )

        return build
{%- else %}

from parley.testing import SettingsContract

import {{ cookiecutter.__package }}


class TestSettings(SettingsContract):
    plugin = {{ cookiecutter.__package }}
{%- endif %}
