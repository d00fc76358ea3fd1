"""Settings: one ``parley.toml`` plus ``PARLEY_*`` environment variables.

Environment variables override the file; nested keys use ``__``, so
``PARLEY_SERVER__PORT=9000`` overrides ``[server] port`` and
``PARLEY_SHOPIFY__CLIENT_SECRET`` overrides ``[shopify] client_secret``.
``PARLEY_PLUGINS`` (comma-separated) overrides ``[plugins] enabled``.

Loading happens in two steps. First the enabled plugin list is read and the
plugins are loaded. Then the whole file is validated against the core model
extended with each plugin's settings model, so that every error in that
step is reported together with its key path.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import pluggy
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    SettingsConfigDict,
    SettingsError,
)
from pydantic_settings.sources import PydanticBaseSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

from parley.automation_config import AutomationList
from parley.calendar import (
    WEEKDAYS,
    find_overlaps,
    parse_date_span,
    parse_holiday,
    parse_time_range,
    parse_weekday,
)
from parley.consent import DOUBLE_OPT_IN_SOURCES
from parley.csat_config import CsatSettings
from parley.errors import ConfigError, PluginError
from parley.keywords import normalize_text
from parley.models import ConsentSource, OrderStatus
from parley.plugins import installed_plugins, load_plugins, parse_plugin_list
from parley.quiet_hours import US_STATES, SendingWindow

DEFAULT_CONFIG_FILE = "parley.toml"
CONFIG_ENV = "PARLEY_CONFIG"
PLUGINS_ENV = "PARLEY_PLUGINS"
# PARLEY_* variables read outside the settings model.
_OWN_VARIABLES = frozenset(
    {
        "PARLEY_PLUGINS",
        "PARLEY_CONFIG",
        "PARLEY_TRACE",
        "PARLEY_TEST_DATABASE_URL",
        # Encryption keys, read by parley.crypto; never part of the settings.
        "PARLEY_KEYS",
        "PARLEY_KEY_FILE",
    }
)
ENV_PREFIX = "PARLEY_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    """``[server]``: where the daemon listens and how it is reached."""

    host: str = Field("127.0.0.1", description="Interface to bind to.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port; 0 picks a free one.")
    public_url: str | None = Field(
        None,
        description="The URL providers call, such as https://hooks.example.com; "
        "signature checks use it because a proxy changes the URL the daemon sees.",
    )
    max_body_bytes: int = Field(
        1_048_576, gt=0, description="Largest webhook body accepted, in bytes."
    )
    shutdown_timeout_seconds: float = Field(
        20.0, gt=0, description="How long in-flight work may take after SIGTERM."
    )


class StoreSettings(_Section):
    """``[store]``: the database."""

    url: str | None = Field(
        None,
        description="SQLAlchemy URL such as postgresql://user@host/db; "
        "empty means a SQLite file parley.db in the data directory.",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        scheme = value.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(
                f"unsupported store URL scheme {scheme!r}; use sqlite:///path/to/parley.db "
                "or postgresql://user@host:5432/dbname"
            )
        return value


class PluginsSettings(_Section):
    """``[plugins]``: which installed plugins run."""

    enabled: list[str] = Field(default_factory=lambda: ["sandbox"])


class ContactsSettings(_Section):
    """``[contacts]``: how contacts are matched and merged."""

    precedence: list[str] = Field(
        default_factory=list,
        description="Plugin ids whose contact data wins, first wins; plugins "
        "not listed follow in load order.",
    )
    default_region: str = Field(
        "US",
        min_length=2,
        max_length=2,
        description="ISO country code for phone numbers written without +country.",
    )

    @field_validator("default_region")
    @classmethod
    def _check_region(cls, value: str) -> str:
        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(
                f"unknown region {value!r}; use an ISO 3166 country code such as US or GB"
            )
        return region


class OutboxSettings(_Section):
    """``[outbox]``: how queued messages are sent and retried."""

    max_attempts: int = Field(8, ge=1, description="Attempts before a message fails.")
    backoff_initial_seconds: float = Field(1.0, gt=0)
    backoff_max_seconds: float = Field(600.0, gt=0)
    poll_interval_seconds: float = Field(0.2, gt=0)
    claim_timeout_seconds: float = Field(
        60.0,
        gt=0,
        description="A message claimed by a worker that stopped is sent again after this.",
    )
    batch_size: int = Field(20, ge=1, description="Messages claimed per round.")
    concurrency: int = Field(
        8, ge=1, le=64, description="Messages of one batch sent at the same time."
    )
    poller_lease_seconds: float = Field(
        30.0,
        ge=3,
        le=3600,
        description="With several daemons on PostgreSQL, each poller runs in the "
        "daemon holding its lease; another daemon takes over within this many "
        "seconds, plus a third of it, after the holder stops renewing it.",
    )
    stuck_after_seconds: float | None = Field(
        None,
        gt=0,
        description="/readyz fails when the earliest due message has waited this "
        "long and the daemon sent nothing for as long; unset means twice "
        "claim_timeout_seconds, at least 300.",
    )


def _default_order_templates() -> dict[OrderStatus, str]:
    return {status: f"order_{status.value}" for status in OrderStatus}


class OrderUpdatesSettings(_Section):
    """``[order_updates]``: which template each order status sends."""

    enabled: bool = True
    channel: str = Field("sandbox", description="Channel id order updates go out on.")
    templates: dict[OrderStatus, str] = Field(
        default_factory=_default_order_templates,
        description="Template name per order status; a status whose template "
        "is not defined in [templates] sends nothing.",
    )


class RepliesSettings(_Section):
    """``[replies]``: messages the core sends by itself."""

    first_message: str | None = Field(
        None,
        description="Template sent once when a customer opens a conversation; "
        "it should say how to opt out.",
    )
    opt_out_confirmation: str = Field(
        "opt_out_confirmation", description="Template confirming an opt-out."
    )
    help: str = Field("help", description="Template answering HELP or INFO.")
    opt_in_confirmation: str = Field(
        "opt_in_confirmation", description="Template confirming START or UNSTOP."
    )
    opt_in_prompt: str = Field(
        "opt_in_prompt",
        description="Template asking to confirm a sign-up made away from the phone.",
    )
    double_opt_in_confirmed: str = Field(
        "double_opt_in_confirmed",
        description="Template thanking the customer for confirming a sign-up.",
    )


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name such as America/Los_Angeles"
        ) from None
    return value


def _check_level(value: str) -> str:
    if value.upper() not in LOG_LEVELS:
        raise ValueError(
            f"unknown log level {value!r}; use one of {', '.join(LOG_LEVELS)}"
        )
    return value.upper()


class ComplianceSettings(_Section):
    """``[compliance]``: consent, quiet hours and frequency rules of the send gate."""

    require_informational_consent: bool = Field(
        True,
        description="Order updates and reminders need an informational opt-in; "
        "turn off only where another record of consent exists.",
    )
    sending_window: str = Field(
        "08:00-21:00",
        description="Local hours in which non-conversational messages may arrive.",
    )
    state_windows: dict[str, str] = Field(
        default_factory=dict,
        description='Stricter windows by US state code, such as FL = "08:00-20:00".',
    )
    frequency_cap: int = Field(
        10,
        ge=0,
        description="Non-conversational messages per address per cap period; 0 is no cap.",
    )
    frequency_cap_hours: float = Field(
        24.0, gt=0, description="The cap period, in hours."
    )
    double_opt_in_sources: list[ConsentSource] = Field(
        default_factory=lambda: sorted(DOUBLE_OPT_IN_SOURCES),
        description="Opt-in sources that need a confirming reply before messages flow.",
    )
    double_opt_in_expiry_hours: float = Field(
        72.0,
        ge=0,
        description="Hours after the first confirmation prompt after which an "
        "unconfirmed sign-up expires and needs a new opt-in; 0 never expires.",
    )
    double_opt_in_reminders: int = Field(
        1,
        ge=0,
        le=3,
        description="Reminder prompts sent to an unconfirmed sign-up before it expires.",
    )
    double_opt_in_reminder_hours: float = Field(
        24.0,
        gt=0,
        description="Hours between a confirmation prompt and the next reminder.",
    )
    suspend_after_inactive_days: int = Field(
        0,
        ge=0,
        description="Suspend addresses with no messages or consent changes for this many "
        "days, so further sends need fresh consent; 0 turns it off.",
    )
    provider_keyword_replies: list[str] = Field(
        default_factory=list,
        description="Channel ids whose provider answers STOP, START and HELP itself, "
        "so parley records the keyword but sends no confirmation of its own.",
    )
    opt_out_notice: str = Field(
        "Reply STOP to opt out.",
        description="Appended to the first message of each conversation unless the text already mentions STOP.",
    )

    @model_validator(mode="after")
    def _check_reminders_before_expiry(self) -> ComplianceSettings:
        expiry = self.double_opt_in_expiry_hours
        last_reminder = self.double_opt_in_reminders * self.double_opt_in_reminder_hours
        if expiry and self.double_opt_in_reminders and last_reminder >= expiry:
            raise ValueError(
                f"double_opt_in_reminders = {self.double_opt_in_reminders} every "
                f"{self.double_opt_in_reminder_hours:g} h would fall at or after the "
                f"expiry of {expiry:g} h; send fewer reminders, shorten "
                "double_opt_in_reminder_hours or raise double_opt_in_expiry_hours"
            )
        return self

    @field_validator("sending_window")
    @classmethod
    def _check_window(cls, value: str) -> str:
        SendingWindow.parse(value)
        return value

    @field_validator("state_windows")
    @classmethod
    def _check_state_windows(cls, value: dict[str, str]) -> dict[str, str]:
        checked = {}
        for state, window in value.items():
            if state.upper() not in US_STATES.values():
                raise ValueError(
                    f"unknown US state code {state!r}; use two letters such as FL"
                )
            SendingWindow.parse(window)
            checked[state.upper()] = window
        return checked

    def window(self) -> SendingWindow:
        """Return the default sending window."""
        return SendingWindow.parse(self.sending_window)

    def windows_by_state(self) -> dict[str, SendingWindow]:
        """Return the stricter windows by state code."""
        return {
            state: SendingWindow.parse(text)
            for state, text in self.state_windows.items()
        }


def _check_time_range(value: str) -> str:
    parse_time_range(value)
    return value


def _check_holiday(value: str) -> str:
    parse_holiday(value)
    return value


def _check_date_span(value: str) -> str:
    parse_date_span(value)
    return value


def _check_weekday(value: str) -> str:
    parse_weekday(value)
    return value


def _check_keyword(value: str) -> str:
    if not normalize_text(value):
        raise ValueError(
            f"keyword {value!r} has no letters or digits, so it can never match; "
            "remove it or write it as words"
        )
    return value


TimeRange = Annotated[str, AfterValidator(_check_time_range)]
HolidayRule = Annotated[str, AfterValidator(_check_holiday)]
DateSpanText = Annotated[str, AfterValidator(_check_date_span)]
WeekdayName = Annotated[str, AfterValidator(_check_weekday)]
Keyword = Annotated[str, AfterValidator(_check_keyword)]

_HOURS_HELP = (
    'Open ranges of local time, such as ["09:00-12:00", "13:00-17:30"]; '
    '"22:00-02:00" runs past midnight; empty is closed.'
)


class PeakWindowSettings(_Section):
    """One ``[[calendar.peak]]`` window: when the team is busy."""

    dates: list[DateSpanText] = Field(
        default_factory=list,
        description="Dates or date ranges: 2026-11-27, 11-27..12-24 (yearly); "
        "empty is every date.",
    )
    days: list[WeekdayName] = Field(
        default_factory=list, description="Weekdays, mon to sun; empty is every day."
    )
    hours: list[TimeRange] = Field(
        default_factory=list,
        description="Daily local time ranges, such as 11:00-14:00; empty is all day.",
    )

    @model_validator(mode="after")
    def _check_not_empty(self) -> PeakWindowSettings:
        if not (self.dates or self.days or self.hours):
            raise ValueError(
                "a peak window needs dates, days or hours; an empty one would make "
                "every moment peak"
            )
        return self


class CalendarSettings(_Section):
    """``[calendar]``: opening hours, holidays and peak windows."""

    time_zone: str | None = Field(
        None,
        description="IANA time zone of the hours; empty uses [business] time_zone.",
    )
    mon: list[TimeRange] = Field(default_factory=list, description=_HOURS_HELP)
    tue: list[TimeRange] = Field(default_factory=list, description=_HOURS_HELP)
    wed: list[TimeRange] = Field(default_factory=list, description=_HOURS_HELP)
    thu: list[TimeRange] = Field(default_factory=list, description=_HOURS_HELP)
    fri: list[TimeRange] = Field(default_factory=list, description=_HOURS_HELP)
    sat: list[TimeRange] = Field(default_factory=list, description=_HOURS_HELP)
    sun: list[TimeRange] = Field(default_factory=list, description=_HOURS_HELP)
    holidays: list[HolidayRule] = Field(
        default_factory=list,
        description="Closed dates: 2026-12-25, yearly 12-25, or rules such as "
        "'4th thu nov' and 'last mon may'.",
    )
    peak: list[PeakWindowSettings] = Field(
        default_factory=list, description="Windows when the team is busy."
    )

    @field_validator("time_zone")
    @classmethod
    def _check_time_zone(cls, value: str | None) -> str | None:
        return _check_zone(value) if value else None

    @model_validator(mode="after")
    def _check_overlaps(self) -> CalendarSettings:
        week = {name: getattr(self, name) for name in WEEKDAYS}
        overlaps = find_overlaps(week)
        if overlaps:
            raise ValueError(
                f"opening hours overlap: {'; '.join(overlaps)}; "
                "shorten or join the ranges"
            )
        return self

    def has_hours(self) -> bool:
        """Return True when at least one weekday has an open range."""
        return any(getattr(self, name) for name in WEEKDAYS)


class AutoRepliesSettings(_Section):
    """``[auto_replies]``: templates of the replies to customer messages by business hours."""

    during_hours: str | None = Field(
        None,
        description="Template sent when the business is open, once per open period.",
    )
    peak: str | None = Field(
        None,
        description="Template sent when open during a peak window, once per peak "
        "period; empty sends during_hours instead.",
    )
    after_hours: str | None = Field(
        None,
        description="Template sent when the business is closed, once per closed period.",
    )
    overnight_urgent: str | None = Field(
        None,
        description="Template sent for an urgent message while closed in the "
        "overnight hours; empty sends after_hours instead.",
    )
    overnight: TimeRange = Field(
        "22:00-07:00",
        description="Local hours, in the calendar's zone, in which an urgent "
        "message gets overnight_urgent.",
    )
    urgent_keywords: list[Keyword] = Field(
        default_factory=list,
        description="Words or phrases that mark a message urgent, besides "
        "urgent, emergency, asap and the other defaults.",
    )

    def configured(self) -> list[str]:
        """Return the names of the replies that have a template, such as after_hours."""
        names = ("during_hours", "peak", "after_hours", "overnight_urgent")
        return [name for name in names if getattr(self, name)]


class BusinessSettings(_Section):
    """``[business]``: facts about the business used in templates."""

    name: str = Field(
        "Our shop", min_length=1, description="Resolves {{Business Name}}."
    )
    time_zone: str = Field("America/Los_Angeles", description="IANA time zone.")

    check_zone = field_validator("time_zone")(_check_zone)


class LoggingSettings(_Section):
    """``[logging]``: log level and format."""

    level: str = Field("INFO", description="Root level: DEBUG, INFO, WARNING or ERROR.")
    format: Literal["text", "json"] = Field("text", description="text or json lines.")
    plugin_levels: dict[str, str] = Field(
        default_factory=dict, description="Level per plugin id."
    )
    repeat_window_seconds: float = Field(
        60.0,
        gt=0,
        description="Seconds during which repeats of a warning or error are "
        "counted instead of logged; one line then gives the count.",
    )

    check_level = field_validator("level")(_check_level)

    @field_validator("plugin_levels")
    @classmethod
    def _check_plugin_levels(cls, value: dict[str, str]) -> dict[str, str]:
        return {plugin_id: _check_level(level) for plugin_id, level in value.items()}


class CoreSettings(BaseSettings):
    """The whole configuration; plugin sections are added at load time."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Field(Path(".parley"), description="Where SQLite and files live.")
    server: ServerSettings = Field(default_factory=ServerSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    plugins: PluginsSettings = Field(default_factory=PluginsSettings)
    contacts: ContactsSettings = Field(default_factory=ContactsSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    order_updates: OrderUpdatesSettings = Field(default_factory=OrderUpdatesSettings)
    replies: RepliesSettings = Field(default_factory=RepliesSettings)
    business: BusinessSettings = Field(default_factory=BusinessSettings)
    compliance: ComplianceSettings = Field(default_factory=ComplianceSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    templates: dict[str, str] = Field(default_factory=dict)
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)
    auto_replies: AutoRepliesSettings = Field(default_factory=AutoRepliesSettings)
    csat: CsatSettings = Field(default_factory=CsatSettings)
    automations: AutomationList = Field(default_factory=list)

    @field_validator("auto_replies")
    @classmethod
    def _check_auto_replies(
        cls, value: AutoRepliesSettings, info: ValidationInfo
    ) -> AutoRepliesSettings:
        """Check the auto replies against the calendar, which is validated first."""
        calendar = info.data.get("calendar")
        if not isinstance(calendar, CalendarSettings):
            return value
        configured = value.configured()
        if configured and not calendar.has_hours():
            raise ValueError(
                f"{', '.join(configured)} set, but [calendar] has no opening hours, "
                "so every message would count as after hours; add weekday ranges "
                'such as mon = ["09:00-17:00"]'
            )
        if value.peak and not calendar.peak:
            raise ValueError(
                "peak is set, but [calendar] has no peak window, so it is never "
                "sent; add a [[calendar.peak]] window or remove auto_replies.peak"
            )
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Let environment variables override the file's values."""
        return (_EnvSource(settings_cls), init_settings)

    @property
    def store_url(self) -> str:
        """The SQLAlchemy URL of the store."""
        if self.store.url:
            return self.store.url
        return f"sqlite:///{(self.data_dir / 'parley.db').resolve()}"

    def plugin_settings(self, plugin_id: str) -> BaseModel | None:
        """Return a plugin's validated settings, or None when it declares none."""
        value = getattr(self, plugin_id, None)
        return value if isinstance(value, BaseModel) else None


# The environment that ``load_config`` validates against; a context variable
# so that tests can pass their own mapping without touching os.environ.
_environ: ContextVar[Mapping[str, str] | None] = ContextVar(
    "parley_environ", default=None
)


class _EnvSource(EnvSettingsSource):
    """The environment, without ``PARLEY_PLUGINS``, which is not JSON."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _environ.get()
        if environ is None:
            environ = os.environ
        env = dict(
            parse_env_vars(
                environ,
                self.case_sensitive,
                self.env_ignore_empty,
                self.env_parse_none_str,
            )
        )
        env.pop(PLUGINS_ENV.lower(), None)
        return env


class LoadedConfig:
    """Validated settings together with the plugin manager they were checked with."""

    def __init__(
        self,
        settings: CoreSettings,
        plugin_manager: pluggy.PluginManager,
        path: Path | None,
    ) -> None:
        self.settings = settings
        self.plugin_manager = plugin_manager
        self.path = path


def find_config_file(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """Pick the config file: the argument, then ``$PARLEY_CONFIG``, then ``./parley.toml``.

    Raises:
        ConfigError: a file was named explicitly but does not exist.
    """
    environ = os.environ if environ is None else environ
    named = path or environ.get(CONFIG_ENV)
    if named:
        candidate = Path(named)
        if not candidate.is_file():
            raise ConfigError(
                [
                    f"config file {str(candidate)!r} not found; run 'parley init' to create one"
                ]
            )
        return candidate

    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def read_toml(path: Path | None) -> dict[str, Any]:
    """Read a TOML file, reporting a syntax error with its position."""
    if path is None:
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([f"TOML syntax error: {err}"], source=str(path)) from err


def enabled_plugins(raw: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """Return the enabled plugin ids: ``PARLEY_PLUGINS`` if set, else the file's list."""
    if PLUGINS_ENV in environ:
        return parse_plugin_list(environ[PLUGINS_ENV])

    section = raw.get("plugins", {})
    enabled = section.get("enabled", ["sandbox"]) if isinstance(section, dict) else None
    if not isinstance(enabled, list) or not all(isinstance(i, str) for i in enabled):
        raise ConfigError(["plugins.enabled: expected a list of plugin ids"])
    return enabled


def load_config(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """Load plugins and validate the configuration.

    Args:
        path: the config file; see :func:`find_config_file` for the default.
        environ: environment variables; ``os.environ`` when omitted.

    Returns:
        The validated settings and the plugin manager.

    Raises:
        ConfigError: the file or environment is invalid; lists every problem.
        PluginError: a plugin is unknown or fails to load.
    """
    environ = os.environ if environ is None else environ
    config_path = find_config_file(path, environ)
    raw = read_toml(config_path)

    enabled = enabled_plugins(raw, environ)
    raw.setdefault("plugins", {})["enabled"] = enabled
    manager = load_plugins(enabled)

    models = collect_settings_models(manager)
    settings_class = build_settings_class(models)
    _check_top_level_keys(raw, settings_class, config_path)
    data = {
        key: value for key, value in raw.items() if key in settings_class.model_fields
    }
    for plugin_id in models:
        data.setdefault(plugin_id, {})

    _check_environment(environ, settings_class)
    settings = _validate(settings_class, data, environ, config_path)
    if config_path is not None and not settings.data_dir.is_absolute():
        # A relative data_dir is relative to the config file, not to the
        # directory the daemon happens to start in.
        data_dir = config_path.resolve().parent / settings.data_dir
        settings = settings.model_copy(update={"data_dir": data_dir})
    return LoadedConfig(settings, manager, config_path)


def _check_top_level_keys(
    raw: Mapping[str, Any], settings_class: type[CoreSettings], path: Path | None
) -> None:
    """Reject unknown top-level keys; sections of installed, disabled plugins pass."""
    installed = installed_plugins()
    fields = settings_class.model_fields
    unknown = [key for key in raw if key not in fields and key not in installed]
    if unknown:
        known = ", ".join(sorted(fields))
        raise ConfigError(
            [
                f"{key}: unknown setting or section; known top-level keys are "
                f"{known}, or the id of an installed plugin"
                for key in unknown
            ],
            source=str(path) if path else None,
        )


def collect_settings_models(
    manager: pluggy.PluginManager,
) -> dict[str, type[BaseModel]]:
    """Collect each plugin's settings model through ``register_settings``."""
    models: dict[str, type[BaseModel]] = {}

    def register(plugin_id: str, model: type[BaseModel]) -> None:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise PluginError(
                f"plugin {plugin_id!r} registered settings {model!r}, "
                "which is not a pydantic model class"
            )
        if plugin_id in CoreSettings.model_fields:
            raise PluginError(
                f"plugin id {plugin_id!r} clashes with the core section [{plugin_id}]"
            )
        if plugin_id in models:
            raise PluginError(f"settings for plugin {plugin_id!r} registered twice")
        models[plugin_id] = model

    manager.hook.register_settings(register=register)
    return models


def build_settings_class(models: Mapping[str, type[BaseModel]]) -> type[CoreSettings]:
    """Extend :class:`CoreSettings` with one field per plugin section."""
    plugin_fields: dict[str, Any] = {
        plugin_id: (model, ...) for plugin_id, model in models.items()
    }
    return create_model("ParleySettings", __base__=CoreSettings, **plugin_fields)


def _validate(
    settings_class: type[CoreSettings],
    data: dict[str, Any],
    environ: Mapping[str, str],
    path: Path | None,
) -> CoreSettings:
    token = _environ.set(environ)
    try:
        return settings_class(**data)
    except ValidationError as err:
        raise ConfigError(
            [_describe_error(error) for error in err.errors()], source=_source(path)
        ) from None
    except SettingsError as err:
        raise ConfigError(
            [_describe_env_error(err, environ)], source=_source(path)
        ) from None
    finally:
        _environ.reset(token)


def _source(path: Path | None) -> str:
    where = str(path) if path else "the defaults"
    return f"{where} or PARLEY_* environment variables"


def _describe_env_error(err: SettingsError, environ: Mapping[str, str]) -> str:
    """Name the environment variable whose value is not valid JSON."""
    match = re.search(r'field "([^"]+)"', str(err))
    section = ENV_PREFIX + match.group(1).upper() if match else ENV_PREFIX
    # pydantic-settings names the section; name the variables that set it.
    variables = sorted(name for name in environ if name.upper().startswith(section))
    variable = ", ".join(variables) or section
    return (
        f"{variable}: the value is not valid JSON; a section takes a JSON object and a "
        'list setting a JSON list, with double quotes, such as [{"domain": "x.myshopify.com"}]'
    )


def _check_environment(
    environ: Mapping[str, str], settings_class: type[CoreSettings]
) -> None:
    """Reject PARLEY_* variables that name no setting, such as a misspelled section."""
    known = {name.upper() for name in settings_class.model_fields}
    unknown = []
    for name in environ:
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in _OWN_VARIABLES:
            continue
        section = upper[len(ENV_PREFIX) :].split("__", 1)[0]
        if section not in known:
            unknown.append(name)
    if unknown:
        raise ConfigError(
            [
                f"{name}: no setting has this name; sections are "
                f"{', '.join(sorted(settings_class.model_fields))}, and nested keys are "
                "joined with a double underscore, as in PARLEY_SERVER__PORT"
                for name in sorted(unknown)
            ]
        )


def _describe_error(error: Mapping[str, Any]) -> str:
    loc = tuple(error.get("loc", ()))
    location = ".".join(str(part) for part in loc) or "(top level)"
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        message = "unknown setting; check the spelling against the documented keys"
    if error.get("type") == "missing":
        message = (
            f"required setting is missing; set it in the file or in {_env_name(loc)}"
        )
    return f"{location}: {message}{_shown_input(location, error)}"


def _env_name(loc: tuple[Any, ...]) -> str:
    """Name the variable that can set a location; lists are set whole, as JSON."""
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            return ENV_PREFIX + "__".join(parts).upper() + " (a JSON list)"
        parts.append(str(part))
    return ENV_PREFIX + "__".join(parts).upper()


def _shown_input(location: str, error: Mapping[str, Any]) -> str:
    """Quote the rejected value, unless it may hold a secret or is a container."""
    value = error.get("input")
    if error.get("type") == "missing" or _is_secretish(location):
        return ""
    if isinstance(value, (dict, list, tuple, set)):
        return ""
    return f" (got {value!r})"


def _is_secretish(location: str) -> bool:
    lowered = location.lower()
    return any(word in lowered for word in ("secret", "token", "password", "key"))
