"""The contract suite in parley.testing catches broken plugins.

Each test writes a small plugin and a contract subclass into a pytester
directory, runs pytest on it in-process and checks which contract tests
failed and why.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest
from pydantic import BaseModel, ConfigDict, SecretStr

from parley.testing import find_secret_leaks, secret_values

pytest_plugins = ["pytester"]

# Shared by the plugins written below: a channel with an HMAC signature, a
# settings model with a secret, and a request factory.
PLUGIN_HEADER = """
import hashlib
import hmac
import json
import logging
import uuid

import pytest
from pydantic import BaseModel, ConfigDict, SecretStr

from parley import (
    AddressKind, Channel, ChannelAddress, ContactRecord, DeliveryStatus, Headers,
    InboundBatch, InboundMessage, SendResult, SignatureError, WebhookRequest,
    hookimpl,
)
from parley.testing import (
    ChannelContract, ContactLookupContract, FieldsContract, FieldSample,
    SettingsContract, make_contact,
)

SECRET = "contract-test-secret-4242"
logger = logging.getLogger("fake_plugin")


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)
    secret: SecretStr


def sign(body):
    return hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def make_webhook_request(body, *, signed=True):
    headers = {"X-Signature": sign(body)} if signed else {}
    return WebhookRequest("POST", "http://127.0.0.1/webhooks/fake", "", Headers(headers), body)


class FakeChannel(Channel):
    id = "fake"
    check_signature = True
    leak_secret = False

    def __init__(self, secret):
        self.secret = secret

    def send(self, message):
        if self.leak_secret:
            logger.debug("sending with key %s", self.secret)
        return SendResult(provider_message_id="FAKE-1", status=DeliveryStatus.SENT)

    def handle_webhook(self, request):
        if self.check_signature:
            given = request.headers.get("X-Signature")
            if not given or not hmac.compare_digest(given, sign(request.body)):
                raise SignatureError("invalid X-Signature")
        data = json.loads(request.body)
        message = InboundMessage(
            channel=self.id,
            sender=ChannelAddress(AddressKind.PHONE, data["from"]),
            body=data["body"],
            provider_message_id=str(uuid.uuid4()),
            received_at=__import__("datetime").datetime.now(__import__("datetime").UTC),
        )
        return InboundBatch(messages=(message,))


class ChannelPlugin:
    channel_class = FakeChannel

    @hookimpl
    def register_settings(self, register):
        register("fake", Settings)

    @hookimpl
    def register_channels(self, register, context):
        secret = context.settings_for("fake").secret.get_secret_value()
        register(self.channel_class(secret))


class ChannelTests(ChannelContract):
    plugin_id = "fake"

    @pytest.fixture
    def plugin_settings(self):
        return {"secret": SECRET}

    @pytest.fixture
    def webhook_body(self):
        return json.dumps({"from": "+14155550123", "body": "hi"}).encode()

    @pytest.fixture
    def make_webhook_request(self):
        return make_webhook_request
