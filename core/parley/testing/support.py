"""Fixtures, helpers and the base class shared by every contract."""

from __future__ import annotations

import importlib.metadata
import logging
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import pluggy
import pytest
from pydantic import BaseModel, SecretBytes, SecretStr

from parley.config import _validate, build_settings_class, collect_settings_models
from parley.context import PluginContext
from parley.crypto import Keyring
from parley.models import (
    AddressKind,
    ChannelAddress,
    Contact,
    OrderStatusEvent,
)
from parley.plugins import ENTRY_POINT_GROUP, new_plugin_manager
from parley.store import Store, open_store
from parley.webhooks import WebhookRequest

# A secret shorter than this could match unrelated log text by chance, so the
# contract requires a longer test value instead of reporting false leaks.
MIN_SECRET_LENGTH = 8

# Parts of setting names that mark credentials. Such a field must be typed
# SecretStr or SecretBytes so that pydantic masks it in reprs and errors.
_SECRET_NAME_PARTS = (
    "secret",
    "token",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "private_key",
    "credential",
)

# A field name no plugin declares, used to check that resolve_field returns
# None for names that are not the plugin's.
UNDECLARED_FIELD = "parley contract undeclared field"

DEFAULT_UNKNOWN_ADDRESSES = (
    ChannelAddress(AddressKind.PHONE, "+14155550199"),
    ChannelAddress(AddressKind.EMAIL, "nobody-known@example.com"),
)


class RequestFactory(Protocol):
    """Builds the webhook request a provider would send with ``body``."""

    def __call__(self, body: bytes, *, signed: bool = True) -> WebhookRequest:
        """Return a request carrying ``body``.

        Args:
            body: the exact body bytes.
            signed: False leaves out the signature, and nothing else.
        """
        ...


@dataclass(frozen=True)
class FieldSample:
    """A contact and an optional order event to resolve template fields for.

    Attributes:
        contact: the contact the message goes to.
        event: the order-status event the message is about, or None.
    """

    contact: Contact
    event: OrderStatusEvent | None = None


def make_contact(**values: Any) -> Contact:
    """Build a stored contact for tests; unnamed attributes are empty.

    Args:
        **values: attributes of :class:`parley.Contact`, such as
            ``phone="+14155550123"``.
    """
    defaults: dict[str, Any] = {
        "id": 1,
        "first_name": None,
        "last_name": None,
        "email": None,
        "phone": None,
        "time_zone": None,
        "fields": {},
        "addresses": (),
    }
    defaults.update(values)
    return Contact(**defaults)


def secret_values(settings: BaseModel | None) -> dict[str, str]:
    """Return every secret value in validated settings, keyed by its key path.

    ``SecretStr`` and ``SecretBytes`` values are collected from nested
    models, lists, tuples and dicts. Empty secrets are left out.
    """
    found: dict[str, str] = {}
    if settings is not None:
        _collect_secrets(settings, "", found)
    return found


def _collect_secrets(value: object, path: str, found: dict[str, str]) -> None:
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        if secret:
            found[path] = secret
        return
    if isinstance(value, SecretBytes):
        secret = value.get_secret_value().decode("utf-8", errors="replace")
        if secret:
            found[path] = secret
        return

    prefix = f"{path}." if path else ""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _collect_secrets(getattr(value, name), f"{prefix}{name}", found)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _collect_secrets(item, f"{prefix}{key}", found)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _collect_secrets(item, f"{prefix}{index}", found)


def find_secret_leaks(
    records: Sequence[logging.LogRecord], secrets: Mapping[str, str]
) -> list[str]:
    """Describe each log record that contains a secret, without quoting it.

    A record is formatted with its exception and stack, and matched against
    each secret as typed and percent-encoded (as it would appear in a URL).

    Returns:
        One line per leak naming the logger, the level and the setting's key
        path; an empty list when nothing leaked.
    """
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    leaks: list[str] = []
    for record in records:
        text = formatter.format(record)
        for path, secret in secrets.items():
            forms = {secret, urllib.parse.quote(secret, safe="")}
            if any(form in text for form in forms):
                leaks.append(
                    f"logger {record.name!r} ({record.levelname}) logged the "
                    f"value of setting {path!r}"
                )
    return leaks


def make_plugin_context(
    plugin: object,
    plugin_id: str,
    settings: Mapping[str, Any],
    data_dir: Path,
    store: Store | None = None,
) -> PluginContext:
    """Register one plugin and validate its settings the way start-up does.

    The plugin is registered on a fresh plugin manager next to the core's own
    fields plugin, without entry points, so the plugin need not be installed.
    The environment is not read: ``settings`` is the plugin's whole section.

    Args:
        plugin: the plugin module (or any object with hook implementations).
        plugin_id: the id the plugin is registered and configured under.
        settings: the plugin's config section, as ``parley.toml`` would hold it.
        data_dir: the ``data_dir`` setting.
        store: the store the context exposes, or None for none.

    Raises:
        parley.ConfigError: the settings are invalid; lists every problem.
        pluggy.PluginValidationError: a hook implementation does not match
            its spec, or implements no known hook.
    """
    manager = new_plugin_manager()
    manager.register(plugin, name=plugin_id)
    manager.check_pending()

    models = collect_settings_models(manager)
    data: dict[str, Any] = {
        "data_dir": str(data_dir),
        "plugins": {"enabled": [plugin_id]},
    }
    if plugin_id in models:
        data[plugin_id] = dict(settings)
    elif settings:
        pytest.fail(
            f"plugin {plugin_id!r} registers no settings model, but the "
            "plugin_settings fixture returns settings; return {} instead",
            pytrace=False,
        )
    validated = _validate(build_settings_class(models), data, {}, None)
    return PluginContext(validated, manager, store)


