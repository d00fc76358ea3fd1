"""The contact lookup contract."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from parley.context import PluginContext
from parley.models import (
    ChannelAddress,
    ContactRecord,
)
from parley.templates import normalize_field_name
from parley.testing.support import (
    DEFAULT_UNKNOWN_ADDRESSES,
    PluginContract,
    _only_plugin,
    _registered_fields,
)


class ContactLookupContract(PluginContract):
    """Checks ``lookup_contact``.

    Fixtures a plugin may override:
        unknown_addresses: addresses the provider has no contact for; the
            HTTP fake returns "not found" for them. Default: a phone number
            and an email address under example.com.
        known_address: an address the HTTP fake returns a contact for, or
            None (the default) to skip the known-address test.
    """

    @pytest.fixture
    def unknown_addresses(self) -> Sequence[ChannelAddress]:
        """Return addresses the provider has no contact for."""
        return DEFAULT_UNKNOWN_ADDRESSES

    @pytest.fixture
    def known_address(self) -> ChannelAddress | None:
        """Return an address the provider has a contact for, or None."""
        return None

    def test_lookup_unknown_address_returns_none(
        self,
        parley_context: PluginContext,
        contract_plugin_id: str,
        unknown_addresses: Sequence[ChannelAddress],
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """An address without a contact gives None, not an error."""
        lookup = _only_plugin(
            parley_context.plugin_manager, contract_plugin_id, "lookup_contact"
        )
        for address in unknown_addresses:
            answers = lookup(address=address, context=parley_context)
            assert answers in ([], [None]), (
                f"lookup_contact returned {answers!r} for the unknown "
                f"{address.kind.value} address; expected None"
            )
        self.check_logs(caplog, plugin_secrets)

    def test_lookup_known_address_returns_record(
        self,
        parley_context: PluginContext,
        contract_plugin_id: str,
        known_address: ChannelAddress | None,
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A known address gives a record from this plugin with declared fields."""
        if known_address is None:
            pytest.skip("the known_address fixture returns None")
        lookup = _only_plugin(
            parley_context.plugin_manager, contract_plugin_id, "lookup_contact"
        )

        answers = lookup(address=known_address, context=parley_context)

        assert len(answers) == 1, f"lookup_contact returned {answers!r}"
        record = answers[0]
        assert isinstance(record, ContactRecord), (
            f"lookup_contact returned {record!r}; expected a parley.ContactRecord"
        )
        assert record.source == contract_plugin_id, (
            f"record.source is {record.source!r}; expected the plugin id "
            f"{contract_plugin_id!r}"
        )
        declared = {
            normalize_field_name(name)
            for _, names in _registered_fields(parley_context)
            for name in names
        }
        undeclared = [
            key for key in record.fields if normalize_field_name(key) not in declared
        ]
        assert not undeclared, (
            f"the record carries fields that no plugin declares: {undeclared}; "
            "declare them with register_fields so templates may use them"
        )
        self.check_logs(caplog, plugin_secrets)
