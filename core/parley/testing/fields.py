"""The template fields contract: declared fields equal resolvable ones."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from parley.context import PluginContext
from parley.plugins import CORE_PLUGIN_ID
from parley.templates import normalize_field_name, parse_template
from parley.testing.support import (
    UNDECLARED_FIELD,
    FieldSample,
    PluginContract,
    _only_plugin,
    _registered_fields,
    make_contact,
)


class FieldsContract(PluginContract):
    """Checks ``register_fields`` and ``resolve_field``: declared equals resolvable.

    Every declared field must resolve, through the plugin's ``resolve_field``
    or from values the plugin puts on its order events, and must have a
    value in at least one sample. Field values on the samples' events must
    be declared, and the plugin's ``resolve_field`` must return None for a
    name it does not declare.

    Fixtures a plugin may override:
        field_samples: contacts and events to resolve fields for, together
            covering every declared field; built with the HTTP fake active.
            Default: one contact with no data and no event.
    """

    @pytest.fixture
    def field_samples(self) -> Sequence[FieldSample]:
        """Return the contacts and events to resolve fields for."""
        return (FieldSample(make_contact()),)

    @pytest.fixture
    def declared_fields(
        self, parley_context: PluginContext, contract_plugin_id: str
    ) -> list[str]:
        """Return the field names the plugin registers, as written."""
        calls = _registered_fields(parley_context)
        return [
            name
            for registered_id, names in calls
            if registered_id == contract_plugin_id
            for name in names
        ]

    def test_fields_registered_under_plugin_id(
        self,
        parley_context: PluginContext,
        contract_plugin_id: str,
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Fields are registered once, as a list of valid placeholder names."""
        calls = [
            (registered_id, names)
            for registered_id, names in _registered_fields(parley_context)
            if registered_id != CORE_PLUGIN_ID
        ]

        assert [registered_id for registered_id, _ in calls] == [contract_plugin_id], (
            f"register_fields registered under {[c[0] for c in calls]}; expected "
            f"once under {contract_plugin_id!r}"
        )
        names = calls[0][1]
        assert not isinstance(names, str), "pass the field names as a list, not a str"
        assert names, "register_fields registered no field names"
        normalized = [normalize_field_name(name) for name in names]
        assert len(set(normalized)) == len(normalized), (
            f"field names repeat when case and spaces are ignored: {list(names)}"
        )
        for name in names:
            template = parse_template("contract", "{{" + name + "}}")
            assert not template.errors, (
                f"field name {name!r} is not a valid placeholder: "
                f"{template.errors[0].message}"
            )
        self.check_logs(caplog, plugin_secrets)

    def test_declared_fields_resolve(
        self,
        parley_context: PluginContext,
        declared_fields: list[str],
        field_samples: Sequence[FieldSample],
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Each declared field resolves for every sample, with a value in one."""
        resolve = parley_context.plugin_manager.hook.resolve_field
        unresolved: list[str] = []
        always_empty: list[str] = []
        for name in declared_fields:
            values = [
                resolve(
                    name=normalize_field_name(name),
                    contact=sample.contact,
                    event=sample.event,
                    context=parley_context,
                )
                for sample in field_samples
            ]
            if any(value is None for value in values):
                unresolved.append(name)
            elif not any(values):
                always_empty.append(name)

        assert not unresolved, (
            f"declared fields that resolve to None for some sample: {unresolved}; "
            "resolve them in resolve_field or put them on the plugin's events"
        )
        assert not always_empty, (
            f"declared fields that are empty in every sample: {always_empty}; "
            "add a field_samples entry in which each has a value"
        )
        self.check_logs(caplog, plugin_secrets)

    def test_undeclared_field_resolves_to_none(
        self,
        parley_context: PluginContext,
        contract_plugin_id: str,
        field_samples: Sequence[FieldSample],
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """``resolve_field`` gives None for a name the plugin does not declare."""
        resolve = _only_plugin(
            parley_context.plugin_manager, contract_plugin_id, "resolve_field"
        )
        for sample in field_samples:
            value = resolve(
                name=UNDECLARED_FIELD,
                contact=sample.contact,
                event=sample.event,
                context=parley_context,
            )
            assert value is None, (
                f"resolve_field returned {value!r} for the undeclared field "
                f"{UNDECLARED_FIELD!r}; return None for names that are not the "
                "plugin's so the next plugin is asked"
            )
        self.check_logs(caplog, plugin_secrets)

    def test_event_fields_declared(
        self,
        parley_context: PluginContext,
        contract_plugin_id: str,
        field_samples: Sequence[FieldSample],
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Values the plugin's events carry are declared fields."""
        known = {
            normalize_field_name(name)
            for _, names in _registered_fields(parley_context)
            for name in names
        }
        undeclared = sorted(
            {
                key
                for sample in field_samples
                if sample.event is not None
                and sample.event.source == contract_plugin_id
                for key in sample.event.fields
                if normalize_field_name(key) not in known
            }
        )

        assert not undeclared, (
            f"the plugin's events carry undeclared fields: {undeclared}; declare "
            "them with register_fields"
        )
        self.check_logs(caplog, plugin_secrets)
