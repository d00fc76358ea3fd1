"""``parley doctor`` for Twilio: read the Account resource with the configured credentials.

One GET of ``/2010-04-01/Accounts/<account_sid>.json``, which changes
nothing at Twilio, shows whether the Auth Token or API key is accepted and
whether the account is active.
"""

from __future__ import annotations

import httpx

from parley import ConfigProblem
from parley_twilio.const import PLUGIN_ID
from parley_twilio.settings import TwilioSettings

CHECK_TIMEOUT_SECONDS = 10.0
ACCOUNT_PATH = "/2010-04-01/Accounts/{account_sid}.json"


def check_credentials(
    settings: TwilioSettings, transport: httpx.BaseTransport | None = None
) -> list[ConfigProblem]:
    """Fetch the account and describe how Twilio responds to the credentials.

    Args:
        settings: the validated ``[twilio]`` section.
        transport: an httpx transport; None uses the network.
    """
    user, password = settings.credentials()
    path = ACCOUNT_PATH.format(account_sid=settings.account_sid)
    url = settings.api_base_url + path
    try:
        with httpx.Client(
            base_url=settings.api_base_url,
            auth=httpx.BasicAuth(user, password),
            timeout=min(settings.timeout_seconds, CHECK_TIMEOUT_SECONDS),
            headers={"Accept": "application/json"},
            transport=transport,
        ) as client:
            response = client.get(path)
    except httpx.TransportError as err:
        return [
            ConfigProblem(
                "warning",
                f"[{PLUGIN_ID}] cannot reach Twilio at {url} ({type(err).__name__}); "
                "the credentials are checked at the first send instead",
            )
        ]
    return [_describe(settings, response)]


def _describe(settings: TwilioSettings, response: httpx.Response) -> ConfigProblem:
    credential = "the API key" if settings.api_key_sid is not None else "the Auth Token"
    if response.status_code == 401:
        return ConfigProblem(
            "error",
            f"[{PLUGIN_ID}] Twilio rejected {credential} for account {settings.account_sid}; "
            "copy account_sid and auth_token (or api_key_sid and api_key_secret) "
            "again from the Twilio Console",
        )
    if response.status_code == 404:
        return ConfigProblem(
            "error",
            f"[{PLUGIN_ID}] Twilio has no account {settings.account_sid} visible to "
            f"{credential}; check account_sid",
        )
    if response.status_code != 200:
        return ConfigProblem(
            "warning",
            f"[{PLUGIN_ID}] Twilio answered the account check with HTTP "
            f"{response.status_code}; try again later",
        )
    try:
        account = response.json()
    except ValueError:
        account = {}
    name = account.get("friendly_name") or settings.account_sid
    status = account.get("status", "unknown")
    if status != "active":
        return ConfigProblem(
            "error",
            f"[{PLUGIN_ID}] Twilio account {name!r} is {status}, so it cannot send; "
            "reactivate it in the Twilio Console",
        )
    return ConfigProblem(
        "info", f"[{PLUGIN_ID}] {credential} works for the active account {name!r}"
    )
