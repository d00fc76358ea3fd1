"""Settings of ``[[automations]]``: what each automation reacts to and does.

Each automation has a unique name, a type, a trigger with conditions, an
optional delay and one or more actions::

    [[automations]]
    name = "order status faq"
    type = "faq"
    trigger = { kind = "keyword", keywords = ["order status"], match = "contains" }
    actions = [{ kind = "send_template", template = "order_status_answer" }]

Trigger and action kinds that contain a dot (``shopify.cart_abandoned``)
belong to plugins, which register them through the
``register_automation_kinds`` hook. The plugins' registrations are not
known while the file is validated, so the daemon checks those kinds when it
starts. Every other kind is checked here.

This module must not import :mod:`parley.config`, which imports it.
"""

from __future__ import annotations

import enum
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from parley.intent import Intent
from parley.keywords import normalize_text
from parley.models import OrderStatus, Purpose


class AutomationType(enum.StrEnum):
    """The purpose of an automation; only ``auto_reply`` changes how it runs."""

    AUTO_REPLY = "auto_reply"
    FAQ = "faq"
    FEEDBACK_REQUEST = "feedback_request"
    ROUTING = "routing"
    FOLLOW_UP = "follow_up"


class TriggerKind(enum.StrEnum):
    """The built-in trigger kinds."""

    # Customer messages that are no opt-out, opt-in, confirmation or help keyword.
    FIRST_MESSAGE = "first_message"
    MESSAGE = "message"
    KEYWORD = "keyword"
    INTENT = "intent"
    CALENDAR = "calendar"
    CHANNEL = "channel"
    # Other events.
    CLOSE_CHAT = "close_chat"
    INCOMING_CALL = "incoming_call"
    # An incoming call that nobody at the business answered.
    MISSED_CALL = "missed_call"
    ORDER_STATUS = "order_status"


MESSAGE_TRIGGERS = frozenset(
    {
        TriggerKind.FIRST_MESSAGE,
        TriggerKind.MESSAGE,
        TriggerKind.KEYWORD,
        TriggerKind.INTENT,
        TriggerKind.CALENDAR,
        TriggerKind.CHANNEL,
    }
)


class ActionKind(enum.StrEnum):
    """The built-in action kinds."""

    SEND_MESSAGE = "send_message"
    SEND_TEMPLATE = "send_template"
    SEND_SURVEY = "send_survey"
    ADD_TO_LIST = "add_to_list"
    REMOVE_FROM_LIST = "remove_from_list"
    ASSIGN = "assign"
    CLOSE = "close"
    ADD_NOTE = "add_note"
    WEBHOOK = "webhook"


class CalendarState(enum.StrEnum):
    """The business-calendar state a trigger condition can require."""

    OPEN = "open"
    CLOSED = "closed"
    PEAK = "peak"
    HOLIDAY = "holiday"


# The largest delay accepted; a longer one is more likely a typo than a plan.
MAX_DELAY = timedelta(days=90)
_DELAY_PATTERN = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_DELAY_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

# Action options each built-in kind requires and accepts.
_ACTION_FIELDS: dict[ActionKind, tuple[frozenset[str], frozenset[str]]] = {
    ActionKind.SEND_MESSAGE: (frozenset({"text"}), frozenset({"purpose"})),
    ActionKind.SEND_TEMPLATE: (frozenset({"template"}), frozenset({"purpose"})),
    ActionKind.SEND_SURVEY: (frozenset(), frozenset()),
    ActionKind.ADD_TO_LIST: (frozenset({"list"}), frozenset()),
    ActionKind.REMOVE_FROM_LIST: (frozenset({"list"}), frozenset()),
    ActionKind.ASSIGN: (frozenset(), frozenset({"agent", "team"})),
    ActionKind.CLOSE: (frozenset(), frozenset()),
    ActionKind.ADD_NOTE: (frozenset({"text"}), frozenset()),
    ActionKind.WEBHOOK: (
        frozenset({"url"}),
        frozenset({"secret", "secret_env", "timeout_seconds"}),
    ),
}
_OPTION_NAMES = frozenset(
    {
        "text",
        "template",
        "purpose",
        "list",
        "agent",
        "team",
        "url",
        "secret",
        "secret_env",
        "timeout_seconds",
    }
)


def parse_delay(text: str) -> timedelta:
    """Parse a delay such as ``10m``, ``2h``, ``1d``, ``30s`` or ``0``.

    Raises:
        ValueError: the text is not a whole number with one of the units
            s, m, h, d, or exceeds :data:`MAX_DELAY`.
    """
    if text.strip() == "0":
        return timedelta(0)
    found = _DELAY_PATTERN.match(text)
    if found is None:
        raise ValueError(
            f"delay {text!r} is invalid; write a whole number and a unit: "
            "30s, 10m, 2h or 1d"
        )
    amount, unit = found.groups()
    delay = timedelta(**{_DELAY_UNITS[unit]: int(amount)})
    if delay > MAX_DELAY:
        raise ValueError(f"delay {text!r} is longer than the maximum of 90d")
    return delay


