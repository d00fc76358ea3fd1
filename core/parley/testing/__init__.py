"""The plugin contract suite: tests a plugin turns on with one line per hook kind.

A plugin's test module subclasses one contract for each kind of hook the
plugin implements and sets ``plugin`` to the plugin module. The contract's
tests then run as the plugin's own::

    import parley_acme
    from parley.testing import ChannelContract, SettingsContract


    class TestSettings(SettingsContract):
        plugin = parley_acme


    class TestChannel(ChannelContract):
        plugin = parley_acme

        @pytest.fixture
        def plugin_settings(self) -> dict[str, object]:
            return {"api_key": "test-api-key-0001", "webhook_secret": "test-whsec-01"}

What only the plugin knows comes from fixtures: its settings, a factory of
signed webhook requests, the HTTP fake (a vcrpy cassette or an
``httpx.MockTransport``) and sample contacts and events. Override a fixture
by defining a fixture method with the same name in the subclass; every
fixture a contract reads is listed in its docstring.

Every contract test runs with logging captured at DEBUG and fails when a
secret value from the plugin's settings (a ``SecretStr`` or ``SecretBytes``
field) appears in a log record, as typed or URL-encoded.

This module imports pytest, so only tests import it; ``import parley`` does
not load it.
"""

from parley.testing.channels import ChannelContract, WebhookContract
from parley.testing.contacts import ContactLookupContract
from parley.testing.fields import FieldsContract
from parley.testing.settings import SettingsContract
from parley.testing.support import (
    FieldSample,
    PluginContract,
    RequestFactory,
    find_secret_leaks,
    make_contact,
    make_plugin_context,
    secret_values,
)

__all__ = [
    "ChannelContract",
    "ContactLookupContract",
    "FieldSample",
    "FieldsContract",
    "PluginContract",
    "RequestFactory",
    "SettingsContract",
    "WebhookContract",
    "find_secret_leaks",
    "make_contact",
    "make_plugin_context",
    "secret_values",
]
