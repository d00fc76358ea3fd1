"""Shared fixtures: configurations, stores on SQLite and PostgreSQL, runtimes."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from parley.config import LoadedConfig, load_config
from parley.runtime import Runtime, build_runtime

PG_ENV = "PARLEY_TEST_DATABASE_URL"

# Most tests exercise other parts of the path, so they run without consent
# rules, quiet hours or the opt-out notice; the gate's tests pass their own.
TEST_COMPLIANCE = """
[compliance]
require_informational_consent = false
sending_window = "00:00-00:00"
opt_out_notice = ""
"""

BASE_TOML = """
[business]
name = "Harbor & Pine"


[order_updates.templates]
confirmed = "order_confirmed"
shipped = "order_shipped"
cancelled = "order_cancelled"

[replies]
first_message = "welcome"

[templates]
welcome = "Hi {{First Name | there}}, thanks for texting {{Business Name}}. Reply STOP to opt out."
order_confirmed = "Hi {{First Name | there}}, thanks for your order {{Order Number}}."
order_shipped = "Hi {{First Name | there}}, your order {{Order Number}} has shipped: {{Tracking URL | no tracking yet}}"
order_cancelled = "Hi {{First Name}}, your order {{Order Number}} has been cancelled."
opt_out_confirmation = "You are unsubscribed from {{Business Name}}. Reply START to resubscribe."
help = "{{Business Name}} help: reply here. STOP to opt out."
"""


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 17, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _postgres_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store URL: a SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'parley.db'}"
        return

    base = _postgres_url()
    if base is None:
        pytest.skip(
            f"{PG_ENV} is not set; PostgreSQL tests need a server (.ci/run sets it)"
        )
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a parley.toml into tmp_path and return its path."""

    def write(
        extra: str = "",
        plugins: tuple[str, ...] = ("sandbox",),
        store_url: str | None = None,
        compliance: str = TEST_COMPLIANCE,
    ) -> Path:
        path = tmp_path / "parley.toml"
        enabled = ", ".join(f'"{plugin}"' for plugin in plugins)
        store = f'[store]\nurl = "{store_url}"\n' if store_url else ""
        head = f'data_dir = "{tmp_path / "data"}"\n\n[plugins]\nenabled = [{enabled}]\n\n{store}'
        path.write_text(
            head + compliance + textwrap.dedent(BASE_TOML) + textwrap.dedent(extra),
            encoding="utf-8",
        )
        return path

    return write


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_runtime(
    write_config: Callable[..., Path], store_url: str, clock: FakeClock
) -> Iterator[Callable[..., Runtime]]:
    """Build runtimes on the parametrized store; closes them afterwards."""
    built: list[Runtime] = []

    def make(
        extra: str = "",
        plugins: tuple[str, ...] = ("sandbox",),
        compliance: str = TEST_COMPLIANCE,
        compliance_extra: str = "",
    ) -> Runtime:
        path = write_config(
            extra,
            plugins=plugins,
            store_url=store_url,
            compliance=compliance + compliance_extra,
        )
        loaded: LoadedConfig = load_config(path, environ={})
        runtime = build_runtime(loaded, clock=clock)
        built.append(runtime)
        return runtime

    yield make
    for runtime in built:
        runtime.close()


def drain(runtime: Runtime, rounds: int = 20) -> None:
    """Run the event and outbox workers until neither finds work."""
    for _ in range(rounds):
        busy = runtime.event_worker.run_once() + runtime.outbox_worker.run_once()
        if not busy:
            return
    raise AssertionError("workers still busy after 20 rounds")
