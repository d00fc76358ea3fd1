"""Fixtures: a real config, plugin manager and store for each test.

The store is a SQLite file, and also a fresh PostgreSQL schema when
``PARLEY_TEST_DATABASE_URL`` names a server (``.ci/run`` sets it).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from shopify_support import (
    SECRET,
    SHOP,
    ContextFactory,
    Handler,
    route_of,
    shopify_toml,
    write_config,
)
from sqlalchemy import create_engine, text

import parley.config
import parley.context
import parley.store
from parley import PluginContext
from parley.context import Clock, utc_now

PG_ENV = "PARLEY_TEST_DATABASE_URL"


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty store: a SQLite file, or a new schema on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'parley.db'}"
        return

    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set; the PostgreSQL variant needs a server")
    schema = f"shopify_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def make_context(tmp_path: Path, store_url: str) -> Iterator[ContextFactory]:
    """Return a factory of contexts over the parametrized store.

    The factory takes the shops (default: the fixtures' shop and secret),
    ``confirmed_on``, further TOML for the ``[shopify]`` section (``extra``)
    and the context's clock.
    """
    stores: list[parley.store.Store] = []

    def factory(
        shops: list[dict[str, Any]] | None = None,
        confirmed_on: str | None = None,
        extra: str = "",
        clock: Clock = utc_now,
    ) -> PluginContext:
        shops = shops or [{"domain": SHOP, "client_secret": SECRET}]
        body = shopify_toml(shops, confirmed_on) + extra
        path = write_config(tmp_path, store_url, body)
        loaded = parley.config.load_config(path, environ={})
        store = parley.store.open_store(loaded.settings.store_url)
        stores.append(store)
        return parley.context.PluginContext(
            loaded.settings, loaded.plugin_manager, store, clock=clock
        )

    try:
        yield factory
    finally:
        for store in stores:
            store.close()


@pytest.fixture
def context(make_context: ContextFactory) -> PluginContext:
    """A context with the fixtures' shop and secret."""
    return make_context()


@pytest.fixture
def handler(context: PluginContext) -> Handler:
    """The webhook handler of the default context."""
    return route_of(context).handler
