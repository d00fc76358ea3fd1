"""Schema migrations, applied in order and recorded in ``schema_migrations``.

Each migration is a function of a connection inside a transaction. A new
schema change is a new function appended to ``MIGRATIONS``; a released
migration is never edited.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Table, inspect, select, text

from parley.store import schema
from parley.store.encryption import dialect_cipher, encrypted_columns
from parley.store.rekey import HASHED_COLUMNS, encrypt_existing_rows, encrypted_tables

logger = logging.getLogger(__name__)


def _create_initial_tables(connection: Connection) -> None:
    # Creates the tables as the schema module describes them today, so later
    # migrations check whether their change is already there.
    tables = [
        table
        for table in schema.metadata.sorted_tables
        if table.name != "schema_migrations"
    ]
    schema.metadata.create_all(connection, tables=tables)


def _add_event_outcome(connection: Connection) -> None:
    columns = {column["name"] for column in inspect(connection).get_columns("events")}
    if "outcome" not in columns:
        connection.execute(text("ALTER TABLE events ADD COLUMN outcome TEXT"))


def _add_contact_sources_and_message_fields(connection: Connection) -> None:
    columns = {column["name"] for column in inspect(connection).get_columns("messages")}
    if "fields" not in columns:
        connection.execute(text("ALTER TABLE messages ADD COLUMN fields JSON"))
    schema.contact_sources.create(connection, checkfirst=True)


def _add_support_desk(connection: Connection) -> None:
    _add_missing_columns(
        connection,
        schema.conversations,
        ("assigned_agent", "assigned_team", "closed_at"),
    )
    _add_missing_columns(connection, schema.messages, ("author",))
    for index in schema.conversations.indexes:
        index.create(connection, checkfirst=True)
    for table in (
        schema.conversation_assignments,
        schema.conversation_states,
        schema.conversation_notes,
        schema.contact_lists,
        schema.contact_list_members,
        schema.api_tokens,
        schema.audit_log,
    ):
        table.create(connection, checkfirst=True)
    _make_audit_log_append_only(connection)


def _add_missing_columns(
    connection: Connection, table: Table, names: tuple[str, ...]
) -> None:
    present = {column["name"] for column in inspect(connection).get_columns(table.name)}
    for name in names:
        if name in present:
            continue
        column_type = table.c[name].type.compile(dialect=connection.dialect)
        connection.exec_driver_sql(
            f"ALTER TABLE {table.name} ADD COLUMN {name} {column_type}"
        )


def _make_audit_log_append_only(connection: Connection) -> None:
    # Triggers make the database itself reject changes to audit rows, so no
    # code path, present or future, can rewrite the record.
    if connection.dialect.name == "sqlite":
        for operation in ("UPDATE", "DELETE"):
            connection.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{operation.lower()} "
                f"BEFORE {operation} ON audit_log BEGIN "
                "SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
        return
    connection.exec_driver_sql(
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'audit_log is append-only'; END $$"
    )
    connection.exec_driver_sql(
        "DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log"
    )
    connection.exec_driver_sql(
        "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )
    connection.exec_driver_sql(
        "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log"
    )
    connection.exec_driver_sql(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
    )


def _add_csat_surveys(connection: Connection) -> None:
    schema.csat_surveys.create(connection, checkfirst=True)


def _add_automation_runs(connection: Connection) -> None:
    schema.automation_runs.create(connection, checkfirst=True)


def _encrypt_personal_data(connection: Connection) -> None:
    # Tables that later migrations create are encrypted from the start.
    present = set(inspect(connection).get_table_names())
    tables = [table for table in encrypted_tables() if table.name in present]
    for table_name, (hash_column, _source) in HASHED_COLUMNS.items():
        _add_missing_columns(
            connection, schema.metadata.tables[table_name], (hash_column,)
        )
    if connection.dialect.name == "postgresql":
        _drop_plaintext_constraints(connection, tables)
    connection.exec_driver_sql("DROP INDEX IF EXISTS ix_consent_address")
    schema.encryption_keys.create(connection, checkfirst=True)
    schema.key_rotations.create(connection, checkfirst=True)

    # NOTE: every existing row is rewritten in this one migration
    # transaction, so the first start of a large store takes that long.
    cipher = dialect_cipher(connection.dialect)
    changed = encrypt_existing_rows(connection, cipher, tables)
    logger.info("encrypted personal data in %d existing row(s)", changed)
    for table_name in HASHED_COLUMNS:
        for index in schema.metadata.tables[table_name].indexes:
            index.create(connection, checkfirst=True)


def _drop_plaintext_constraints(connection: Connection, tables: list[Table]) -> None:
    # Ciphertext is longer than the plaintext and JSON becomes an encrypted
    # string, so encrypted columns become TEXT. The unique constraints on
    # plaintext addresses are replaced by unique indexes on their hashes.
    for table in tables:
        for column in encrypted_columns(table):
            connection.exec_driver_sql(
                f"ALTER TABLE {table.name} ALTER COLUMN {column.name} TYPE TEXT "
                f"USING {column.name}::text"
            )
    for table_name, constraint in (
        ("contact_addresses", "uq_contact_addresses_kind_value"),
        ("conversations", "uq_conversations_channel_address"),
    ):
        connection.exec_driver_sql(
            f"ALTER TABLE {table_name} DROP CONSTRAINT IF EXISTS {constraint}"
        )


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "initial tables", _create_initial_tables),
    (2, "events.outcome", _add_event_outcome),
    (3, "contact_sources, messages.fields", _add_contact_sources_and_message_fields),
    (
        4,
        "support desk: assignments, notes, lists, tokens, audit log",
        _add_support_desk,
    ),
    (5, "csat_surveys", _add_csat_surveys),
    (6, "automation_runs", _add_automation_runs),
    (7, "encrypt personal data, add lookup hashes", _encrypt_personal_data),
]


def applied_versions(connection: Connection) -> set[int]:
    """Return the migration versions already applied."""
    rows = connection.execute(select(schema.schema_migrations.c.version))
    return {row.version for row in rows}


def migrate(connection: Connection) -> list[int]:
    """Apply every pending migration; return the versions applied now."""
    schema.schema_migrations.create(connection, checkfirst=True)
    done = applied_versions(connection)
    applied = []
    for version, name, step in MIGRATIONS:
        if version in done:
            continue
        logger.info("applying store migration %d: %s", version, name)
        step(connection)
        connection.execute(
            schema.schema_migrations.insert().values(
                version=version, name=name, applied_at=datetime.now(UTC)
            )
        )
        applied.append(version)
    return applied


def latest_version() -> int:
    """Return the version the code expects the store to be at."""
    return MIGRATIONS[-1][0]