def is_plugin_kind(kind: str) -> bool:
    """Return True for a kind a plugin provides: ``<plugin id>.<name>``."""
    return "." in kind


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TriggerSettings(_Model):
    """An automation's trigger: the event kind and the conditions it must meet.

    Every condition that is set must hold; an empty one is not checked.
    """

    kind: str = Field(description="The event kind, such as keyword or close_chat.")
    keywords: list[str] = Field(
        default_factory=list,
        description="Words or phrases of the customer's message; any one matches.",
    )
    match: Literal["exact", "contains"] = Field(
        "contains",
        description="exact: the whole message is the keyword; contains: the "
        "keyword appears as whole words. Case and punctuation are ignored.",
    )
    channels: list[str] = Field(
        default_factory=list, description="Channel ids; empty is every channel."
    )
    calendar: list[CalendarState] = Field(
        default_factory=list,
        description="Business-calendar states at the time of the event: open, "
        "closed, peak, holiday; any one matches.",
    )
    intents: list[Intent] = Field(
        default_factory=list,
        description="Intents of the customer's message, such as order_status or "
        "refund; any one matches.",
    )
    order_statuses: list[OrderStatus] = Field(
        default_factory=list,
        description="Order statuses, for order_status triggers; empty is every status.",
    )

    @field_validator("kind")
    @classmethod
    def _check_kind(cls, value: str) -> str:
        if is_plugin_kind(value) or value in TriggerKind.__members__.values():
            return value
        allowed = ", ".join(kind.value for kind in TriggerKind)
        raise ValueError(
            f"unknown trigger kind {value!r}; use one of {allowed}, or a plugin's "
            "kind written as <plugin id>.<kind>"
        )

    @field_validator("keywords")
    @classmethod
    def _check_keywords(cls, value: list[str]) -> list[str]:
        for keyword in value:
            if not normalize_text(keyword):
                raise ValueError(
                    f"keyword {keyword!r} has no letters or digits, so it can never "
                    "match; remove it or write it as words"
                )
        return value

    @model_validator(mode="after")
    def _check_conditions(self) -> TriggerSettings:
        kind = self.kind
        required = {
            TriggerKind.KEYWORD: "keywords",
            TriggerKind.INTENT: "intents",
            TriggerKind.CALENDAR: "calendar",
            TriggerKind.CHANNEL: "channels",
        }
        needed = required.get(kind)  # type: ignore[call-overload]
        if needed and not getattr(self, needed):
            raise ValueError(f"a {kind} trigger needs {needed}; add at least one")
        if is_plugin_kind(kind):
            return self
        if kind not in MESSAGE_TRIGGERS:
            for name in ("keywords", "intents"):
                if getattr(self, name):
                    raise ValueError(
                        f"{name} apply to customer messages only, not to {kind} "
                        "triggers; remove them or use a keyword or intent trigger"
                    )
        if self.order_statuses and kind != TriggerKind.ORDER_STATUS:
            raise ValueError(
                f"order_statuses apply to order_status triggers only, not to {kind}"
            )
        return self


class ActionSettings(_Model):
    """One action of an automation; which options apply depends on ``kind``."""

    kind: str = Field(description="What to do, such as send_template or assign.")
    text: str | None = Field(None, description="Message text or note text.")
    template: str | None = Field(None, description="Template name in [templates].")
    purpose: Purpose | None = Field(
        None,
        description="Consent purpose of a sent message; default conversational "
        "for customer-message and close_chat triggers, informational otherwise.",
    )
    list: str | None = Field(None, description="Contact list name.")
    agent: str | None = Field(None, description="Agent token name to assign to.")
    team: str | None = Field(None, description="Team to assign to.")
    url: str | None = Field(None, description="Outbound webhook URL, http or https.")
    secret: SecretStr | None = Field(
        None, description="Shared secret that signs the webhook body."
    )
    secret_env: str | None = Field(
        None, description="Environment variable that contains the shared secret."
    )
    timeout_seconds: float | None = Field(
        None, gt=0, le=60, description="Webhook request timeout; default 10."
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Options of a plugin's action kind."
    )

    @model_validator(mode="after")
    def _check_options(self) -> ActionSettings:
        if is_plugin_kind(self.kind):
            return self
        if self.kind not in ActionKind.__members__.values():
            allowed = ", ".join(kind.value for kind in ActionKind)
            raise ValueError(
                f"unknown action kind {self.kind!r}; use one of {allowed}, or a "
                "plugin's kind written as <plugin id>.<kind>"
            )
        kind = ActionKind(self.kind)
        required, optional = _ACTION_FIELDS[kind]
        given = {name for name in _OPTION_NAMES if getattr(self, name) is not None}
        missing = sorted(required - given)
        if missing:
            raise ValueError(f"a {kind} action needs {', '.join(missing)}")
        extra = sorted(given - required - optional)
        if extra or self.options:
            names = ", ".join(extra + sorted(self.options))
            raise ValueError(f"{names} do not apply to a {kind} action; remove them")
        if kind is ActionKind.ASSIGN and self.agent is None and self.team is None:
            raise ValueError("an assign action needs agent, team or both")
        if kind is ActionKind.WEBHOOK:
            self._check_webhook()
        return self

    def _check_webhook(self) -> None:
        assert self.url is not None
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url {self.url!r} must start with http:// or https://")
        if self.secret is None and self.secret_env is None:
            raise ValueError(
                "a webhook action needs secret or secret_env (the environment "
                "variable that contains the shared secret) to sign its requests"
            )
        if self.secret is not None and self.secret_env is not None:
            raise ValueError("set either secret or secret_env, not both")


