"""Each hook, called by the core the way a plugin would experience it."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import click
import pytest
from pydantic import BaseModel, Field
from rich.console import Console
from starlette.testclient import TestClient

import parley.sandbox
from parley import (
    AddressKind,
    ChannelAddress,
    ConfigProblem,
    ConsentRecord,
    Contact,
    ContactRecord,
    ContactSync,
    InboundMessage,
    IncomingCall,
    KindRegistry,
    OrderStatus,
    OrderStatusEvent,
    OutboundMessage,
    ParleyError,
    PluginContext,
    Poller,
    SyncProgress,
    WebhookResponse,
    WebhookRoute,
    hookimpl,
)
from parley.channels import Channel
from parley.config import LoadedConfig, load_config
from parley.daemon import Daemon
from parley.errors import ConfigError, PluginError
from parley.plugins import new_plugin_manager
from parley.runtime import Runtime, build_runtime, collect_channels, collect_routes
from parley.sandbox import SandboxChannel

from .conftest import FakeClock, drain

PHONE = "+14155550123"


class CrmPlugin:
    """A contact source answering for one phone number."""

    def __init__(
        self, plugin_id: str, first_name: str | None, email: str | None
    ) -> None:
        self.plugin_id = plugin_id
        self.first_name = first_name
        self.email = email
        self.lookups: list[ChannelAddress] = []

    @hookimpl
    def lookup_contact(self, address: ChannelAddress) -> ContactRecord | None:
        self.lookups.append(address)
        if address != ChannelAddress(AddressKind.PHONE, PHONE):
            return None
        return ContactRecord(
            source=self.plugin_id,
            external_id=f"{self.plugin_id}-1",
            first_name=self.first_name,
            email=self.email,
            fields={"Loyalty Program": f"{self.plugin_id} gold"},
        )


class RecordingPlugin:
    """Records event hooks and contributes a field, a poller and a command."""

    def __init__(self) -> None:
        self.order_events: list[tuple[str, int]] = []
        self.messages: list[tuple[str, int]] = []
        self.poller_runs = threading.Event()

    @hookimpl
    def register_fields(self, register: Callable[[str, list[str]], None]) -> None:
        register("recording", ["Favourite Colour"])

    @hookimpl
    def resolve_field(self, name: str, contact: Contact) -> str | None:
        if name == "favourite colour":
            return "green" if contact.first_name else ""
        return None

    @hookimpl
    def order_status_changed(self, event: OrderStatusEvent, contact: Contact) -> None:
        self.order_events.append((event.dedupe_key, contact.id))

    @hookimpl
    def message_received(self, message: InboundMessage, conversation_id: int) -> None:
        self.messages.append((message.provider_message_id, conversation_id))

    @hookimpl
    def register_pollers(self, register: Callable[[Poller], None]) -> None:
        register(Poller("recording", "tick", 0.01, self.poller_runs.set))

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command("recording-hello")
        def hello() -> None:
            click.echo("hello from a plugin")


@pytest.fixture
def build(
    write_config: Callable[..., Path], store_url: str, clock: FakeClock
) -> Iterator[Callable[..., Runtime]]:
    built: list[Runtime] = []

    def make(
        plugins: dict[str, object],
        extra: str = "",
        environ: dict[str, str] | None = None,
    ) -> Runtime:
        path = write_config(extra, store_url=store_url)
        loaded = load_config(path, environ=environ or {})
        for name, plugin in plugins.items():
            loaded.plugin_manager.register(plugin, name=name)
        runtime = build_runtime(loaded, clock=clock)
        built.append(runtime)
        return runtime

    yield make
    for runtime in built:
        runtime.close()


def confirmed(
    order_id: str = "1042", first_name: str | None = None
) -> OrderStatusEvent:
    return OrderStatusEvent(
        source="teststore",
        store="harbor",
        order_id=order_id,
        order_name=f"#{order_id}",
        status=OrderStatus.CONFIRMED,
        occurred_at=datetime(2026, 11, 16, 15, 0, tzinfo=UTC),
        dedupe_key=f"teststore:{order_id}:confirmed",
        customer=ContactRecord(source="teststore", first_name=first_name, phone=PHONE),
    )


def test_hook_lookup_contact_precedence(build: Callable[..., Runtime]) -> None:
    crm_a = CrmPlugin("crm_a", first_name="Avery", email="avery@example.com")
    crm_b = CrmPlugin("crm_b", first_name="Ave", email=None)
    runtime = build(
        {"crm_a": crm_a, "crm_b": crm_b}, '\n[contacts]\nprecedence = ["crm_b"]\n'
    )

    runtime.context.accept_order_events("teststore", "d-1", "t", [confirmed()])
    drain(runtime)

    contact = runtime.store.find_contact(ChannelAddress(AddressKind.PHONE, PHONE))
    assert contact is not None
    assert contact.first_name == "Ave"
    assert contact.email == "avery@example.com"
    assert contact.fields["Loyalty Program"] == "crm_b gold"


def test_hook_lookup_contact_event_name_wins(build: Callable[..., Runtime]) -> None:
    crm = CrmPlugin("crm_a", first_name="Avery", email=None)
    runtime = build({"crm_a": crm}, '\n[contacts]\nprecedence = ["teststore"]\n')
    runtime.context.accept_order_events(
        "teststore", "d-1", "t", [confirmed(first_name="Jo")]
    )
    drain(runtime)
    body = [m.body for m in runtime.store.messages()][0]
    assert body == "Hi Jo, thanks for your order #1042."


def test_hook_lookup_contact_cached_in_store(build: Callable[..., Runtime]) -> None:
    crm = CrmPlugin("crm_a", first_name="Avery", email=None)
    runtime = build({"crm_a": crm})
    runtime.context.accept_order_events("teststore", "d-1", "t", [confirmed("1042")])
    runtime.context.accept_order_events("teststore", "d-2", "t", [confirmed("1043")])
    drain(runtime)
    assert crm.lookups == [ChannelAddress(AddressKind.PHONE, PHONE)]


def test_hook_resolve_field_in_template(build: Callable[..., Runtime]) -> None:
    recording = RecordingPlugin()
    templates = '{"order_confirmed": "Colour: {{favourite colour | none}}"}'
    runtime = build({"recording": recording}, environ={"PARLEY_TEMPLATES": templates})
    runtime.context.accept_order_events(
        "teststore", "d-1", "t", [confirmed(first_name="Jo")]
    )
    drain(runtime)
    assert [m.body for m in runtime.store.messages()] == ["Colour: green"]


def test_hook_order_status_changed_once(build: Callable[..., Runtime]) -> None:
    recording = RecordingPlugin()
    runtime = build({"recording": recording})
    for delivery in ("d-1", "d-2", "d-1"):
        runtime.context.accept_order_events("teststore", delivery, "t", [confirmed()])
    drain(runtime)
    assert [key for key, _contact in recording.order_events] == [
        "teststore:1042:confirmed"
    ]


def test_hook_message_received_once(build: Callable[..., Runtime]) -> None:
    recording = RecordingPlugin()
    runtime = build({"recording": recording})
    with TestClient(Daemon(runtime).app) as client:
        for _ in range(2):
            client.post(
                "/webhooks/sandbox", json={"from": PHONE, "body": "Hi", "id": "m-1"}
            )
        drain(runtime)
    assert [message_id for message_id, _conversation in recording.messages] == ["m-1"]


def test_hook_register_pollers_runs(build: Callable[..., Runtime]) -> None:
    recording = RecordingPlugin()
    runtime = build({"recording": recording})
    with TestClient(Daemon(runtime).app):
        assert recording.poller_runs.wait(5)


def test_hook_register_commands_adds(build: Callable[..., Runtime]) -> None:
    from click.testing import CliRunner

    recording = RecordingPlugin()
    runtime = build({"recording": recording})
    group = click.Group("parley")
    runtime.loaded.plugin_manager.hook.register_commands(cli=group)
    result = CliRunner().invoke(group, ["recording-hello"])
    assert result.output == "hello from a plugin\n"


def test_hook_register_fields_in_check(build: Callable[..., Runtime]) -> None:
    from parley.checks import known_fields

    runtime = build({"recording": RecordingPlugin()})
    assert "Favourite Colour" in known_fields(runtime.loaded)


class WriteBackPlugin:
    """Records the write-back hooks, failing the first call when asked to."""

    def __init__(self, fail_first: bool = False) -> None:
        self.sent: list[tuple[int, str, int | None]] = []
        self.consents: list[tuple[str, str, str, int | None]] = []
        self.fail_first = fail_first

    @hookimpl
    def message_sent(
        self,
        message: OutboundMessage,
        provider_message_id: str,
        contact: Contact | None,
    ) -> None:
        if self.fail_first:
            self.fail_first = False
            raise RuntimeError("CRM timed out")
        self.sent.append(
            (message.id, provider_message_id, contact.id if contact else None)
        )

    @hookimpl
    def consent_changed(self, record: ConsentRecord, contact: Contact | None) -> None:
        self.consents.append(
            (
                record.address.value,
                record.purpose.value,
                record.action.value,
                contact.id if contact else None,
            )
        )


def _sandbox_message(client: TestClient, body: str, message_id: str) -> None:
    response = client.post(
        "/webhooks/sandbox", json={"from": PHONE, "body": body, "id": message_id}
    )
    assert response.status_code == 200


def test_hook_message_sent_after_send(build: Callable[..., Runtime]) -> None:
    plugin = WriteBackPlugin()
    runtime = build({"writeback": plugin})
    with TestClient(Daemon(runtime).app) as client:
        _sandbox_message(client, "Hi", "m-1")
        drain(runtime)

    sent = [m for m in runtime.store.messages() if m.direction == "out"]
    assert len(sent) == 1
    assert plugin.sent == [(sent[0].id, sent[0].provider_message_id, 1)]


def test_hook_message_sent_retried_after_error(
    build: Callable[..., Runtime], clock: FakeClock
) -> None:
    plugin = WriteBackPlugin(fail_first=True)
    runtime = build({"writeback": plugin})
    with TestClient(Daemon(runtime).app) as client:
        _sandbox_message(client, "Hi", "m-1")
        drain(runtime)
        assert plugin.sent == []
        clock.advance(3600)
        drain(runtime)

    assert len(plugin.sent) == 1


def test_hook_message_sent_not_queued_without_implementation(
    build: Callable[..., Runtime],
) -> None:
    runtime = build({})
    with TestClient(Daemon(runtime).app) as client:
        _sandbox_message(client, "Hi", "m-1")
        drain(runtime)

    kinds = {kind for kind, _key, _outcome in runtime.store.event_outcomes()}
    assert "message_sent" not in kinds


def test_hook_consent_changed_on_stop(build: Callable[..., Runtime]) -> None:
    plugin = WriteBackPlugin()
    runtime = build({"writeback": plugin})
    with TestClient(Daemon(runtime).app) as client:
        _sandbox_message(client, "Hi", "m-1")
        _sandbox_message(client, "STOP", "m-2")
        drain(runtime)

    opt_outs = [entry for entry in plugin.consents if entry[2] == "opt_out"]
    assert sorted(purpose for _a, purpose, _x, _c in opt_outs) == [
        "conversational",
        "informational",
        "promotional",
    ]
    assert {address for address, _p, _x, _c in opt_outs} == {PHONE}
    assert {contact for _a, _p, _x, contact in opt_outs} == {1}


class SyncingCrm:
    """Registers a contact sync over a fixed list of records."""

    def __init__(self, records: list[ContactRecord]) -> None:
        self.records = records
        self.runs: list[bool] = []
        self.lookups: list[ChannelAddress] = []

    @hookimpl
    def register_contact_syncs(
        self, register: Callable[[ContactSync], None], context: PluginContext
    ) -> None:
        def run(progress: SyncProgress, full: bool) -> None:
            self.runs.append(full)
            progress.set_total(len(self.records))
            for record in self.records:
                context.sync_contact(record)
                progress.advance(1)

        register(ContactSync("crm", 3600, run))

    @hookimpl
    def lookup_contact(self, address: ChannelAddress) -> ContactRecord | None:
        self.lookups.append(address)
        return None


def test_hook_register_contact_syncs_command(build: Callable[..., Runtime]) -> None:
    from parley.contact_sync import run_contact_sync

    records = [
        ContactRecord(
            source="crm",
            external_id=str(number),
            first_name=f"Customer {number}",
            phone=f"+1415555{number:04d}",
            fields={"Loyalty Program": "Gold"},
        )
        for number in range(3)
    ]
    crm = SyncingCrm(records)
    runtime = build({"crm": crm})
    output = io.StringIO()
    count = run_contact_sync(
        runtime.loaded, "crm", True, Console(file=output, width=100)
    )

    assert count == 3
    assert crm.runs == [True]
    assert "3/3" in output.getvalue()
    stored = runtime.store.find_contact(
        ChannelAddress(AddressKind.PHONE, "+14155550001")
    )
    assert stored is not None
    assert stored.first_name == "Customer 1"
    assert stored.fields["Loyalty Program"] == "Gold"


def test_hook_register_contact_syncs_no_lookup_after(
    build: Callable[..., Runtime],
) -> None:
    crm = SyncingCrm([ContactRecord(source="crm", external_id="7", phone=PHONE)])
    runtime = build({"crm": crm})
    with TestClient(Daemon(runtime).app) as client:
        poller = next(p for p in runtime.pollers if p.plugin_id == "crm")
        poller.run()
        _sandbox_message(client, "Hi", "m-1")
        drain(runtime)

    assert crm.lookups == []


def test_hook_register_contact_syncs_unknown_plugin(
    build: Callable[..., Runtime],
) -> None:
    from parley.contact_sync import run_contact_sync

    runtime = build({})
    with pytest.raises(ParleyError, match="plugin 'crm' has no contact sync"):
        run_contact_sync(runtime.loaded, "crm", False, Console(file=io.StringIO()))


class CheckingPlugin:
    """Reports a problem from check_config, or raises."""

    def __init__(self, raise_error: bool = False) -> None:
        self.raise_error = raise_error

    @hookimpl
    def check_config(self) -> list[ConfigProblem]:
        if self.raise_error:
            raise ConnectionError("connection refused")
        return [ConfigProblem("error", "crm.fields: property 'tier' does not exist")]


def test_hook_check_config_reports_problem(build: Callable[..., Runtime]) -> None:
    from parley.checks import check_config

    runtime = build({"checking": CheckingPlugin()})
    _issues, problems = check_config(runtime.loaded)

    assert (
        ConfigProblem("error", "crm.fields: property 'tier' does not exist") in problems
    )


def test_hook_check_config_error_names_plugin(build: Callable[..., Runtime]) -> None:
    from parley.checks import check_config

    runtime = build({"checking": CheckingPlugin(raise_error=True)})
    _issues, problems = check_config(runtime.loaded)

    messages = [problem.message for problem in problems if problem.severity == "error"]
    assert any(
        "plugin 'checking' failed in check_config: ConnectionError" in message
        for message in messages
    )


class CredentialPlugin:
    """Reports its credentials as rejected, as a provider would."""

    @hookimpl
    def check_credentials(self, context: PluginContext) -> list[ConfigProblem]:
        return [ConfigProblem("error", "[crm] the token is invalid; set crm.token")]


def test_hook_check_credentials_reaches_doctor(build: Callable[..., Runtime]) -> None:
    from parley.doctor import ERROR, credential_results

    runtime = build({"crm": CredentialPlugin()})
    rows = credential_results(runtime.loaded)

    [row] = [row for row in rows if row.check == "credentials: crm"]
    assert row.status == ERROR
    assert "the token is invalid" in row.detail


class Lifecycle:
    """Records the daemon lifecycle hooks."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    def daemon_started(self, context: PluginContext) -> None:
        self.calls.append("started")

    @hookimpl
    def daemon_stopping(self, context: PluginContext) -> None:
        self.calls.append("stopping")


