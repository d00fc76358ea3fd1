"""The settings contract: a plugin's section validates and masks its secrets."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, SecretBytes, SecretStr

from parley.context import PluginContext
from parley.plugins import new_plugin_manager
from parley.testing.support import (
    _SECRET_NAME_PARTS,
    PluginContract,
)


class SettingsContract(PluginContract):
    """Checks ``register_settings``: one model, under the plugin id.

    Fixtures: ``plugin_settings`` must hold a valid section.
    """

    def test_settings_registered_under_plugin_id(
        self,
        contract_plugin_id: str,
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """The plugin registers exactly one pydantic model, under its own id."""
        manager = new_plugin_manager()
        manager.register(self.plugin, name=contract_plugin_id)
        calls: list[tuple[str, object]] = []
        manager.hook.register_settings(
            register=lambda plugin_id, model: calls.append((plugin_id, model))
        )

        assert len(calls) == 1, (
            f"register_settings called register {len(calls)} times; expected once"
        )
        registered_id, model = calls[0]
        assert registered_id == contract_plugin_id, (
            f"settings registered under {registered_id!r}; expected the plugin id "
            f"{contract_plugin_id!r}"
        )
        assert isinstance(model, type) and issubclass(model, BaseModel), (
            f"register_settings registered {model!r}; expected a pydantic model class"
        )
        self.check_logs(caplog, plugin_secrets)

    def test_settings_validate(
        self,
        parley_context: PluginContext,
        contract_plugin_id: str,
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """The ``plugin_settings`` fixture validates and is handed back to hooks."""
        settings = parley_context.settings_for(contract_plugin_id)

        assert settings.model_config.get("frozen"), (
            f"{type(settings).__name__} is mutable; set "
            "model_config = ConfigDict(frozen=True) so hooks cannot change settings"
        )
        self.check_logs(caplog, plugin_secrets)

    def test_credential_settings_are_secret(
        self,
        parley_context: PluginContext,
        contract_plugin_id: str,
        plugin_secrets: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Settings named like credentials are SecretStr or SecretBytes."""
        settings = parley_context.settings_for(contract_plugin_id)
        plain = _plain_credentials(type(settings), contract_plugin_id)

        assert not plain, (
            "credential settings must be typed SecretStr or SecretBytes so that "
            "they are masked in reprs and errors: " + ", ".join(plain)
        )
        self.check_logs(caplog, plugin_secrets)


def _plain_credentials(model: type[BaseModel], path: str) -> list[str]:
    """Return key paths of credential-named fields with a plain type."""
    found: list[str] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        nested = _nested_models(annotation)
        for nested_model in nested:
            found.extend(_plain_credentials(nested_model, f"{path}.{name}"))
        lowered = name.lower()
        if nested or not any(part in lowered for part in _SECRET_NAME_PARTS):
            continue
        if not _mentions_secret_type(annotation):
            found.append(f"{path}.{name}")
    return found


def _type_arguments(annotation: object) -> tuple[object, ...]:
    return tuple(getattr(annotation, "__args__", ()) or ())


def _nested_models(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    models: list[type[BaseModel]] = []
    for argument in _type_arguments(annotation):
        models.extend(_nested_models(argument))
    return models


def _mentions_secret_type(annotation: object) -> bool:
    if annotation in (SecretStr, SecretBytes):
        return True
    return any(_mentions_secret_type(arg) for arg in _type_arguments(annotation))
