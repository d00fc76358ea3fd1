"""Fixtures: the plugin's test settings and the recorded {{ cookiecutter.__title }} API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import vcr

BASE_URL = "https://api.{{ cookiecutter.plugin_name }}.example"
{%- if cookiecutter.kind == "crm" %}
CASSETTE = "contacts.yaml"
{%- elif cookiecutter.kind == "store" %}
CASSETTE = "orders.yaml"
{%- else %}
CASSETTE = "messages.yaml"
{%- endif %}

SETTINGS = {
    "api_key": "test-api-key-0d9e",
    "base_url": BASE_URL,
{%- if cookiecutter.kind in ["store", "channel"] %}
    "webhook_secret": "test-webhook-secret-7c41",
{%- endif %}
{%- if cookiecutter.kind == "store" %}
    "store_id": "shop.{{ cookiecutter.plugin_name }}.example",
{%- elif cookiecutter.kind == "channel" %}
    "from_number": "+14155550100",
{%- endif %}
}

# record_mode="none" fails any request the cassette lacks, so no test reaches
# the network. filter_headers keeps the API key out of cassettes recorded
# with another mode.
recorder = vcr.VCR(
    cassette_library_dir=str(Path(__file__).parent / "cassettes"),
    record_mode="none",
    match_on=("method", "scheme", "host", "port", "path", "query"),
    filter_headers=["authorization"],
)


@pytest.fixture
def settings_section() -> dict[str, object]:
    """The ``[{{ cookiecutter.__plugin_id }}]`` section the tests run with."""
    return dict(SETTINGS)


@pytest.fixture
def recorded_api() -> Iterator[None]:
    """Replay the {{ cookiecutter.__title }} API from the cassette for the whole test."""
    # Repeats are allowed because the contract suite requests the same
    # record in several steps of one test.
    with recorder.use_cassette(CASSETTE, allow_playback_repeats=True):
        yield