def _only_plugin(
    manager: pluggy.PluginManager, plugin_id: str, hook_name: str
) -> Callable[..., Any]:
    """Return a caller of one hook that skips every plugin but ``plugin_id``."""
    others = [
        plugin for name, plugin in manager.list_name_plugin() if name != plugin_id
    ]
    return manager.subset_hook_caller(hook_name, remove_plugins=others)


def _registered_fields(context: PluginContext) -> list[tuple[str, Sequence[str]]]:
    calls: list[tuple[str, Sequence[str]]] = []

    def register(plugin_id: str, names: Sequence[str]) -> None:
        calls.append((plugin_id, names))

    context.plugin_manager.hook.register_fields(register=register, context=context)
    return calls


def _fail(message: str) -> None:
    pytest.fail(message, pytrace=False)


def _tamper_first_digit(body: bytes) -> bytes:
    """Change the first digit, else append a space, so the body stays parseable."""
    for index, byte in enumerate(body):
        if 0x30 <= byte <= 0x39:
            changed = 0x30 + (byte - 0x30 + 1) % 10
            return body[:index] + bytes([changed]) + body[index + 1 :]
    return body + b" "


class PluginContract:
    """Fixtures every contract shares; subclass a specific contract instead.

    Set ``plugin`` to the plugin module. The plugin id comes from the
    ``parley`` entry point whose value is the module's name, else from the id
    the plugin registers its settings under. Set ``plugin_id`` when neither
    applies.

    Fixtures a plugin may override:
        plugin_settings: the plugin's config section as a dict; default ``{}``.
        provider_http: a yield fixture active during each test, for the HTTP
            fake (a vcrpy cassette or a patched transport); default: none.
    """

    plugin: ClassVar[object]
    plugin_id: ClassVar[str | None] = None

    @pytest.fixture
    def plugin_settings(self) -> Mapping[str, Any]:
        """Return the plugin's config section, as ``parley.toml`` would hold it."""
        return {}

    @pytest.fixture
    def provider_http(self) -> Iterator[None]:
        """Activate the HTTP fake for the whole test; the default has none."""
        yield None

    @pytest.fixture
    def contract_plugin_id(self) -> str:
        """Return the id the plugin is registered under."""
        return self._find_plugin_id()

    @pytest.fixture
    def parley_store(self, tmp_path: Path) -> Iterator[Store]:
        """Open a SQLite store in the test's temporary directory, with a throwaway key."""
        store = open_store(f"sqlite:///{tmp_path / 'contract.db'}", Keyring.ephemeral())
        try:
            yield store
        finally:
            store.close()

    @pytest.fixture
    def parley_context(
        self,
        provider_http: None,
        plugin_settings: Mapping[str, Any],
        contract_plugin_id: str,
        parley_store: Store,
        tmp_path: Path,
    ) -> PluginContext:
        """Register the plugin with validated settings and a SQLite store."""
        return make_plugin_context(
            self.plugin,
            contract_plugin_id,
            plugin_settings,
            tmp_path / "data",
            store=parley_store,
        )

    @pytest.fixture
    def plugin_secrets(
        self, parley_context: PluginContext, contract_plugin_id: str
    ) -> dict[str, str]:
        """Return the secret values of the validated settings by key path."""
        settings = parley_context.settings.plugin_settings(contract_plugin_id)
        secrets = secret_values(settings)
        for path, value in secrets.items():
            if len(value) < MIN_SECRET_LENGTH:
                _fail(
                    f"setting {contract_plugin_id}.{path} is {len(value)} characters "
                    f"long in plugin_settings; use a test value of at least "
                    f"{MIN_SECRET_LENGTH} characters so that the log check cannot "
                    "match unrelated text"
                )
        return secrets

    @pytest.fixture(autouse=True)
    def _debug_logs(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)

    def check_logs(
        self, caplog: pytest.LogCaptureFixture, secrets: Mapping[str, str]
    ) -> None:
        """Fail when a captured log record contains one of ``secrets``."""
        leaks = find_secret_leaks(caplog.records, secrets)
        if leaks:
            _fail("secret settings appear in log output:\n  " + "\n  ".join(leaks))

    def _find_plugin_id(self) -> str:
        if self.plugin_id:
            return self.plugin_id

        module_name = getattr(self.plugin, "__name__", None)
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if module_name and entry_point.value == module_name:
                return entry_point.name

        manager = new_plugin_manager()
        manager.register(self.plugin, name="contract-probe")
        registered = list(collect_settings_models(manager))
        if len(registered) == 1:
            return registered[0]
        _fail(
            f"cannot tell the plugin id of {self.plugin!r}: no installed 'parley' "
            f"entry point names module {module_name!r} and it registers "
            f"{len(registered)} settings models; set plugin_id on "
            f"{type(self).__name__}"
        )
        raise AssertionError("unreachable")
