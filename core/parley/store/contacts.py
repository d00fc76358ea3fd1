"""Contacts and their channel addresses."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    delete,
    insert,
    select,
    update,
)

from parley.models import (
    AddressKind,
    ChannelAddress,
    Contact,
    ContactRecord,
)
from parley.store import schema
from parley.store.base import StoreBase

logger = logging.getLogger(__name__)


class ContactStore(StoreBase):
    """Contacts and their channel addresses."""

    # Contacts

    def find_contact(
        self, address: ChannelAddress, conn: Connection | None = None
    ) -> Contact | None:
        """Return the contact that owns an address, or None."""
        table = schema.contact_addresses
        with self._tx(conn) as tx:
            contact_id = tx.execute(
                select(table.c.contact_id).where(
                    table.c.kind == address.kind.value,
                    table.c.value_hash == self.lookup_hash(address.value),
                )
            ).scalar()
            if contact_id is None:
                return None
            return self.get_contact(contact_id, conn=tx)

    def find_contact_any(
        self, addresses: Sequence[ChannelAddress], conn: Connection | None = None
    ) -> Contact | None:
        """Return the contact that owns any of the addresses, trying them in order."""
        with self._tx(conn) as tx:
            for address in addresses:
                contact = self.find_contact(address, conn=tx)
                if contact is not None:
                    return contact
        return None

    def get_contact(
        self, contact_id: int, conn: Connection | None = None
    ) -> Contact | None:
        """Return a contact by id, or None."""
        with self._tx(conn) as tx:
            row = tx.execute(
                select(schema.contacts).where(schema.contacts.c.id == contact_id)
            ).first()
            if row is None:
                return None
            address_rows = tx.execute(
                select(schema.contact_addresses)
                .where(schema.contact_addresses.c.contact_id == contact_id)
                .order_by(schema.contact_addresses.c.id)
            ).all()
        return Contact(
            id=row.id,
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            phone=row.phone,
            time_zone=row.time_zone,
            fields=dict(row.fields or {}),
            addresses=tuple(
                ChannelAddress(AddressKind(a.kind), a.value) for a in address_rows
            ),
        )

    def save_contact(
        self,
        merged: ContactRecord,
        addresses: Sequence[ChannelAddress],
        now: datetime,
        contact_id: int | None = None,
        sources: Mapping[str, str] | None = None,
        conn: Connection | None = None,
    ) -> Contact:
        """Create or update a contact and attach addresses it does not have yet.

        An address already attached to another contact stays with that
        contact; the conflict is logged by contact id.
        """
        values = {
            "first_name": merged.first_name,
            "last_name": merged.last_name,
            "email": merged.email,
            "phone": merged.phone,
            "time_zone": merged.time_zone,
            "fields": dict(merged.fields),
            "sources": dict(sources or {}),
            "updated_at": now,
        }
        with self._tx(conn) as tx:
            if contact_id is None:
                result = tx.execute(
                    insert(schema.contacts).values(created_at=now, **values)
                )
                contact_id = int(result.inserted_primary_key[0])
            else:
                tx.execute(
                    update(schema.contacts)
                    .where(schema.contacts.c.id == contact_id)
                    .values(**values)
                )
            for address in addresses:
                self._attach_address(tx, contact_id, address, now)
            contact = self.get_contact(contact_id, conn=tx)
        assert contact is not None
        return contact

    # Each source's record of a contact

    def contact_for_source(
        self, source: str, external_id: str, conn: Connection | None = None
    ) -> int | None:
        """Return the id of the contact a source knows by its own id, or None."""
        table = schema.contact_sources
        with self._tx(conn) as tx:
            return tx.execute(
                select(table.c.contact_id)
                .where(table.c.source == source, table.c.external_id == external_id)
                .order_by(table.c.id)
                .limit(1)
            ).scalar()

    def source_records(
        self, contact_id: int, conn: Connection | None = None
    ) -> dict[str, dict[str, Any]]:
        """Return each source's stored record of a contact, keyed by source."""
        table = schema.contact_sources
        with self._tx(conn) as tx:
            rows = tx.execute(
                select(table.c.source, table.c.record)
                .where(table.c.contact_id == contact_id)
                .order_by(table.c.id)
            ).all()
        return {row.source: dict(row.record) for row in rows}

    def put_source_record(
        self,
        contact_id: int,
        source: str,
        external_id: str | None,
        record: Mapping[str, Any],
        now: datetime,
        conn: Connection | None = None,
    ) -> None:
        """Store a source's record of a contact, replacing its previous one."""
        table = schema.contact_sources
        values = {
            "external_id": external_id,
            "record": dict(record),
            "updated_at": now,
        }
        statement = (
            self._dialect_insert(table)
            .values(contact_id=contact_id, source=source, **values)
            .on_conflict_do_update(
                index_elements=[table.c.contact_id, table.c.source], set_=values
            )
        )
        with self._tx(conn) as tx:
            tx.execute(statement)

    def delete_source_record(
        self, contact_id: int, source: str, conn: Connection | None = None
    ) -> bool:
        """Delete a source's record of a contact; False when there was none."""
        table = schema.contact_sources
        with self._tx(conn) as tx:
            result = tx.execute(
                delete(table).where(
                    table.c.contact_id == contact_id, table.c.source == source
                )
            )
        return bool(result.rowcount)

    def _attach_address(
        self, conn: Connection, contact_id: int, address: ChannelAddress, now: datetime
    ) -> None:
        table = schema.contact_addresses
        value_hash = self.lookup_hash(address.value)
        owner = conn.execute(
            select(table.c.contact_id).where(
                table.c.kind == address.kind.value, table.c.value_hash == value_hash
            )
        ).scalar()
        if owner == contact_id:
            return
        if owner is not None:
            logger.warning(
                "address of kind %s already belongs to contact %s; not attached to contact %s",
                address.kind.value,
                owner,
                contact_id,
            )
            return
        self._insert_ignore(
            conn,
            table,
            {
                "contact_id": contact_id,
                "kind": address.kind.value,
                "value": address.value,
                "value_hash": value_hash,
                "created_at": now,
            },
        )
