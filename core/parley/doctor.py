"""``parley doctor``: check an installation and report what to fix.

The checks run in order: the configuration (the ``parley config check``
rules), the store and its migrations, the encryption keys, each enabled
plugin's credentials (through the ``check_credentials`` hook, one read-only
provider request each) and the public webhook URL. Nothing is written: the
store is not created or migrated, and with ``probe`` the only request to
the public URL is a GET of ``/healthz``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from parley.checks import ConfigProblem, check_config
from parley.config import LoadedConfig
from parley.context import PluginContext
from parley.errors import ParleyError, PluginError
from parley.plugins import plugin_id_of
from parley.runtime import collect_channels, collect_routes
from parley.store import migrations, schema
from parley.store.engine import create_store_engine, safe_url

logger = logging.getLogger(__name__)

OK = "ok"
WARNING = "warning"
ERROR = "error"
SKIPPED = "skipped"

PROBE_TIMEOUT_SECONDS = 10.0

# Severities of ConfigProblem mapped to doctor statuses.
_STATUS_OF_SEVERITY = {"error": ERROR, "warning": WARNING, "info": OK}


@dataclass(frozen=True)
class CheckResult:
    """One row of the doctor's report.

    Attributes:
        check: what was checked, such as ``store`` or ``credentials: twilio``.
        status: ``ok``, ``warning``, ``error`` or ``skipped``.
        detail: what was found.
        fix: what to do about it; empty when nothing needs doing.
    """

    check: str
    status: str
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        """Return the row as JSON-compatible data."""
        return asdict(self)


def run_doctor(
    loaded: LoadedConfig,
    probe: bool = False,
    environ: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> list[CheckResult]:
    """Run every check and return the rows in order.

    Args:
        loaded: the validated configuration.
        probe: also GET ``<public_url>/healthz``.
        environ: environment for the key check; ``os.environ`` when omitted.
        transport: an httpx transport for the probe; None uses the network.
    """
    results = config_results(loaded)
    engine = _open_engine(loaded, results)
    try:
        if engine is not None:
            results.extend(migration_results(engine))
        results.extend(key_results(loaded, engine, environ))
    finally:
        if engine is not None:
            engine.dispose()
    results.extend(credential_results(loaded))
    results.extend(public_url_results(loaded, probe, transport))
    return results


def needs_fixing(results: list[CheckResult]) -> bool:
    """Return True when any row is an error."""
    return any(result.status == ERROR for result in results)


# Configuration


def config_results(loaded: LoadedConfig) -> list[CheckResult]:
    """Run the ``parley config check`` rules; one row per error or warning."""
    try:
        issues, problems = check_config(loaded)
    except PluginError as err:
        return [CheckResult("config", ERROR, str(err), "fix or disable the plugin")]

    rows = [
        CheckResult(
            "config", _STATUS_OF_SEVERITY.get(item.severity, ERROR), item.message
        )
        for item in [*issues, *problems]
        if item.severity in ("error", "warning")
    ]
    if not any(row.status == ERROR for row in rows):
        source = str(loaded.path) if loaded.path else "defaults and environment"
        templates = len(loaded.settings.templates)
        rows.insert(
            0, CheckResult("config", OK, f"{source} is valid ({templates} templates)")
        )
    return rows


# Store, migrations and keys


def _open_engine(loaded: LoadedConfig, results: list[CheckResult]) -> Engine | None:
    """Connect to the store without creating it; append the store row."""
    url = loaded.settings.store_url
    display_url = safe_url(url)
    missing = _missing_sqlite_file(url)
    if missing is not None:
        results.append(
            CheckResult(
                "store",
                WARNING,
                f"no SQLite store at {missing} yet",
                "`parley run` creates it; if the daemon already ran, check "
                "[store] url and data_dir",
            )
        )
        return None
    try:
        engine = create_store_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (ParleyError, SQLAlchemyError) as err:
        results.append(
            CheckResult(
                "store",
                ERROR,
                f"cannot connect to {display_url}: {_error_text(err)}",
                "check [store] url (PARLEY_STORE__URL) and that the database is running",
            )
        )
        return None
    results.append(CheckResult("store", OK, f"connected to {display_url}"))
    return engine


def _missing_sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (
        None,
        "",
        ":memory:",
    ):
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def migration_results(engine: Engine) -> list[CheckResult]:
    """Compare the store's applied migrations with the ones this version has."""
    latest = migrations.latest_version()
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(schema.schema_migrations.name):
                return [
                    CheckResult(
                        "migrations",
                        WARNING,
                        "the store has no tables yet",
                        "`parley run` creates them at start",
                    )
                ]
            applied = migrations.applied_versions(conn)
    except SQLAlchemyError as err:
        return [
            CheckResult(
                "migrations",
                ERROR,
                f"cannot read schema_migrations: {_error_text(err)}",
                "check that [store] url names a parley database",
            )
        ]
    return [_describe_migrations(applied, latest)]


