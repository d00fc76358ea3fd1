"""The sandbox channel passes the plugin contract suite."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

import parley.sandbox
from parley import Headers, WebhookRequest
from parley.testing import ChannelContract, RequestFactory, SettingsContract

SECRET = "sandbox-contract-secret-5e1d"


def sign(body: bytes) -> str:
    """Compute the sandbox signature independently of the plugin's code."""
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


class TestSandboxSettings(SettingsContract):
    plugin = parley.sandbox

    @pytest.fixture
    def plugin_settings(self) -> dict[str, object]:
        return {"secret": SECRET}


class TestSandboxChannel(ChannelContract):
    plugin = parley.sandbox

    @pytest.fixture
    def plugin_settings(self) -> dict[str, object]:
        return {"secret": SECRET}

    @pytest.fixture
    def webhook_body(self) -> bytes:
        message = {
            "from": "+14155550123",
            "body": "Where is order #1042?",
            "id": "in-1",
        }
        return json.dumps(message).encode()

    @pytest.fixture
    def make_webhook_request(self) -> RequestFactory:
        def build(body: bytes, *, signed: bool = True) -> WebhookRequest:
            headers = {"Content-Type": "application/json"}
            if signed:
                headers[parley.sandbox.SIGNATURE_HEADER] = sign(body)
            return WebhookRequest(
                method="POST",
                url="http://127.0.0.1:8080/webhooks/sandbox",
                path="",
                headers=Headers(headers),
                body=body,
            )

        return build