def test_hook_daemon_started_before_requests(build: Callable[..., Runtime]) -> None:
    lifecycle = Lifecycle()
    runtime = build({"lifecycle": lifecycle})
    with TestClient(Daemon(runtime).app) as client:
        assert lifecycle.calls == ["started"]
        assert client.get("/healthz").status_code == 200


def test_hook_daemon_stopping_after_stop(build: Callable[..., Runtime]) -> None:
    lifecycle = Lifecycle()
    runtime = build({"lifecycle": lifecycle})
    with TestClient(Daemon(runtime).app):
        pass
    assert lifecycle.calls == ["started", "stopping"]


class SettingsPlugin:
    """Declares a settings section, a channel and a webhook route."""

    class Settings(BaseModel):
        greeting: str = "hello"
        retries: int = Field(3, ge=0)

    def __init__(self, channel_id: str = "sandbox", path: str = "") -> None:
        self.channel_id = channel_id
        self.path = path

    @hookimpl
    def register_settings(
        self, register: Callable[[str, type[BaseModel]], None]
    ) -> None:
        register("settingsplugin", self.Settings)

    @hookimpl
    def register_channels(
        self, register: Callable[[Channel], None], context: PluginContext
    ) -> None:
        channel = SandboxChannel(context.settings.data_dir / "other.jsonl")
        channel.id = self.channel_id
        register(channel)

    @hookimpl
    def register_webhooks(self, register: Callable[[WebhookRoute], None]) -> None:
        register(
            WebhookRoute(
                "settingsplugin", self.path, lambda request: WebhookResponse(204)
            )
        )