def _describe_migrations(applied: set[int], latest: int) -> CheckResult:
    newer = sorted(version for version in applied if version > latest)
    if newer:
        return CheckResult(
            "migrations",
            ERROR,
            f"the store has migration(s) {', '.join(map(str, newer))}, newer than "
            f"this parley (latest {latest})",
            "upgrade parley to the version that migrated the store",
        )
    pending = sorted(set(range(1, latest + 1)) - applied)
    if pending:
        return CheckResult(
            "migrations",
            WARNING,
            f"{len(pending)} migration(s) pending: {', '.join(map(str, pending))}",
            "`parley run` applies them at start; back up the store first",
        )
    return CheckResult("migrations", OK, f"current (version {latest})")


def key_results(
    loaded: LoadedConfig, engine: Engine | None, environ: Mapping[str, str] | None
) -> list[CheckResult]:
    """Find the encryption keys and check them against the store, read-only."""
    from parley.crypto import (
        EncryptionKeyError,
        Keyring,
        default_key_file,
        keys_configured,
    )
    from parley.store.encryption import unlock

    environ = os.environ if environ is None else environ
    try:
        keyring = Keyring.resolve(environ)
    except EncryptionKeyError as err:
        if not keys_configured(environ) and not _store_has_keys(engine):
            return [
                CheckResult(
                    "keys",
                    WARNING,
                    "no key configured and the store is new: the first command "
                    f"that opens it writes a key to {default_key_file()}",
                    "back that file up once it exists; the data cannot be read "
                    "without it",
                )
            ]
        return [
            CheckResult("keys", ERROR, str(err), "`parley keys generate` creates one")
        ]

    found = (
        f"{len(keyring.key_ids)} key(s) configured; new data is encrypted with "
        f"{keyring.current_id!r}"
    )
    if engine is None:
        return [CheckResult("keys", OK, f"{found}; not checked against the store")]
    try:
        with engine.connect() as conn:
            unlock(conn, keyring, schema.encryption_keys)
    except EncryptionKeyError as err:
        return [CheckResult("keys", ERROR, str(err))]
    except SQLAlchemyError as err:
        return [
            CheckResult(
                "keys",
                WARNING,
                f"{found}; reading the store's keys failed: {_error_text(err)}",
            )
        ]
    return [CheckResult("keys", OK, f"{found}; they match the store")]


def _store_has_keys(engine: Engine | None) -> bool:
    """Return True when the store exists and already has encryption keys."""
    if engine is None:
        return False
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table(schema.encryption_keys.name)
    except SQLAlchemyError:
        return True


# Plugins


def credential_results(loaded: LoadedConfig) -> list[CheckResult]:
    """Call each enabled plugin's ``check_credentials``; one row per result."""
    context = PluginContext(loaded.settings, loaded.plugin_manager)
    hook = loaded.plugin_manager.hook.check_credentials
    checked: set[str] = set()
    rows: list[CheckResult] = []
    for implementation in hook.get_hookimpls():
        plugin_id = plugin_id_of(loaded.plugin_manager, implementation.plugin)
        checked.add(plugin_id)
        rows.extend(_plugin_credentials(plugin_id, implementation.function, context))
    for plugin_id in loaded.settings.plugins.enabled:
        if plugin_id not in checked:
            rows.append(
                CheckResult(
                    f"credentials: {plugin_id}",
                    SKIPPED,
                    "the plugin has no credential check",
                )
            )
    return rows


