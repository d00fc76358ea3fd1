"""The API client: a recorded exchange, and how it retries and fails.

The first test replays ``tests/cassettes/{% if cookiecutter.kind == "crm" %}contacts{% elif cookiecutter.kind == "store" %}orders{% else %}messages{% endif %}.yaml``. The others
get responses from an ``httpx.MockTransport`` and record the waits instead
of sleeping.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from parley import {% if cookiecutter.kind == "crm" %}AddressKind, ChannelAddress, FatalSyncError, RetriableSyncError{% elif cookiecutter.kind == "store" %}FatalSyncError, RetriableSyncError{% else %}DeliveryError{% endif %}

from {{ cookiecutter.__package }}.client import {{ cookiecutter.__class_prefix }}Client
from {{ cookiecutter.__package }}.settings import {{ cookiecutter.__class_prefix }}Settings
{%- if cookiecutter.kind == "crm" %}

PHONE = ChannelAddress(AddressKind.PHONE, "+14155550123")
SUCCESS = {"results": []}
{%- elif cookiecutter.kind == "store" %}

SUCCESS = {"id": "5001", "number": "#1042", "status": "paid"}
{%- else %}

SUCCESS = {"id": "MSG-1", "status": "queued"}
{%- endif %}


def call(client: {{ cookiecutter.__class_prefix }}Client) -> Any:
    """Make the request whose retries the tests below check."""
{%- if cookiecutter.kind == "crm" %}
    return client.find_contact(PHONE)
{%- elif cookiecutter.kind == "store" %}
    return client.get_order("5001")
{%- else %}
    return client.send_message(
        sender="+14155550100", to="+14155550123", text="Hi", idempotency_key="k-1"
    )
{%- endif %}


class Replies:
    """Return the given responses in turn and record each request."""

    def __init__(self, *responses: httpx.Response) -> None:
        self._responses: Iterator[httpx.Response] = iter(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return next(self._responses)


@pytest.fixture
def make_client(
    settings_section: dict[str, object],
) -> Iterator[Callable[..., tuple[{{ cookiecutter.__class_prefix }}Client, list[float]]]]:
    """Build clients on a mock transport; each records its waits in a list."""
    clients: list[{{ cookiecutter.__class_prefix }}Client] = []

    def build(replies: Replies) -> tuple[{{ cookiecutter.__class_prefix }}Client, list[float]]:
        waits: list[float] = []
        client = {{ cookiecutter.__class_prefix }}Client(
            str(settings_section["base_url"]),
            str(settings_section["api_key"]),
            max_attempts=3,
            transport=httpx.MockTransport(replies),
            sleep=waits.append,
        )
        clients.append(client)
        return client, waits

    yield build
    for client in clients:
        client.close()
{%- if cookiecutter.kind == "crm" %}


def test_find_contact_recorded(
    recorded_api: None, settings_section: dict[str, object]
) -> None:
    settings = {{ cookiecutter.__class_prefix }}Settings.model_validate(settings_section)
    with {{ cookiecutter.__class_prefix }}Client.from_settings(settings) as client:
        found = client.find_contact(PHONE)
        missing = client.find_contact(ChannelAddress(AddressKind.PHONE, "+14155550199"))

    assert found is not None
    assert found["id"] == "c-1001"
    assert found["properties"]["loyalty_tier"] == "Gold"
    assert missing is None
{%- elif cookiecutter.kind == "store" %}


def test_get_order_recorded(
    recorded_api: None, settings_section: dict[str, object]
) -> None:
    settings = {{ cookiecutter.__class_prefix }}Settings.model_validate(settings_section)
    with {{ cookiecutter.__class_prefix }}Client.from_settings(settings) as client:
        order = client.get_order("5001")

    assert order["number"] == "#1042"
    assert order["status"] == "shipped"
    assert order["shipment"]["carrier"] == "UPS"
{%- else %}


def test_send_message_recorded(
    recorded_api: None, settings_section: dict[str, object]
) -> None:
    settings = {{ cookiecutter.__class_prefix }}Settings.model_validate(settings_section)
    with {{ cookiecutter.__class_prefix }}Client.from_settings(settings) as client:
        response = client.send_message(
            sender="+14155550100",
            to="+14155550123",
            text="Your order #1042 has shipped.",
            idempotency_key="m-1",
        )

    assert response == {"id": "MSG-7f3a01", "status": "queued"}
{%- endif %}


def test_retry_after_seconds_honoured(make_client: Callable[..., Any]) -> None:
    replies = Replies(
        httpx.Response(429, headers={"Retry-After": "3"}),
        httpx.Response(200, json=SUCCESS),
    )
    client, waits = make_client(replies)

    call(client)

    assert waits == [3.0]
    assert len(replies.requests) == 2


def test_server_errors_retried_then_raised(make_client: Callable[..., Any]) -> None:
    replies = Replies(*(httpx.Response(503) for _ in range(3)))
    client, waits = make_client(replies)

{%- if cookiecutter.kind == "channel" %}
    with pytest.raises(DeliveryError) as caught:
        call(client)

    assert caught.value.permanent is False
    assert caught.value.code == "503"
{%- else %}
    with pytest.raises(RetriableSyncError) as caught:
        call(client)

{%- endif %}
    assert "after 3 attempt(s)" in str(caught.value)
    assert len(replies.requests) == 3
    assert len(waits) == 2


def test_long_retry_after_raised_at_once(make_client: Callable[..., Any]) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    header = email.utils.format_datetime(later, usegmt=True)
    replies = Replies(httpx.Response(429, headers={"Retry-After": header}))
    client, waits = make_client(replies)

    with pytest.raises({% if cookiecutter.kind == "channel" %}DeliveryError{% else %}RetriableSyncError{% endif %}) as caught:
        call(client)

    assert caught.value.retry_after is not None
    assert 3500 < caught.value.retry_after <= 3600
    assert waits == []
    assert len(replies.requests) == 1


def test_client_error_not_retried(make_client: Callable[..., Any]) -> None:
    replies = Replies(httpx.Response(401))
    client, waits = make_client(replies)

{%- if cookiecutter.kind == "channel" %}
    with pytest.raises(DeliveryError) as caught:
        call(client)

    assert caught.value.permanent is True
{%- else %}
    with pytest.raises(FatalSyncError) as caught:
        call(client)

{%- endif %}
    assert "check the api_key setting" in str(caught.value)
    assert len(replies.requests) == 1
    assert waits == []


def test_timeouts_retried(make_client: Callable[..., Any]) -> None:
    attempts: list[httpx.Request] = []

    def time_out_once(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) == 1:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200, json=SUCCESS)

    client, waits = make_client(time_out_once)

    call(client)

    assert len(attempts) == 2
    assert len(waits) == 1
