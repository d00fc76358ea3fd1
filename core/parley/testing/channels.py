"""The webhook and channel contracts: signatures, sends and provider ids."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import pytest

from parley.channels import Channel, InboundBatch
from parley.context import PluginContext
from parley.errors import SignatureError
from parley.models import (
    AddressKind,
    ChannelAddress,
    DeliveryStatus,
    OutboundMessage,
    Purpose,
    SendResult,
)
from parley.runtime import collect_channels, collect_routes
from parley.testing.support import (
    PluginContract,
    RequestFactory,
    _fail,
    _tamper_first_digit,
)
from parley.webhooks import WebhookRequest, WebhookResponse, WebhookRoute


class _SignedRequestFixtures:
    """Fixtures shared by the contracts that verify signed requests."""

    @pytest.fixture
    def webhook_body(self) -> bytes:
        """Return a body the provider sends, which the plugin accepts signed."""
        _fail(
            f"{type(self).__name__} needs a webhook_body fixture returning the "
            "bytes of a request the provider sends"
        )
        raise AssertionError("unreachable")

    @pytest.fixture
    def make_webhook_request(self) -> RequestFactory:
        """Return a factory of requests signed the way the provider signs them."""
        _fail(
            f"{type(self).__name__} needs a make_webhook_request fixture returning "
            "a function (body, *, signed=True) -> parley.WebhookRequest"
        )
        raise AssertionError("unreachable")

    @pytest.fixture
    def tamper_body(self) -> Callable[[bytes], bytes]:
        """Return the function that changes a body after signing."""
        return _tamper_first_digit

    def _check_rejected(
        self,
        handle: Callable[[WebhookRequest], object],
        request: WebhookRequest,
        what: str,
        secrets: Mapping[str, str],
    ) -> None:
        try:
            result = handle(request)
        except SignatureError as err:
            for path in secrets:
                assert secrets[path] not in err.reason, (
                    f"the rejection reason contains the value of setting {path!r}"
                )
            return
        _fail(f"the {what} request was accepted ({result!r}); expected SignatureError")


class WebhookContract(_SignedRequestFixtures, PluginContract):
    """Checks ``register_webhooks`` routes: only correctly signed requests pass.

    Fixtures a plugin overrides:
        webhook_body: the bytes of a delivery the route accepts (required).
        make_webhook_request: ``(body, *, signed=True) -> WebhookRequest``
            (required).
        webhook_path: the route's path below ``/webhooks/<plugin id>``;
            default ``""``.
        tamper_body: changes a body after signing; default changes its first
            digit.
    """

    @pytest.fixture
    def webhook_path(self) -> str:
        """Return the path of the route under test below the plugin's root."""
        return ""

    @pytest.fixture
    def webhook_route(
        self, parley_context: PluginContext, contract_plugin_id: str, webhook_path: str
    ) -> WebhookRoute:
        """Collect the routes as the daemon does; return the one under test."""
        routes = collect_routes(parley_context, {})
        for route in routes:
            assert route.plugin_id == contract_plugin_id, (
                f"route {route.full_path} names plugin {route.plugin_id!r}; expected "
                f"{contract_plugin_id!r}"
            )
        for route in routes:
            if route.path == webhook_path:
                return route
        _fail(
            f"no route with path {webhook_path!r}; registered: "
            f"{[route.full_path for route in routes]}"
        )
        raise AssertionError("unreachable")

    def test_webhook_signed_request_accepted(
        self,
        webhook_route: WebhookRoute,
        webhook_body: bytes,
        make_webhook_request: RequestFactory,
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A correctly signed delivery gets a 2xx response."""
        response = webhook_route.handler(make_webhook_request(webhook_body))

        assert isinstance(response, WebhookResponse), (
            f"the handler returned {response!r}; expected a parley.WebhookResponse"
        )
        assert 200 <= response.status < 300, (
            f"the signed request got status {response.status}: {response.body!r}"
        )
        self.check_logs(caplog, plugin_secrets)

    def test_webhook_unsigned_request_rejected(
        self,
        webhook_route: WebhookRoute,
        webhook_body: bytes,
        make_webhook_request: RequestFactory,
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A delivery without a signature raises SignatureError."""
        request = make_webhook_request(webhook_body, signed=False)

        self._check_rejected(webhook_route.handler, request, "unsigned", plugin_secrets)
        self.check_logs(caplog, plugin_secrets)

    def test_webhook_tampered_request_rejected(
        self,
        webhook_route: WebhookRoute,
        webhook_body: bytes,
        make_webhook_request: RequestFactory,
        tamper_body: Callable[[bytes], bytes],
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A delivery whose body changed after signing raises SignatureError."""
        signed = make_webhook_request(webhook_body)
        tampered = dataclasses.replace(signed, body=tamper_body(signed.body))
        assert tampered.body != signed.body, "tamper_body returned the body unchanged"

        self._check_rejected(
            webhook_route.handler, tampered, "tampered", plugin_secrets
        )
        self.check_logs(caplog, plugin_secrets)


class ChannelContract(_SignedRequestFixtures, PluginContract):
    """Checks ``register_channels`` and the channel's inbound and outbound side.

    Fixtures a plugin overrides:
        webhook_body: the bytes of an inbound message the provider sends
            (required).
        make_webhook_request: ``(body, *, signed=True) -> WebhookRequest``
            (required).
        provider_http: the HTTP fake that returns the provider's reply to
            the send request.
        channel_id: the channel under test; default: the only one registered.
        outbound_message: the message to send; default: an order update to
            +14155550123, for phone channels.
        expected_provider_message_id: the id the HTTP fake returns, or None
            (the default) to accept any non-empty id.
        tamper_body: changes a body after signing; default changes its first
            digit.
    """

    @pytest.fixture
    def channel_id(self) -> str | None:
        """Return the id of the channel under test, or None for the only one."""
        return None

    @pytest.fixture
    def channel(self, parley_context: PluginContext, channel_id: str | None) -> Channel:
        """Collect the channels as start-up does; return the one under test."""
        channels = collect_channels(parley_context)
        if channel_id is None and len(channels) == 1:
            return next(iter(channels.values()))
        if channel_id in channels:
            return channels[channel_id]
        _fail(
            f"channel {channel_id!r} is not registered; registered: "
            f"{sorted(channels)}; set the channel_id fixture"
        )
        raise AssertionError("unreachable")

    @pytest.fixture
    def outbound_message(self, channel: Channel) -> OutboundMessage:
        """Return an order update to a phone number, for phone channels."""
        if channel.address_kind is not AddressKind.PHONE:
            _fail(
                f"channel {channel.id!r} sends to {channel.address_kind.value} "
                "addresses; override outbound_message with such an address"
            )
        return OutboundMessage(
            id=1,
            idempotency_key="contract-message-1",
            channel=channel.id,
            to="+14155550123",
            body="Hi Avery, your order #1042 has shipped.",
            conversation_id=1,
            kind="order_update",
            purpose=Purpose.INFORMATIONAL,
        )

    @pytest.fixture
    def expected_provider_message_id(self) -> str | None:
        """Return the provider message id the HTTP fake returns, or None."""
        return None

    def test_channels_register_without_store(
        self,
        parley_context: PluginContext,
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Channels register without a store, as ``parley config check`` needs."""
        storeless = PluginContext(
            parley_context.settings, parley_context.plugin_manager
        )
        channels = collect_channels(storeless)

        assert channels, "register_channels registered no channel"
        for channel_id, channel in channels.items():
            assert isinstance(channel_id, str) and channel_id, (
                f"channel {channel!r} has no id"
            )
        self.check_logs(caplog, plugin_secrets)

    def test_channel_signed_request_accepted(
        self,
        channel: Channel,
        webhook_body: bytes,
        make_webhook_request: RequestFactory,
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A correctly signed request gives messages or statuses of this channel."""
        batch = channel.handle_webhook(make_webhook_request(webhook_body))

        assert isinstance(batch, InboundBatch), (
            f"handle_webhook returned {batch!r}; expected a parley.InboundBatch"
        )
        assert batch.messages or batch.statuses, (
            "the signed request gave no message and no status; webhook_body "
            "should carry an inbound message"
        )
        for message in batch.messages:
            assert message.channel == channel.id, (
                f"message.channel is {message.channel!r}; expected {channel.id!r}"
            )
            assert message.provider_message_id, "a message has no provider_message_id"
            assert isinstance(message.sender, ChannelAddress), (
                f"message.sender is {message.sender!r}; expected a ChannelAddress"
            )
        for status in batch.statuses:
            assert status.channel == channel.id, (
                f"status.channel is {status.channel!r}; expected {channel.id!r}"
            )
        self.check_logs(caplog, plugin_secrets)

    def test_channel_unsigned_request_rejected(
        self,
        channel: Channel,
        webhook_body: bytes,
        make_webhook_request: RequestFactory,
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A request without a signature raises SignatureError."""
        request = make_webhook_request(webhook_body, signed=False)

        self._check_rejected(
            channel.handle_webhook, request, "unsigned", plugin_secrets
        )
        self.check_logs(caplog, plugin_secrets)

    def test_channel_tampered_request_rejected(
        self,
        channel: Channel,
        webhook_body: bytes,
        make_webhook_request: RequestFactory,
        tamper_body: Callable[[bytes], bytes],
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A request whose body changed after signing raises SignatureError."""
        signed = make_webhook_request(webhook_body)
        tampered = dataclasses.replace(signed, body=tamper_body(signed.body))
        assert tampered.body != signed.body, "tamper_body returned the body unchanged"

        self._check_rejected(
            channel.handle_webhook, tampered, "tampered", plugin_secrets
        )
        self.check_logs(caplog, plugin_secrets)

    def test_channel_send_reports_provider_id(
        self,
        channel: Channel,
        outbound_message: OutboundMessage,
        expected_provider_message_id: str | None,
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """``send`` returns the provider's message id and a delivery status."""
        result = channel.send(outbound_message)

        assert isinstance(result, SendResult), (
            f"send returned {result!r}; expected a parley.SendResult"
        )
        assert isinstance(result.provider_message_id, str), (
            f"provider_message_id is {result.provider_message_id!r}; expected text"
        )
        assert result.provider_message_id.strip(), "provider_message_id is empty"
        assert isinstance(result.status, DeliveryStatus), (
            f"status is {result.status!r}; expected a parley.DeliveryStatus"
        )
        if expected_provider_message_id is not None:
            assert result.provider_message_id == expected_provider_message_id, (
                f"provider_message_id is {result.provider_message_id!r}; the "
                f"provider returned {expected_provider_message_id!r}"
            )
        self.check_logs(caplog, plugin_secrets)