def _plugin_credentials(
    plugin_id: str, check: Callable[..., object], context: PluginContext
) -> list[CheckResult]:
    name = f"credentials: {plugin_id}"
    try:
        found = check(context=context) or []
    except Exception as err:  # noqa: BLE001 - one broken plugin must not hide the others
        logger.warning("check_credentials of plugin %s failed", plugin_id, exc_info=err)
        return [
            CheckResult(
                name,
                ERROR,
                f"the check failed: {type(err).__name__}: {err}",
                f"report it to the maintainers of plugin {plugin_id!r}",
            )
        ]
    rows: list[CheckResult] = []
    for item in found:  # type: ignore[attr-defined]
        if not isinstance(item, ConfigProblem):
            rows.append(
                CheckResult(
                    name,
                    ERROR,
                    f"the check returned {type(item).__name__}, not parley.ConfigProblem",
                    f"report it to the maintainers of plugin {plugin_id!r}",
                )
            )
            continue
        rows.append(
            CheckResult(
                name, _STATUS_OF_SEVERITY.get(item.severity, ERROR), item.message
            )
        )
    return rows


# Public URL


def public_url_results(
    loaded: LoadedConfig, probe: bool, transport: httpx.BaseTransport | None
) -> list[CheckResult]:
    """Check ``[server] public_url`` and, with ``probe``, GET its ``/healthz``."""
    public_url = loaded.settings.server.public_url
    paths = webhook_paths(loaded)
    if not public_url:
        if not paths:
            return [
                CheckResult(
                    "public URL", SKIPPED, "not set, and no plugin serves webhooks"
                )
            ]
        return [
            CheckResult(
                "public URL",
                WARNING,
                f"[server] public_url is not set; providers must reach {', '.join(paths)}",
                "set [server] public_url to the https URL that reaches this daemon, "
                "such as https://hooks.example.com",
            )
        ]

    problem = url_problem(public_url)
    if problem is not None:
        return [CheckResult("public URL", ERROR, problem, "fix [server] public_url")]

    base = public_url.rstrip("/")
    served = ", ".join(base + path for path in paths) or "(no webhook paths)"
    rows = [CheckResult("public URL", OK, f"{base} serves {served}")]
    if probe:
        rows.append(probe_healthz(base, transport))
    return rows


def url_problem(url: str) -> str | None:
    """Return why a public URL is unusable, or None when it is well formed."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return (
            f"{url!r} does not use https; providers sign and send webhooks to "
            "https URLs only"
        )
    if not parts.hostname:
        return f"{url!r} has no host name"
    if parts.query or parts.fragment:
        return f"{url!r} has a query or fragment; give only scheme, host and path"
    if parts.hostname in ("localhost", "127.0.0.1", "::1"):
        return f"{url!r} names this machine; providers cannot reach it"
    return None


def webhook_paths(loaded: LoadedConfig) -> list[str]:
    """Return the webhook paths the enabled plugins serve."""
    context = PluginContext(loaded.settings, loaded.plugin_manager)
    try:
        channels = collect_channels(context)
        routes = collect_routes(context, channels)
    except PluginError:
        # The config rows already report the failing plugin.
        return []
    paths = {route.full_path for route in routes}
    paths |= {f"/webhooks/{channel_id}" for channel_id in channels}
    return sorted(paths)


def probe_healthz(base: str, transport: httpx.BaseTransport | None) -> CheckResult:
    """GET ``<base>/healthz`` and check that this daemon responds."""
    url = f"{base}/healthz"
    try:
        with httpx.Client(timeout=PROBE_TIMEOUT_SECONDS, transport=transport) as client:
            response = client.get(url)
    except httpx.HTTPError as err:
        return CheckResult(
            "public URL probe",
            ERROR,
            f"GET {url} failed: {type(err).__name__}",
            "check DNS, the TLS certificate and the proxy in front of the daemon, "
            "and that `parley run` is running",
        )
    try:
        alive = response.json().get("status") == "alive"
    except ValueError:
        alive = False
    if response.status_code == 200 and alive:
        return CheckResult("public URL probe", OK, f"GET {url} reached the daemon")
    return CheckResult(
        "public URL probe",
        ERROR,
        f"GET {url} returned HTTP {response.status_code} without parley's health answer",
        "route the public URL to the daemon's [server] host and port",
    )


def _error_text(err: Exception) -> str:
    original = getattr(err, "orig", None)
    return f"{type(err).__name__}: {original if original is not None else err}"
