"""The plugin contract suite: tests a plugin turns on with one line per hook kind.

A plugin's test module subclasses one contract for each kind of hook the
plugin implements and sets ``plugin`` to the plugin module. The contract's
tests then run as the plugin's own::

    import parley_acme
    from parley.testing import ChannelContract, SettingsContract


    class TestSettings(SettingsContract):
        plugin = parley_acme


    class TestChannel(ChannelContract):
        plugin = parley_acme

        @pytest.fixture
        def plugin_settings(self) -> dict[str, object]:
            return {"api_key": "test-api-key-0001", "webhook_secret": "test-whsec-01"}

What only the plugin knows comes from fixtures: its settings, a factory of
signed webhook requests, the HTTP fake (a vcrpy cassette or an
``httpx.MockTransport``) and sample contacts and events. Override a fixture
by defining a fixture method with the same name in the subclass; every
fixture a contract reads is listed in its docstring.

Every contract test runs with logging captured at DEBUG and fails when a
secret value from the plugin's settings (a ``SecretStr`` or ``SecretBytes``
field) appears in a log record, as typed or URL-encoded.

This module imports pytest, so only tests import it; ``import parley`` does
not load it.
"""

from __future__ import annotations

import dataclasses
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

from parley.channels import Channel, InboundBatch
from parley.config import _validate, build_settings_class, collect_settings_models
from parley.context import PluginContext
from parley.errors import SignatureError
from parley.models import (
    AddressKind,
    ChannelAddress,
    Contact,
    ContactRecord,
    DeliveryStatus,
    OrderStatusEvent,
    OutboundMessage,
    Purpose,
    SendResult,
)
from parley.plugins import CORE_PLUGIN_ID, ENTRY_POINT_GROUP, new_plugin_manager
from parley.runtime import collect_channels, collect_routes
from parley.store import Store, open_store
from parley.templates import normalize_field_name, parse_template
from parley.webhooks import WebhookRequest, WebhookResponse, WebhookRoute

__all__ = [
    "ChannelContract",
    "ContactLookupContract",
    "FieldSample",
    "FieldsContract",
    "PluginContract",
    "RequestFactory",
    "SettingsContract",
    "WebhookContract",
    "find_secret_leaks",
    "make_contact",
    "make_plugin_context",
    "secret_values",
]

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


def _registered_fields(
    manager: pluggy.PluginManager,
) -> list[tuple[str, Sequence[str]]]:
    calls: list[tuple[str, Sequence[str]]] = []

    def register(plugin_id: str, names: Sequence[str]) -> None:
        calls.append((plugin_id, names))

    manager.hook.register_fields(register=register)
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
        """Open a SQLite store in the test's temporary directory."""
        store = open_store(f"sqlite:///{tmp_path / 'contract.db'}")
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


