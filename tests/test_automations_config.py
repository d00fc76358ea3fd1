"""Validation of ``[[automations]]``: each problem names the automation, key and value."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from parley.automation_config import AutomationType, parse_delay
from parley.config import load_config
from parley.errors import ConfigError

# The base configuration ends with its [templates] table, so a template
# line at the start of the extra text joins that table.
VALID = """
faq_answer = "Track your order at {{Order Status URL | our site}}."

[[automations]]
name = "order status faq"
type = "faq"
trigger = { kind = "keyword", keywords = ["order status", "where is my order"] }
actions = [{ kind = "send_template", template = "faq_answer" }]
"""


def problems(write_config: Callable[..., Path], extra: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(extra), environ={})
    return str(caught.value)


def automation(body: str, name: str = "vip routing") -> str:
    return f'\n[[automations]]\nname = "{name}"\n{body}\n'


def test_valid_automation_loads(write_config: Callable[..., Path]) -> None:
    loaded = load_config(write_config(VALID), environ={})

    [item] = loaded.settings.automations
    assert item.name == "order status faq"
    assert item.type is AutomationType.FAQ
    assert item.trigger.match == "contains"
    assert item.delay_time == timedelta(0)
    assert item.enabled


def test_unknown_trigger_kind(write_config: Callable[..., Path]) -> None:
    text = problems(
        write_config,
        automation(
            'type = "routing"\ntrigger = { kind = "keywords" }\n'
            'actions = [{ kind = "close" }]'
        ),
    )

    assert "automation 'vip routing' (entry 1)" in text
    assert "trigger.kind" in text
    assert "unknown trigger kind 'keywords'" in text
    assert "first_message" in text


def test_keyword_trigger_needs_keywords(write_config: Callable[..., Path]) -> None:
    text = problems(
        write_config,
        automation(
            'type = "faq"\ntrigger = { kind = "keyword" }\nactions = [{ kind = "close" }]'
        ),
    )

    assert "a keyword trigger needs keywords" in text


def test_invalid_delay_named(write_config: Callable[..., Path]) -> None:
    text = problems(
        write_config,
        automation(
            'type = "follow_up"\ntrigger = { kind = "close_chat" }\ndelay = "5 min"\n'
            'actions = [{ kind = "close" }]'
        ),
    )

    assert "automation 'vip routing' (entry 1): delay" in text
    assert "'5 min'" in text
    assert "30s, 10m, 2h or 1d" in text


def test_duplicate_names(write_config: Callable[..., Path]) -> None:
    body = 'type = "routing"\ntrigger = { kind = "close_chat" }\nactions = [{ kind = "close" }]'
    text = problems(write_config, automation(body) + automation(body))

    assert "automation 'vip routing': name is used twice" in text


def test_missing_template_named(write_config: Callable[..., Path]) -> None:
    text = problems(
        write_config,
        automation(
            'type = "faq"\ntrigger = { kind = "message" }\n'
            'actions = [{ kind = "send_template", template = "nope" }]'
        ),
    )

    assert "actions.0.template: template 'nope' is not defined in [templates]" in text


def test_action_option_mismatch(write_config: Callable[..., Path]) -> None:
    text = problems(
        write_config,
        automation(
            'type = "routing"\ntrigger = { kind = "message" }\n'
            'actions = [{ kind = "add_to_list", text = "VIP" }]'
        ),
    )

    assert "a add_to_list action needs list" in text


def test_unknown_action_kind(write_config: Callable[..., Path]) -> None:
    text = problems(
        write_config,
        automation(
            'type = "routing"\ntrigger = { kind = "message" }\n'
            'actions = [{ kind = "tag" }]'
        ),
    )

    assert "unknown action kind 'tag'" in text


def test_keywords_on_close_chat_rejected(write_config: Callable[..., Path]) -> None:
    text = problems(
        write_config,
        automation(
            'type = "follow_up"\ntrigger = { kind = "close_chat", keywords = ["hi"] }\n'
            'actions = [{ kind = "close" }]'
        ),
    )

    assert "keywords apply to customer messages only" in text


def test_webhook_needs_secret(write_config: Callable[..., Path]) -> None:
    text = problems(
        write_config,
        automation(
            'type = "routing"\ntrigger = { kind = "message" }\n'
            'actions = [{ kind = "webhook", url = "https://example.org/hook" }]'
        ),
    )

    assert "needs secret or secret_env" in text


def test_webhook_secret_not_shown(write_config: Callable[..., Path]) -> None:
    text = problems(
        write_config,
        automation(
            'type = "routing"\ntrigger = { kind = "message" }\n'
            'actions = [{ kind = "webhook", url = "ftp://example.org", '
            'secret = "s3cr3t-value" }]'
        ),
    )

    assert "must start with http:// or https://" in text
    assert "s3cr3t-value" not in text


def test_calendar_condition_needs_hours(write_config: Callable[..., Path]) -> None:
    text = problems(
        write_config,
        automation(
            'type = "auto_reply"\ntrigger = { kind = "calendar", calendar = ["closed"] }\n'
            'actions = [{ kind = "close" }]'
        ),
    )

    assert "trigger.calendar: [calendar] has no opening hours" in text


def test_unknown_intent_listed(write_config: Callable[..., Path]) -> None:
    text = problems(
        write_config,
        automation(
            'type = "routing"\ntrigger = { kind = "intent", intents = ["angry"] }\n'
            'actions = [{ kind = "close" }]'
        ),
    )

    assert "trigger.intents.0" in text
    assert "'angry'" in text


def test_plugin_kinds_pass_validation(write_config: Callable[..., Path]) -> None:
    extra = automation(
        'type = "routing"\ntrigger = { kind = "shopify.cart_abandoned" }\n'
        'actions = [{ kind = "hubspot.create_task", options = { title = "Call" } }]'
    )

    loaded = load_config(write_config(extra), environ={})

    [item] = loaded.settings.automations
    assert item.actions[0].options == {"title": "Call"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", timedelta(0)),
        ("30s", timedelta(seconds=30)),
        ("10m", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
    ],
)
def test_parse_delay(text: str, expected: timedelta) -> None:
    assert parse_delay(text) == expected


@pytest.mark.parametrize("text", ["", "10", "1w", "-5m", "2.5h", "91d"])
def test_parse_delay_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="delay"):
        parse_delay(text)