def _load_with(
    write_config: Callable[..., Path], plugin: object, extra: str = ""
) -> LoadedConfig:
    manager = new_plugin_manager()
    manager.register(parley.sandbox, name="sandbox")
    manager.register(plugin, name="settingsplugin")
    path = write_config(extra)
    with mock.patch("parley.config.load_plugins", return_value=manager):
        return load_config(path, environ={})


def test_hook_register_settings_validated(write_config: Callable[..., Path]) -> None:
    loaded = _load_with(
        write_config, SettingsPlugin("second"), "\n[settingsplugin]\nretries = 5\n"
    )
    settings = loaded.settings.plugin_settings("settingsplugin")
    assert settings is not None
    assert settings.retries == 5
    assert settings.greeting == "hello"


def test_hook_register_settings_error_path(write_config: Callable[..., Path]) -> None:
    with pytest.raises(ConfigError, match="settingsplugin.retries"):
        _load_with(
            write_config, SettingsPlugin("second"), "\n[settingsplugin]\nretries = -1\n"
        )


def test_hook_register_channels_clash(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    loaded = _load_with(write_config, SettingsPlugin("sandbox"))
    with pytest.raises(PluginError, match="channel with id 'sandbox'"):
        collect_channels(PluginContext(loaded.settings, loaded.plugin_manager))


def test_hook_register_webhooks_served(
    write_config: Callable[..., Path], store_url: str, tmp_path: Path
) -> None:
    loaded = _load_with(write_config, SettingsPlugin("second", "/ping"))
    runtime = build_runtime(loaded)
    try:
        with TestClient(Daemon(runtime).app) as client:
            assert client.post("/webhooks/settingsplugin/ping").status_code == 204
            assert client.get("/webhooks/settingsplugin/ping").status_code == 405
    finally:
        runtime.close()


def test_hook_register_webhooks_bad_path(write_config: Callable[..., Path]) -> None:
    loaded = _load_with(write_config, SettingsPlugin("second", "ping"))
    context = PluginContext(loaded.settings, loaded.plugin_manager)
    with pytest.raises(PluginError, match="must be empty or start with '/'"):
        collect_routes(context, {})


class CallPlugin:
    """Records calls and adds one automation action kind."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool, int]] = []
        self.actions: list[int | None] = []

    @hookimpl
    def call_received(self, call: IncomingCall, contact: Contact) -> None:
        self.calls.append((call.call_id, call.missed, contact.id))

    @hookimpl
    def register_automation_kinds(self, register: KindRegistry) -> None:
        register.action("calls.remember", self.remember)

    def remember(self, action: object, run: object, context: object) -> str:
        self.actions.append(getattr(run, "contact_id", None))
        return "remembered"


MISSED_CALL_AUTOMATION = """
[[automations]]
name = "missed call"
type = "follow_up"
trigger = { kind = "missed_call" }
actions = [{ kind = "calls.remember" }]
"""


def run_automations(runtime: Runtime) -> None:
    [job] = [poller for poller in runtime.pollers if poller.name == "automations"]
    job.run()
    drain(runtime)


def test_hook_call_received_once_per_call(build: Callable[..., Runtime]) -> None:
    plugin = CallPlugin()
    runtime = build({"calls": plugin}, MISSED_CALL_AUTOMATION)
    caller = ChannelAddress(AddressKind.PHONE, "(415) 555-0123")

    first = runtime.context.report_call("sandbox", caller, "CA1", "no-answer", True)
    again = runtime.context.report_call("sandbox", caller, "CA1", "no-answer", True)
    drain(runtime)

    assert (first, again) == (True, False)
    [(call_id, missed, contact_id)] = plugin.calls
    assert (call_id, missed) == ("CA1", True)
    contact = runtime.store.find_contact(ChannelAddress(AddressKind.PHONE, PHONE))
    assert contact is not None
    assert contact.id == contact_id


def test_hook_register_automation_kinds_action_runs(
    build: Callable[..., Runtime],
) -> None:
    plugin = CallPlugin()
    runtime = build({"calls": plugin}, MISSED_CALL_AUTOMATION)
    caller = ChannelAddress(AddressKind.PHONE, PHONE)

    runtime.context.report_call("sandbox", caller, "CA2", "busy", True)
    drain(runtime)
    run_automations(runtime)

    [(_call_id, _missed, contact_id)] = plugin.calls
    assert plugin.actions == [contact_id]


def test_hook_register_automation_kinds_unknown_kind_stops_start(
    build: Callable[..., Runtime],
) -> None:
    with pytest.raises(ConfigError, match="calls.forget"):
        build(
            {"calls": CallPlugin()},
            MISSED_CALL_AUTOMATION.replace("calls.remember", "calls.forget"),
        )


def test_every_hookspec_has_a_test() -> None:
    from parley import hookspecs

    specs = [
        name
        for name in dir(hookspecs)
        if hasattr(getattr(hookspecs, name), "parley_spec")
    ]
    source = Path(__file__).read_text()
    missing = [spec for spec in specs if f"def test_hook_{spec}_" not in source]
    assert specs
    assert missing == [], f"hook specs without a test here: {missing}"


STARTER_PLUGIN = """
from parley import StarterConfig, hookimpl


@hookimpl
def starter_config():
    return StarterConfig(
        section="[acmestarter]\\n# The API key from the Acme console.\\napi_key = \\"\\"\\n",
        templates={"order_shipped": "Acme says {{Order Number}} shipped."},
    )
"""


def test_hook_starter_config_in_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tomllib

    from parley.plugins import InstalledPlugin
    from parley.starter import render_starter

    (tmp_path / "acme_starter_plugin.py").write_text(STARTER_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    fake = {
        "acmestarter": InstalledPlugin("acmestarter", "acme_starter_plugin", None, None)
    }
    monkeypatch.setattr("parley.starter.installed_plugins", lambda: fake)

    config = tomllib.loads(render_starter(["acmestarter"]))

    assert config["plugins"]["enabled"] == ["sandbox", "acmestarter"]
    assert config["acmestarter"] == {"api_key": ""}
    assert config["templates"]["order_shipped"] == "Acme says {{Order Number}} shipped."
    assert "order_confirmed" in config["templates"]


def test_hook_message_received_failure_logged(
    build: Callable[..., Runtime], caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        @hookimpl
        def message_received(self) -> None:
            raise RuntimeError("plugin bug")

    runtime = build({"broken": Broken()})
    with TestClient(Daemon(runtime).app) as client:
        client.post(
            "/webhooks/sandbox", json={"from": PHONE, "body": "Hi", "id": "m-9"}
        )
        drain(runtime)
    assert "failed in message_received for message m-9" in caplog.text
    assert [m.kind for m in runtime.store.messages() if m.direction == "out"] == [
        "auto_reply"
    ]
    assert runtime.store.counts()["pending_events"] == 0


def test_hook_resolve_field_outside_transaction(build: Callable[..., Runtime]) -> None:
    class StoreReader:
        @hookimpl
        def resolve_field(self, name: str, context: PluginContext) -> str | None:
            if name != "favourite colour":
                return None
            context.set_state("reader", "seen", "yes")
            return "blue"

    templates = '{"order_confirmed": "Colour: {{favourite colour | none}}"}'
    runtime = build({"reader": StoreReader()}, environ={"PARLEY_TEMPLATES": templates})
    runtime.context.accept_order_events("teststore", "d-1", "t", [confirmed()])
    drain(runtime)
    assert [m.body for m in runtime.store.messages()] == ["Colour: blue"]
