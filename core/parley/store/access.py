"""API tokens and the append-only audit log."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    insert,
    select,
    update,
)

from parley.store import schema
from parley.store.base import StoreBase
from parley.store.desk_records import AuditEntry, TokenRecord
from parley.store.engine import as_utc


class AccessStore(StoreBase):
    """Hashed API tokens and the audit log of every write made through them."""

    # Tokens

    def add_token(
        self,
        name: str,
        role: str,
        team: str | None,
        token_hash: str,
        now: datetime,
        conn: Connection | None = None,
    ) -> TokenRecord | None:
        """Store a new token's hash; None when an unrevoked token has that name."""
        table = schema.api_tokens
        values = {
            "name": name,
            "role": role,
            "team": team,
            "token_hash": token_hash,
            "created_at": now,
        }
        with self._tx(conn) as tx:
            if not self._insert_ignore(tx, table, values):
                return None
            row = tx.execute(
                select(table).where(table.c.token_hash == token_hash)
            ).one()
        return _token(row)

    def token_by_hash(
        self, token_hash: str, conn: Connection | None = None
    ) -> TokenRecord | None:
        """Return the token with this SHA-256 hash, revoked or not, or None."""
        table = schema.api_tokens
        with self._tx(conn) as tx:
            row = tx.execute(
                select(table).where(table.c.token_hash == token_hash)
            ).first()
        return _token(row) if row is not None else None

    def active_token(
        self, name: str, conn: Connection | None = None
    ) -> TokenRecord | None:
        """Return the unrevoked token with this name, or None."""
        table = schema.api_tokens
        with self._tx(conn) as tx:
            row = tx.execute(
                select(table).where(table.c.name == name, table.c.revoked_at.is_(None))
            ).first()
        return _token(row) if row is not None else None

    def tokens(self) -> list[TokenRecord]:
        """Return every token, revoked ones included, oldest first."""
        table = schema.api_tokens
        with self.read_engine.connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.id)).all()
        return [_token(row) for row in rows]

    def revoke_token(
        self, name: str, now: datetime, conn: Connection | None = None
    ) -> TokenRecord | None:
        """Revoke the unrevoked token with this name; None when there is none."""
        table = schema.api_tokens
        with self._tx(conn) as tx:
            found = self.active_token(name, conn=tx)
            if found is None:
                return None
            tx.execute(
                update(table)
                .where(table.c.id == found.id, table.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return TokenRecord(
            id=found.id,
            name=found.name,
            role=found.role,
            team=found.team,
            created_at=found.created_at,
            revoked_at=now,
        )

    # Audit log

    def add_audit(
        self,
        actor: str,
        action: str,
        target_type: str,
        target_id: str | int,
        detail: Mapping[str, Any],
        now: datetime,
        conversation_id: int | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Append a row to the audit log and return its id.

        Rows are never changed afterwards: the database rejects UPDATE and
        DELETE on the table.
        """
        with self._tx(conn) as tx:
            result = tx.execute(
                insert(schema.audit_log).values(
                    occurred_at=now,
                    actor=actor,
                    action=action,
                    target_type=target_type,
                    target_id=str(target_id),
                    conversation_id=conversation_id,
                    detail=dict(detail),
                )
            )
        return int(result.inserted_primary_key[0])

    def audit_entries(
        self,
        limit: int,
        before_id: int | None = None,
        conversation_id: int | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditEntry]:
        """Return audit rows that match the filters, newest first.

        Args:
            limit: the maximum number of rows.
            before_id: only rows older than this row id, to page on.
            conversation_id: only rows about this conversation.
            actor: only rows written by this token name.
            action: only rows of this action, such as ``conversation.assign``.
            since: only rows at or after this time.
        """
        table = schema.audit_log
        query = select(table).order_by(table.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(table.c.id < before_id)
        if conversation_id is not None:
            query = query.where(table.c.conversation_id == conversation_id)
        if actor is not None:
            query = query.where(table.c.actor == actor)
        if action is not None:
            query = query.where(table.c.action == action)
        if since is not None:
            query = query.where(table.c.occurred_at >= since)
        with self.read_engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AuditEntry(
                id=row.id,
                occurred_at=as_utc(row.occurred_at),  # type: ignore[arg-type]
                actor=row.actor,
                action=row.action,
                target_type=row.target_type,
                target_id=row.target_id,
                conversation_id=row.conversation_id,
                detail=dict(row.detail or {}),
            )
            for row in rows
        ]


def _token(row: Any) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        name=row.name,
        role=row.role,
        team=row.team,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
        revoked_at=as_utc(row.revoked_at),
    )
