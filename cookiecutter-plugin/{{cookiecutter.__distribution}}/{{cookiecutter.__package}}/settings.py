"""The ``[{{ cookiecutter.__plugin_id }}]`` section of ``parley.toml``."""

from __future__ import annotations

{% if cookiecutter.kind == "other" -%}
from pydantic import BaseModel, ConfigDict
{%- else -%}
from parley import PluginContext, PluginError
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from {{ cookiecutter.__package }}.const import PLUGIN_ID
{%- endif %}


class {{ cookiecutter.__class_prefix }}Settings(BaseModel):
    """Settings of the {{ cookiecutter.__title }} plugin.

    parley validates the section at start-up; ``{{ cookiecutter.__env_prefix }}<NAME>``
    environment variables override the file. Keep the README's settings table
    in step: ``tests/test_readme.py`` compares them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
{%- if cookiecutter.kind == "other" %}

    # TODO: add a field per setting, with Field(description=...) for the README.
{%- else %}

    api_key: SecretStr = Field(
        min_length=1,
        description="API key sent as a bearer token with every API request.",
    )
    # TODO: set the default to your provider's API URL.
    base_url: str = Field(
        "https://api.{{ cookiecutter.plugin_name }}.example",
        description="Base URL of the {{ cookiecutter.__title }} API.",
    )
{%- endif %}
{%- if cookiecutter.kind in ["store", "channel"] %}
    webhook_secret: SecretStr = Field(
        min_length=1,
        description="Shared secret that signs the webhooks {{ cookiecutter.__title }} sends.",
    )
{%- endif %}
{%- if cookiecutter.kind == "store" %}
    store_id: str = Field(
        min_length=1,
        description="Identifies the store in order events and their dedupe keys, "
        "such as its domain.",
    )
{%- endif %}
{%- if cookiecutter.kind == "channel" %}
    from_number: str = Field(
        pattern=r"^\+[1-9]\d{6,14}$",
        description="The business's sending number in E.164, such as +14155550100.",
    )
{%- endif %}
{%- if cookiecutter.kind != "other" %}
    timeout_seconds: float = Field(
        10.0, gt=0, description="Time limit of one API request, in seconds."
    )
    max_attempts: int = Field(
        4,
        ge=1,
        le=10,
        description="Attempts per API request when the API responds 429 or 5xx, "
        "or the request times out.",
    )
{%- endif %}
{%- if cookiecutter.kind != "other" %}


def settings_from(context: PluginContext) -> {{ cookiecutter.__class_prefix }}Settings:
    """Return the validated ``[{{ cookiecutter.__plugin_id }}]`` settings from a hook's context.

    Raises:
        PluginError: another model was registered under this plugin's id.
    """
    settings = context.settings_for(PLUGIN_ID)
    if not isinstance(settings, {{ cookiecutter.__class_prefix }}Settings):
        raise PluginError(
            f"[{PLUGIN_ID}] settings are {type(settings).__name__}, not "
            "{{ cookiecutter.__class_prefix }}Settings; is another plugin registered "
            f"under the id {PLUGIN_ID!r}?"
        )
    return settings
{%- endif %}
