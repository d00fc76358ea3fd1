"""Contact lookup and merging across plugins.

Every plugin may answer ``lookup_contact``. Their records are merged field
by field: the first non-empty value wins, taking plugins in the order of
``[contacts] precedence`` and then in load order. Once a contact is stored,
later lookups of the same address are answered from the store.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection

from parley.context import PluginContext
from parley.models import AddressKind, ChannelAddress, Contact, ContactRecord
from parley.phones import mask_phone, normalize_email, normalize_phone

logger = logging.getLogger(__name__)

_MERGED_FIELDS = ("first_name", "last_name", "email", "phone", "time_zone")

# Records the core builds itself; they are not stored as a source's record.
_DERIVED_SOURCES = frozenset({"store", "merged"})


def merge_records(
    records: Sequence[ContactRecord], precedence: Sequence[str]
) -> ContactRecord:
    """Merge contact records into one; see the module docstring for the order."""
    ordered = sorted(
        records,
        key=lambda record: (
            precedence.index(record.source)
            if record.source in precedence
            else len(precedence)
        ),
    )
    values: dict[str, str | None] = {name: None for name in _MERGED_FIELDS}
    fields: dict[str, str] = {}
    addresses: list[ChannelAddress] = []

    for record in ordered:
        for name in _MERGED_FIELDS:
            value = getattr(record, name)
            if values[name] is None and value is not None and str(value).strip():
                values[name] = str(value).strip()
        for key, value in record.fields.items():
            fields.setdefault(key, value)
        for address in record.addresses:
            if address not in addresses:
                addresses.append(address)

    return ContactRecord(
        source="merged", fields=fields, addresses=tuple(addresses), **values
    )


def normalize_address(
    address: ChannelAddress, default_region: str
) -> ChannelAddress | None:
    """Return the address in its stored form, or None when it is not valid."""
    if address.kind in (AddressKind.PHONE, AddressKind.WHATSAPP):
        phone = normalize_phone(address.value, default_region)
        return ChannelAddress(AddressKind.PHONE, phone) if phone else None
    if address.kind is AddressKind.EMAIL:
        email = normalize_email(address.value)
        return ChannelAddress(AddressKind.EMAIL, email) if email else None
    value = address.value.strip()
    return ChannelAddress(address.kind, value) if value else None


def record_addresses(
    record: ContactRecord, default_region: str
) -> list[ChannelAddress]:
    """Return every valid address a record names, phone first."""
    raw = [
        ChannelAddress(AddressKind.PHONE, record.phone or ""),
        ChannelAddress(AddressKind.EMAIL, record.email or ""),
        *record.addresses,
    ]
    found: list[ChannelAddress] = []
    for address in raw:
        normalized = normalize_address(address, default_region)
        if normalized is not None and normalized not in found:
            found.append(normalized)
    return found


class ContactDirectory:
    """Finds, enriches and stores contacts."""

    def __init__(self, context: PluginContext) -> None:
        self.context = context
        self.region = context.settings.contacts.default_region
        self.precedence = context.settings.contacts.precedence

    def lookup(self, addresses: Sequence[ChannelAddress]) -> list[ContactRecord]:
        """Ask every plugin about each address; return all non-None records."""
        records: list[ContactRecord] = []
        for address in addresses:
            answers = self.context.plugin_manager.hook.lookup_contact(
                address=address, context=self.context
            )
            records.extend(answer for answer in answers if answer is not None)
        return records

    def _normalized(
        self, merged: ContactRecord, addresses: Sequence[ChannelAddress]
    ) -> ContactRecord:
        """Store phone numbers in E.164 and emails in lower case, like addresses."""
        phone = normalize_phone(merged.phone, self.region) or _first_phone(addresses)
        return dataclasses.replace(
            merged, phone=phone, email=normalize_email(merged.email)
        )

    def resolve(
        self,
        addresses: Sequence[ChannelAddress],
        seed: ContactRecord | None,
        now: datetime,
        conn: Connection | None = None,
    ) -> Contact:
        """Return the stored contact for the addresses, creating or enriching it.

        Args:
            addresses: addresses the message or event names, normalised.
            seed: what the triggering event says about the contact, if anything.
            now: the current time.
            conn: an open transaction to join.
        """
        store = self.context.store
        seed_addresses = record_addresses(seed, self.region) if seed else []
        all_addresses = list(dict.fromkeys([*addresses, *seed_addresses]))
        existing = store.find_contact_any(all_addresses, conn=conn)

        records = [seed] if seed else []
        if existing is None:
            records.extend(self.lookup(all_addresses))
        else:
            records.append(_as_record(existing))

        merged = self._normalized(
            merge_records(records, self.precedence), all_addresses
        )
        known = set(existing.addresses) if existing else set()
        new_addresses = [
            address
            for address in dict.fromkeys(
                [*all_addresses, *record_addresses(merged, self.region)]
            )
            if address not in known
        ]
        sources = {record.source: record.external_id or "" for record in records}
        contact = store.save_contact(
            merged,
            new_addresses,
            now,
            contact_id=existing.id if existing else None,
            sources=sources,
            conn=conn,
        )
        for record in records:
            if record.source not in _DERIVED_SOURCES:
                store.put_source_record(
                    contact.id,
                    record.source,
                    record.external_id,
                    record_to_json(record),
                    now,
                    conn=conn,
                )
        if existing is None:
            logger.info(
                "contact %s created from %s (phone %s)",
                contact.id,
                ", ".join(sorted(sources)) or "address only",
                mask_phone(contact.phone),
            )
        return contact

    def forget(self, source: str, external_id: str, now: datetime) -> Contact | None:
        """Drop a source's record of a contact and re-merge the others.

        The contact, its addresses, conversations and consent records stay:
        they are parley's own history. Only the values that came from
        ``source`` go, unless another source has them too.

        Returns:
            The re-merged contact, or None when the source knows no contact
            by ``external_id``.
        """
        store = self.context.store
        with store.transaction() as conn:
            contact_id = store.contact_for_source(source, external_id, conn=conn)
            if contact_id is None:
                return None
            contact = store.get_contact(contact_id, conn=conn)
            assert contact is not None
            store.delete_source_record(contact_id, source, conn=conn)
            others = [
                record_from_json(data)
                for data in store.source_records(contact_id, conn=conn).values()
            ]
            merged = self._normalized(
                merge_records(others, self.precedence), list(contact.addresses)
            )
            sources = {item.source: item.external_id or "" for item in others}
            updated = store.save_contact(
                merged, [], now, contact_id=contact_id, sources=sources, conn=conn
            )
        logger.info("contact %s: the %s record was removed", contact_id, source)
        return updated

    def sync(self, record: ContactRecord, now: datetime) -> Contact:
        """Store a source's current record of a contact and re-merge the contact.

        See :meth:`parley.PluginContext.sync_contact`.
        """
        store = self.context.store
        addresses = record_addresses(record, self.region)
        with store.transaction() as conn:
            contact_id = None
            if record.external_id:
                contact_id = store.contact_for_source(
                    record.source, record.external_id, conn=conn
                )
            existing = (
                store.get_contact(contact_id, conn=conn)
                if contact_id is not None
                else store.find_contact_any(addresses, conn=conn)
            )

            records = [record]
            if existing is not None:
                stored = store.source_records(existing.id, conn=conn)
                records.extend(
                    record_from_json(data)
                    for source, data in stored.items()
                    if source != record.source
                )
                if not stored:
                    # Contacts stored before per-source records existed.
                    records.append(_as_record(existing))

            merged = self._normalized(
                merge_records(records, self.precedence), addresses
            )
            known = set(existing.addresses) if existing else set()
            new_addresses = [
                address
                for address in dict.fromkeys(
                    [*addresses, *record_addresses(merged, self.region)]
                )
                if address not in known
            ]
            sources = {item.source: item.external_id or "" for item in records}
            contact = store.save_contact(
                merged,
                new_addresses,
                now,
                contact_id=existing.id if existing else None,
                sources=sources,
                conn=conn,
            )
            store.put_source_record(
                contact.id,
                record.source,
                record.external_id,
                record_to_json(record),
                now,
                conn=conn,
            )
        if existing is None:
            logger.info(
                "contact %s created by the %s contact sync", contact.id, record.source
            )
        return contact


def record_to_json(record: ContactRecord) -> dict[str, object]:
    """Return a contact record as JSON-compatible data for the store."""
    data = dataclasses.asdict(record)
    data["fields"] = dict(record.fields)
    data["addresses"] = [
        {"kind": address.kind.value, "value": address.value}
        for address in record.addresses
    ]
    return data


def record_from_json(data: Mapping[str, object]) -> ContactRecord:
    """Rebuild a contact record from :func:`record_to_json` output."""
    values = dict(data)
    values["addresses"] = tuple(
        ChannelAddress(AddressKind(item["kind"]), item["value"])
        for item in values.get("addresses") or []  # type: ignore[union-attr]
    )
    values["fields"] = dict(values.get("fields") or {})  # type: ignore[call-overload]
    return ContactRecord(**values)  # type: ignore[arg-type]


def _first_phone(addresses: Sequence[ChannelAddress]) -> str | None:
    phones = [
        address.value for address in addresses if address.kind is AddressKind.PHONE
    ]
    return phones[0] if phones else None


def _as_record(contact: Contact) -> ContactRecord:
    return ContactRecord(
        source="store",
        first_name=contact.first_name,
        last_name=contact.last_name,
        email=contact.email,
        phone=contact.phone,
        time_zone=contact.time_zone,
        fields=contact.fields,
        addresses=contact.addresses,
    )
