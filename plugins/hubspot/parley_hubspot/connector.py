"""One running instance's HubSpot client, property cache and contact reads.

Hooks get a :class:`parley.PluginContext`, and the connector built for it
is kept for the context's lifetime. So the rate limiter and the property
cache are shared by the event worker, the webhook threads and the contact
sync.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from parley import (
    AddressKind,
    ChannelAddress,
    Contact,
    ContactRecord,
    PluginContext,
    PluginError,
    normalize_email,
    normalize_phone,
)
from parley_hubspot.client import HubSpotClient
from parley_hubspot.const import (
    BASE_PROPERTIES,
    FIELD_CONTACT_ID,
    PLUGIN_ID,
    STATE_BACKFILL_COMPLETE,
)
from parley_hubspot.errors import mask_phone
from parley_hubspot.lookup import (
    choose_contact,
    confirm_email,
    confirm_phone,
    email_search,
    phone_search,
    shown_phone,
)
from parley_hubspot.mapping import Rendering, contact_record
from parley_hubspot.properties import PropertyCatalogue
from parley_hubspot.settings import HubSpotSettings, field_key, hubspot_settings

logger = logging.getLogger(__name__)

_LOOKUP_KINDS = (AddressKind.PHONE, AddressKind.WHATSAPP, AddressKind.EMAIL)


class HubSpotConnector:
    """Reads HubSpot contacts and turns them into parley contact records."""

    def __init__(
        self,
        context: PluginContext,
        client: HubSpotClient | None = None,
        catalogue: PropertyCatalogue | None = None,
    ) -> None:
        """Create the connector of a running instance.

        Args:
            context: the running instance.
            client: the HubSpot client; None builds one from the settings.
            catalogue: the property cache; None builds one over ``client``.
        """
        self.context = context
        self.settings: HubSpotSettings = hubspot_settings(context)
        self.region = context.settings.contacts.default_region
        time_zone = context.settings.business.time_zone
        self.client = client or HubSpotClient(
            self.settings, clock=context.clock, time_zone=time_zone
        )
        self.catalogue = catalogue or PropertyCatalogue(
            self.client, self.settings.properties_cache_seconds
        )
        self.rendering = Rendering.from_settings(self.settings, time_zone)

    def mapped_fields(self) -> dict[str, str]:
        """Return ``fields`` without the properties that do not exist in HubSpot."""
        where = {
            prop: f"{PLUGIN_ID}.fields.{name!r}"
            for name, prop in self.settings.fields.items()
        }
        existing = set(self.catalogue.existing(self.settings.mapped_properties, where))
        return {
            name: prop
            for name, prop in self.settings.fields.items()
            if prop in existing
        }

    def read_properties(self, fields: Mapping[str, str]) -> list[str]:
        """Return the properties every contact read requests."""
        return list(dict.fromkeys([*BASE_PROPERTIES, *fields.values()]))

    def to_record(
        self, contact: Mapping[str, Any], fields: Mapping[str, str]
    ) -> ContactRecord:
        """Build the record of one HubSpot contact."""
        return contact_record(
            contact,
            fields,
            self.catalogue.definitions(),
            self.rendering,
            self.region,
        )

    def backfill_complete(self) -> bool:
        """Return True once a contact sync has copied every contact locally."""
        try:
            value = self.context.get_state(PLUGIN_ID, STATE_BACKFILL_COMPLETE)
        except PluginError:
            # Commands without a store (config check) never look contacts up.
            return False
        return value == "true"

    def lookup(self, address: ChannelAddress) -> ContactRecord | None:
        """Find the HubSpot contact at an address; None when there is none.

        After a completed backfill every contact is in the local store, so
        an address the store does not know is not in HubSpot either and no
        request is made.
        """
        if address.kind not in _LOOKUP_KINDS:
            return None
        if self.backfill_complete():
            logger.debug("backfill complete; %s address not looked up", address.kind)
            return None

        found = self.find(address)
        if found is None:
            return None
        fields = self.mapped_fields()
        return self.to_record(found, fields)

    def find(self, address: ChannelAddress) -> Mapping[str, Any] | None:
        """Search HubSpot for the contact at an address and return its raw object."""
        fields = self.mapped_fields()
        properties = self.read_properties(fields)
        if address.kind is AddressKind.EMAIL:
            email = normalize_email(address.value)
            if email is None:
                return None
            page = self.client.search_contacts(email_search(email, properties))
            candidates = confirm_email(_results(page), email)
            return choose_contact(candidates, self.settings.duplicate_rule, "an email")

        phone = normalize_phone(address.value, self.region)
        if phone is None:
            logger.info(
                "cannot look up phone %s in HubSpot: not a possible number",
                mask_phone(address.value),
            )
            return None
        page = self.client.search_contacts(phone_search(phone, properties))
        results = _results(page)
        candidates = confirm_phone(results, phone, self.region)
        if len(candidates) < len(results):
            logger.debug(
                "%d HubSpot search results for %s have another number once normalised",
                len(results) - len(candidates),
                shown_phone(phone),
            )
        return choose_contact(
            candidates, self.settings.duplicate_rule, shown_phone(phone)
        )

    def fetch(self, ids: Sequence[str]) -> Iterator[ContactRecord]:
        """Read contacts by id in batches of up to 100 and yield their records."""
        fields = self.mapped_fields()
        properties = self.read_properties(fields)
        for contact in self.client.read_contacts(ids, properties):
            yield self.to_record(contact, fields)

    def contact_id_for(
        self, contact: Contact | None, address: ChannelAddress | None
    ) -> str | None:
        """Return the HubSpot id of a stored contact, searching when it is not stored.

        Args:
            contact: the stored contact, whose fields carry the HubSpot id
                once a lookup or sync stored it.
            address: the address to search when the contact carries no id.
        """
        if contact is not None:
            for key, value in contact.fields.items():
                if field_key(key) == field_key(FIELD_CONTACT_ID) and value:
                    return value

        candidates = _contact_addresses(contact, address)
        for candidate in candidates:
            found = self.find(candidate)
            if found is not None and found.get("id"):
                return str(found["id"])
        return None


def _contact_addresses(
    contact: Contact | None, address: ChannelAddress | None
) -> list[ChannelAddress]:
    addresses: list[ChannelAddress] = []
    if address is not None:
        addresses.append(address)
    if contact is not None:
        if contact.phone:
            addresses.append(ChannelAddress(AddressKind.PHONE, contact.phone))
        if contact.email:
            addresses.append(ChannelAddress(AddressKind.EMAIL, contact.email))
    return [a for a in dict.fromkeys(addresses) if a.kind in _LOOKUP_KINDS]


def _results(page: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    results = page.get("results")
    if not isinstance(results, list):
        return []
    return [result for result in results if isinstance(result, Mapping)]


_connectors: weakref.WeakKeyDictionary[PluginContext, HubSpotConnector] = (
    weakref.WeakKeyDictionary()
)
_connectors_lock = threading.Lock()


def connector_for(context: PluginContext) -> HubSpotConnector:
    """Return the connector of a running instance, building it on first use."""
    with _connectors_lock:
        connector = _connectors.get(context)
        if connector is None:
            connector = HubSpotConnector(context)
            _connectors[context] = connector
        return connector


def bind_connector(context: PluginContext, connector: HubSpotConnector) -> None:
    """Use ``connector`` for ``context`` from now on, such as one with a fake clock."""
    with _connectors_lock:
        _connectors[context] = connector