class AutomationSettings(_Model):
    """One ``[[automations]]`` entry."""

    name: str = Field(min_length=1, max_length=100, description="Unique name.")
    type: AutomationType = Field(description="auto_reply, faq, feedback_request, ...")
    trigger: TriggerSettings
    delay: str = Field(
        "0", description="Wait before the actions run: 30s, 10m, 2h, 1d; 0 is none."
    )
    actions: list[ActionSettings] = Field(min_length=1)
    enabled: bool = True

    @field_validator("delay")
    @classmethod
    def _check_delay(cls, value: str) -> str:
        parse_delay(value)
        return value

    @property
    def delay_time(self) -> timedelta:
        """The delay as a duration."""
        return parse_delay(self.delay)


def _validate_automations(
    value: Any, handler: Any, info: ValidationInfo
) -> list[AutomationSettings]:
    """Validate the list, naming the automation in front of each problem."""
    if not isinstance(value, list):
        raise PydanticCustomError(
            "automations_type",
            "expected an array of tables, written as [[automations]] entries",
        )
    problems: list[str] = []
    validated: list[AutomationSettings] = []
    for index, raw in enumerate(value):
        label = _label(index, raw)
        try:
            validated.append(AutomationSettings.model_validate(raw))
        except ValidationError as err:
            problems.extend(f"{label}: {_describe(error)}" for error in err.errors())
    problems.extend(_check_names(validated))
    problems.extend(_check_references(validated, info.data))
    if problems:
        # One line per problem, indented like the other configuration errors.
        raise PydanticCustomError(
            "automations_invalid",
            "{problems}",
            {"problems": "\n  - ".join(problems)},
        )
    return validated


def _label(index: int, raw: Any) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    if isinstance(name, str) and name:
        return f"automation {name!r} (entry {index + 1})"
    return f"automation entry {index + 1}"


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error.get("loc", ())) or "(entry)"
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        message = "unknown key; check the spelling against the documented keys"
    value = error.get("input")
    shown = ""
    if error.get("type") != "missing" and not isinstance(value, (dict, list)):
        if "secret" not in location:
            shown = f" (got {value!r})"
    return f"{location}: {message}{shown}"


def _check_names(automations: list[AutomationSettings]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for automation in automations:
        if automation.name in seen:
            problems.append(
                f"automation {automation.name!r}: name is used twice; give each "
                "automation its own name"
            )
        seen.add(automation.name)
    return problems


def _check_references(
    automations: list[AutomationSettings], data: dict[str, Any]
) -> list[str]:
    """Check templates and calendar conditions against sections validated earlier."""
    templates = data.get("templates")
    calendar = data.get("calendar")
    problems = []
    for automation in automations:
        label = f"automation {automation.name!r}"
        for position, action in enumerate(automation.actions):
            if (
                action.template is not None
                and isinstance(templates, dict)
                and action.template not in templates
            ):
                problems.append(
                    f"{label}: actions.{position}.template: template "
                    f"{action.template!r} is not defined in [templates]; define it "
                    "or fix the name"
                )
        wants_calendar = automation.trigger.calendar
        has_hours = getattr(calendar, "has_hours", None)
        if wants_calendar and callable(has_hours) and not has_hours():
            problems.append(
                f"{label}: trigger.calendar: [calendar] has no opening hours, so "
                "every moment is closed; add weekday ranges such as "
                'mon = ["09:00-17:00"]'
            )
    return problems


AutomationList = Annotated[
    list[AutomationSettings], WrapValidator(_validate_automations)
]
