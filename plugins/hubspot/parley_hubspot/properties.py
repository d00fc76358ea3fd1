"""Contact property definitions: types and option labels, read once and cached.

Templates show an enumeration's option label and a date in the business's
format, so each mapped property's definition is needed. One request reads
every contact property of the account; the result is reused for
``properties_cache_seconds``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from parley_hubspot.client import HubSpotClient
from parley_hubspot.const import PLUGIN_ID
from parley_hubspot.limiter import Monotonic

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PropertyDefinition:
    """The definition HubSpot returns for one contact property.

    Attributes:
        name: the internal name, such as ``loyalty_program``.
        label: the name people see in HubSpot.
        type: ``string``, ``number``, ``date``, ``datetime``, ``enumeration``
            or ``bool``.
        field_type: the input, such as ``select``, ``checkbox`` (several
            options) or ``booleancheckbox``.
        options: option labels keyed by their internal values.
    """

    name: str
    label: str
    type: str
    field_type: str
    options: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> PropertyDefinition | None:
        """Read one entry of the properties response; None without a name."""
        name = data.get("name")
        if not isinstance(name, str) or not name:
            return None

        options: dict[str, str] = {}
        for option in data.get("options") or []:
            if not isinstance(option, Mapping):
                continue
            value = option.get("value")
            label = option.get("label")
            if isinstance(value, str) and isinstance(label, str):
                options[value] = label
        return cls(
            name=name,
            label=str(data.get("label") or name),
            type=str(data.get("type") or "string"),
            field_type=str(data.get("fieldType") or ""),
            options=options,
        )


class PropertyCatalogue:
    """The account's contact property definitions, cached for a while."""

    def __init__(
        self,
        client: HubSpotClient,
        cache_seconds: float,
        *,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        """Create an empty catalogue; the first use reads the definitions.

        Args:
            client: the HubSpot client.
            cache_seconds: how long one read is reused.
            monotonic: a monotonic clock in seconds.
        """
        self._client = client
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._definitions: dict[str, PropertyDefinition] | None = None
        self._read_at = 0.0
        self._reported_missing: set[str] = set()
        self._lock = threading.Lock()

    def definitions(self) -> Mapping[str, PropertyDefinition]:
        """Return every contact property by internal name, reading them when stale.

        Raises:
            parley.SyncError: the properties could not be read.
        """
        with self._lock:
            age = self._monotonic() - self._read_at
            if self._definitions is None or age >= self._cache_seconds:
                self._definitions = self._read()
                self._read_at = self._monotonic()
            return self._definitions

    def existing(self, names: Sequence[str], where: Mapping[str, str]) -> list[str]:
        """Return the names that exist, logging each missing one once.

        Args:
            names: property internal names the config refers to.
            where: the setting each name comes from, for the log message.
        """
        definitions = self.definitions()
        found = [name for name in names if name in definitions]
        for name in names:
            if name in definitions or name in self._reported_missing:
                continue
            self._reported_missing.add(name)
            logger.error(
                "%s refers to the HubSpot contact property %r, which does not "
                "exist; templates get no value for it. Fix the internal name, or "
                "run 'parley config check' for suggestions",
                where.get(name, f"[{PLUGIN_ID}]"),
                name,
            )
        return found

    def _read(self) -> dict[str, PropertyDefinition]:
        definitions: dict[str, PropertyDefinition] = {}
        for data in self._client.contact_properties():
            definition = PropertyDefinition.from_payload(data)
            if definition is not None:
                definitions[definition.name] = definition
        logger.info("read %d HubSpot contact property definitions", len(definitions))
        return definitions