"""


def run_contract(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    """Write the shared plugin code plus ``source`` and run pytest on it."""
    pytester.makepyfile(
        test_plugin=PLUGIN_HEADER + textwrap.dedent(source),
    )
    # Hypothesis' pytest plugin, when installed, takes seconds to load in
    # each inner run and none of these tests use it.
    return pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-q"
    )


def test_import_parley_leaves_pytest_unloaded() -> None:
    code = "import sys, parley; print('pytest' in sys.modules)"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout

    assert output.strip() == "False"


def test_good_channel_passes(pytester: pytest.Pytester) -> None:
    result = run_contract(
        pytester,
        """
        class TestChannel(ChannelTests):
            plugin = ChannelPlugin()
        """,
    )

    result.assert_outcomes(passed=5)


def test_unverified_channel_fails_twice(pytester: pytest.Pytester) -> None:
    result = run_contract(
        pytester,
        """
        class Careless(FakeChannel):
            check_signature = False

        class CarelessPlugin(ChannelPlugin):
            channel_class = Careless

        class TestChannel(ChannelTests):
            plugin = CarelessPlugin()
        """,
    )

    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*the unsigned request was accepted*expected SignatureError*",
            "*the tampered request was accepted*expected SignatureError*",
        ]
    )


def test_secret_in_log_fails(pytester: pytest.Pytester) -> None:
    result = run_contract(
        pytester,
        """
        class Leaky(FakeChannel):
            leak_secret = True

        class LeakyPlugin(ChannelPlugin):
            channel_class = Leaky

        class TestChannel(ChannelTests):
            plugin = LeakyPlugin()
        """,
    )

    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        ["*logger 'fake_plugin' (DEBUG) logged the value of setting 'secret'*"]
    )
    assert "contract-test-secret-4242" not in "\n".join(
        line for line in result.outlines if "logged the value" in line
    )


def test_short_test_secret_reported(pytester: pytest.Pytester) -> None:
    result = run_contract(
        pytester,
        """
        class TestChannel(ChannelTests):
            plugin = ChannelPlugin()

            @pytest.fixture
            def plugin_settings(self):
                return {"secret": "abc"}
        """,
    )

    result.stdout.fnmatch_lines(["*setting fake.secret is 3 characters long*"])


def test_send_without_id_fails(pytester: pytest.Pytester) -> None:
    result = run_contract(
        pytester,
        """
        class NoId(FakeChannel):
            def send(self, message):
                return SendResult(provider_message_id="", status=DeliveryStatus.SENT)

        class NoIdPlugin(ChannelPlugin):
            channel_class = NoId

        class TestChannel(ChannelTests):
            plugin = NoIdPlugin()

            @pytest.fixture
            def expected_provider_message_id(self):
                return None
        """,
    )

    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*provider_message_id is empty*"])


def test_send_with_wrong_id_fails(pytester: pytest.Pytester) -> None:
    result = run_contract(
        pytester,
        """
        class TestChannel(ChannelTests):
            plugin = ChannelPlugin()

            @pytest.fixture
            def expected_provider_message_id(self):
                return "SM-FROM-PROVIDER"
        """,
    )

    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*the provider returned 'SM-FROM-PROVIDER'*"])


def test_missing_request_factory_named(pytester: pytest.Pytester) -> None:
    result = run_contract(
        pytester,
        """
        class TestChannel(ChannelContract):
            plugin = ChannelPlugin()
            plugin_id = "fake"

            @pytest.fixture
            def plugin_settings(self):
                return {"secret": SECRET}
        """,
    )

    result.stdout.fnmatch_lines(["*needs a webhook_body fixture*"])


def test_lookup_contracts(pytester: pytest.Pytester) -> None:
    result = run_contract(
        pytester,
        """
        KNOWN = ChannelAddress(AddressKind.PHONE, "+14155550123")


        class Crm:
            @hookimpl
            def register_settings(self, register):
                register("crm", Settings)

            @hookimpl
            def register_fields(self, register):
                register("crm", ["Loyalty Tier"])

            @hookimpl
            def lookup_contact(self, address, context):
                if address != KNOWN:
                    return None
                return ContactRecord(source="crm", fields={"Loyalty Tier": "Gold"})


        class Guessing(Crm):
            @hookimpl
            def lookup_contact(self, address, context):
                return ContactRecord(source="crm", fields={"Points": "10"})


        class LookupTests(ContactLookupContract):
            plugin_id = "crm"

            @pytest.fixture
            def plugin_settings(self):
                return {"secret": SECRET}

            @pytest.fixture
            def known_address(self):
                return KNOWN


        class TestGood(LookupTests):
            plugin = Crm()


        class TestGuessing(LookupTests):
            plugin = Guessing()
        """,
    )

    result.assert_outcomes(passed=2, failed=2)
    output = result.stdout.str()
    assert "for the unknown phone address; expected None" in output
    assert "fields that no plugin declares: ['Points']" in output


def test_fields_contracts(pytester: pytest.Pytester) -> None:
    result = run_contract(
        pytester,
        """
        class Fields:
            @hookimpl
            def register_fields(self, register):
                register("loyalty", ["Loyalty Tier", "Points Balance"])

            @hookimpl
            def resolve_field(self, name, contact):
                values = {"loyalty tier": "Gold", "points balance": "120"}
                return values.get(name)


        class Greedy(Fields):
            @hookimpl
            def resolve_field(self, name, contact):
                return "always"


        class Forgetful(Fields):
            @hookimpl
            def resolve_field(self, name, contact):
                return "Gold" if name == "loyalty tier" else None


        class FieldTests(FieldsContract):
            plugin_id = "loyalty"


        class TestGood(FieldTests):
            plugin = Fields()


        class TestGreedy(FieldTests):
            plugin = Greedy()


        class TestForgetful(FieldTests):
            plugin = Forgetful()
        """,
    )

    result.assert_outcomes(passed=10, failed=2)
    output = result.stdout.str()
    assert "resolve_field returned 'always' for the undeclared field" in output
    assert "resolve to None for some sample: ['Points Balance']" in output


def test_settings_contract_flags_plain_credentials(
    pytester: pytest.Pytester,
) -> None:
    result = run_contract(
        pytester,
        """
        class Account(BaseModel):
            model_config = ConfigDict(frozen=True)
            api_key: str


        class Plain(BaseModel):
            model_config = ConfigDict(frozen=True)
            accounts: tuple[Account, ...]


        class PlainPlugin:
            @hookimpl
            def register_settings(self, register):
                register("plain", Plain)


        class TestPlain(SettingsContract):
            plugin = PlainPlugin()

            @pytest.fixture
            def plugin_settings(self):
                return {"accounts": [{"api_key": "k-123456789"}]}
        """,
    )

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*must be typed SecretStr*plain.accounts.api_key*"])


def test_secret_values_walks_nested_models() -> None:
    class Shop(BaseModel):
        model_config = ConfigDict(frozen=True)
        domain: str
        token: SecretStr

    class Settings(BaseModel):
        shops: tuple[Shop, ...]
        fallback: SecretStr | None = None

    settings = Settings(
        shops=(Shop(domain="a.example", token=SecretStr("tok-aaaaaaaa")),),
        fallback=SecretStr(""),
    )

    assert secret_values(settings) == {"shops.0.token": "tok-aaaaaaaa"}


def test_find_secret_leaks_url_encoded() -> None:
    record = logging.LogRecord(
        "parley_acme.client",
        logging.INFO,
        __file__,
        1,
        "GET %s",
        ("https://api.example/v1?key=s%2Fcr3t%2Bvalue",),
        None,
    )

    leaks = find_secret_leaks([record], {"api_key": "s/cr3t+value"})

    assert leaks == [
        "logger 'parley_acme.client' (INFO) logged the value of setting 'api_key'"
    ]