class SettingsContract(PluginContract):
    """Checks ``register_settings``: one model, under the plugin id.

    Fixtures: ``plugin_settings`` must hold a valid section.
    """

    def test_settings_registered_under_plugin_id(
        self,
        contract_plugin_id: str,
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """The plugin registers exactly one pydantic model, under its own id."""
        manager = new_plugin_manager()
        manager.register(self.plugin, name=contract_plugin_id)
        calls: list[tuple[str, object]] = []
        manager.hook.register_settings(
            register=lambda plugin_id, model: calls.append((plugin_id, model))
        )

        assert len(calls) == 1, (
            f"register_settings called register {len(calls)} times; expected once"
        )
        registered_id, model = calls[0]
        assert registered_id == contract_plugin_id, (
            f"settings registered under {registered_id!r}; expected the plugin id "
            f"{contract_plugin_id!r}"
        )
        assert isinstance(model, type) and issubclass(model, BaseModel), (
            f"register_settings registered {model!r}; expected a pydantic model class"
        )
        self.check_logs(caplog, plugin_secrets)

    def test_settings_validate(
        self,
        parley_context: PluginContext,
        contract_plugin_id: str,
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """The ``plugin_settings`` fixture validates and is handed back to hooks."""
        settings = parley_context.settings_for(contract_plugin_id)

        assert settings.model_config.get("frozen"), (
            f"{type(settings).__name__} is mutable; set "
            "model_config = ConfigDict(frozen=True) so hooks cannot change settings"
        )
        self.check_logs(caplog, plugin_secrets)

    def test_credential_settings_are_secret(
        self,
        parley_context: PluginContext,
        contract_plugin_id: str,
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Settings named like credentials are SecretStr or SecretBytes."""
        settings = parley_context.settings_for(contract_plugin_id)
        plain = _plain_credentials(type(settings), contract_plugin_id)

        assert not plain, (
            "credential settings must be typed SecretStr or SecretBytes so that "
            "they are masked in reprs and errors: " + ", ".join(plain)
        )
        self.check_logs(caplog, plugin_secrets)


def _plain_credentials(model: type[BaseModel], path: str) -> list[str]:
    """Return key paths of credential-named fields with a plain type."""
    found: list[str] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        nested = _nested_models(annotation)
        for nested_model in nested:
            found.extend(_plain_credentials(nested_model, f"{path}.{name}"))
        lowered = name.lower()
        if nested or not any(part in lowered for part in _SECRET_NAME_PARTS):
            continue
        if not _mentions_secret_type(annotation):
            found.append(f"{path}.{name}")
    return found


def _type_arguments(annotation: object) -> tuple[object, ...]:
    return tuple(getattr(annotation, "__args__", ()) or ())


def _nested_models(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    models: list[type[BaseModel]] = []
    for argument in _type_arguments(annotation):
        models.extend(_nested_models(argument))
    return models


def _mentions_secret_type(annotation: object) -> bool:
    if annotation in (SecretStr, SecretBytes):
        return True
    return any(_mentions_secret_type(arg) for arg in _type_arguments(annotation))


class ContactLookupContract(PluginContract):
    """Checks ``lookup_contact``.

    Fixtures a plugin may override:
        unknown_addresses: addresses the provider has no contact for; the
            HTTP fake returns "not found" for them. Default: a phone number
            and an email address under example.com.
        known_address: an address the HTTP fake returns a contact for, or
            None (the default) to skip the known-address test.
    """

    @pytest.fixture
    def unknown_addresses(self) -> Sequence[ChannelAddress]:
        """Return addresses the provider has no contact for."""
        return DEFAULT_UNKNOWN_ADDRESSES

    @pytest.fixture
    def known_address(self) -> ChannelAddress | None:
        """Return an address the provider has a contact for, or None."""
        return None

    def test_lookup_unknown_address_returns_none(
        self,
        parley_context: PluginContext,
        contract_plugin_id: str,
        unknown_addresses: Sequence[ChannelAddress],
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """An address without a contact gives None, not an error."""
        lookup = _only_plugin(
            parley_context.plugin_manager, contract_plugin_id, "lookup_contact"
        )
        for address in unknown_addresses:
            answers = lookup(address=address, context=parley_context)
            assert answers in ([], [None]), (
                f"lookup_contact returned {answers!r} for the unknown "
                f"{address.kind.value} address; expected None"
            )
        self.check_logs(caplog, plugin_secrets)

    def test_lookup_known_address_returns_record(
        self,
        parley_context: PluginContext,
        contract_plugin_id: str,
        known_address: ChannelAddress | None,
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A known address gives a record from this plugin with declared fields."""
        if known_address is None:
            pytest.skip("the known_address fixture returns None")
        lookup = _only_plugin(
            parley_context.plugin_manager, contract_plugin_id, "lookup_contact"
        )

        answers = lookup(address=known_address, context=parley_context)

        assert len(answers) == 1, f"lookup_contact returned {answers!r}"
        record = answers[0]
        assert isinstance(record, ContactRecord), (
            f"lookup_contact returned {record!r}; expected a parley.ContactRecord"
        )
        assert record.source == contract_plugin_id, (
            f"record.source is {record.source!r}; expected the plugin id "
            f"{contract_plugin_id!r}"
        )
        declared = {
            normalize_field_name(name)
            for _, names in _registered_fields(parley_context.plugin_manager)
            for name in names
        }
        undeclared = [
            key for key in record.fields if normalize_field_name(key) not in declared
        ]
        assert not undeclared, (
            f"the record carries fields that no plugin declares: {undeclared}; "
            "declare them with register_fields so templates may use them"
        )
        self.check_logs(caplog, plugin_secrets)


class FieldsContract(PluginContract):
    """Checks ``register_fields`` and ``resolve_field``: declared equals resolvable.

    Every declared field must resolve, through the plugin's ``resolve_field``
    or from values the plugin puts on its order events, and must have a
    value in at least one sample. Field values on the samples' events must
    be declared, and the plugin's ``resolve_field`` must return None for a
    name it does not declare.

    Fixtures a plugin may override:
        field_samples: contacts and events to resolve fields for, together
            covering every declared field; built with the HTTP fake active.
            Default: one contact with no data and no event.
    """

    @pytest.fixture
    def field_samples(self) -> Sequence[FieldSample]:
        """Return the contacts and events to resolve fields for."""
        return (FieldSample(make_contact()),)

    @pytest.fixture
    def declared_fields(
        self, parley_context: PluginContext, contract_plugin_id: str
    ) -> list[str]:
        """Return the field names the plugin registers, as written."""
        calls = _registered_fields(parley_context.plugin_manager)
        return [
            name
            for registered_id, names in calls
            if registered_id == contract_plugin_id
            for name in names
        ]

    def test_fields_registered_under_plugin_id(
        self,
        parley_context: PluginContext,
        contract_plugin_id: str,
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Fields are registered once, as a list of valid placeholder names."""
        calls = [
            (registered_id, names)
            for registered_id, names in _registered_fields(
                parley_context.plugin_manager
            )
            if registered_id != CORE_PLUGIN_ID
        ]

        assert [registered_id for registered_id, _ in calls] == [contract_plugin_id], (
            f"register_fields registered under {[c[0] for c in calls]}; expected "
            f"once under {contract_plugin_id!r}"
        )
        names = calls[0][1]
        assert not isinstance(names, str), "pass the field names as a list, not a str"
        assert names, "register_fields registered no field names"
        normalized = [normalize_field_name(name) for name in names]
        assert len(set(normalized)) == len(normalized), (
            f"field names repeat when case and spaces are ignored: {list(names)}"
        )
        for name in names:
            template = parse_template("contract", "{{" + name + "}}")
            assert not template.errors, (
                f"field name {name!r} is not a valid placeholder: "
                f"{template.errors[0].message}"
            )
        self.check_logs(caplog, plugin_secrets)

    def test_declared_fields_resolve(
        self,
        parley_context: PluginContext,
        declared_fields: list[str],
        field_samples: Sequence[FieldSample],
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Each declared field resolves for every sample, with a value in one."""
        resolve = parley_context.plugin_manager.hook.resolve_field
        unresolved: list[str] = []
        always_empty: list[str] = []
        for name in declared_fields:
            values = [
                resolve(
                    name=normalize_field_name(name),
                    contact=sample.contact,
                    event=sample.event,
                    context=parley_context,
                )
                for sample in field_samples
            ]
            if any(value is None for value in values):
                unresolved.append(name)
            elif not any(values):
                always_empty.append(name)

        assert not unresolved, (
            f"declared fields that resolve to None for some sample: {unresolved}; "
            "resolve them in resolve_field or put them on the plugin's events"
        )
        assert not always_empty, (
            f"declared fields that are empty in every sample: {always_empty}; "
            "add a field_samples entry in which each has a value"
        )
        self.check_logs(caplog, plugin_secrets)

    def test_undeclared_field_resolves_to_none(
        self,
        parley_context: PluginContext,
        contract_plugin_id: str,
        field_samples: Sequence[FieldSample],
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """``resolve_field`` gives None for a name the plugin does not declare."""
        resolve = _only_plugin(
            parley_context.plugin_manager, contract_plugin_id, "resolve_field"
        )
        for sample in field_samples:
            value = resolve(
                name=UNDECLARED_FIELD,
                contact=sample.contact,
                event=sample.event,
                context=parley_context,
            )
            assert value is None, (
                f"resolve_field returned {value!r} for the undeclared field "
                f"{UNDECLARED_FIELD!r}; return None for names that are not the "
                "plugin's so the next plugin is asked"
            )
        self.check_logs(caplog, plugin_secrets)

    def test_event_fields_declared(
        self,
        parley_context: PluginContext,
        contract_plugin_id: str,
        field_samples: Sequence[FieldSample],
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Values the plugin's events carry are declared fields."""
        known = {
            normalize_field_name(name)
            for _, names in _registered_fields(parley_context.plugin_manager)
            for name in names
        }
        undeclared = sorted(
            {
                key
                for sample in field_samples
                if sample.event is not None
                and sample.event.source == contract_plugin_id
                for key in sample.event.fields
                if normalize_field_name(key) not in known
            }
        )

        assert not undeclared, (
            f"the plugin's events carry undeclared fields: {undeclared}; declare "
            "them with register_fields"
        )
        self.check_logs(caplog, plugin_secrets)


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
