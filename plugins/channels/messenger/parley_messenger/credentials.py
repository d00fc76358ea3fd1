"""``parley doctor`` for Messenger and Instagram: read the sending Page or account.

One GET of ``/<api_version>/<sender id>``, which changes nothing
at Meta, shows whether the access token is accepted for the Page or
Instagram account that sends.
"""

from __future__ import annotations

import httpx

from parley import ConfigProblem
from parley_messenger.const import MESSENGER
from parley_messenger.settings import MetaChannelSettings

CHECK_TIMEOUT_SECONDS = 10.0
# Graph error code of an invalid or expired access token.
INVALID_TOKEN_CODE = 190


def check_credentials(
    channel_id: str,
    settings: MetaChannelSettings,
    transport: httpx.BaseTransport | None = None,
) -> list[ConfigProblem]:
    """Fetch the sender and describe how the Graph API responds to the token.

    Args:
        channel_id: ``messenger`` or ``instagram``, for the messages.
        settings: the validated section of that channel.
        transport: an httpx transport; None uses the network.
    """
    path = f"/{settings.api_version}/{settings.sender_id}"
    url = settings.base_url + path
    token = settings.token.get_secret_value()
    try:
        with httpx.Client(
            base_url=settings.base_url,
            timeout=min(settings.timeout_seconds, CHECK_TIMEOUT_SECONDS),
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
        ) as client:
            response = client.get(path, params={"fields": _fields(channel_id)})
    except httpx.TransportError as err:
        return [
            ConfigProblem(
                "warning",
                f"[{channel_id}] cannot reach the Graph API at {url} "
                f"({type(err).__name__}); the access token is checked at the "
                "first send instead",
            )
        ]
    return [_describe(channel_id, settings, response)]


def _fields(channel_id: str) -> str:
    # A Page has a name; an Instagram account has a username.
    return "id,name" if channel_id == MESSENGER.channel_id else "id,username"


def _describe(
    channel_id: str, settings: MetaChannelSettings, response: httpx.Response
) -> ConfigProblem:
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code == 200:
        name = data.get("name") or data.get("username") or settings.sender_id
        return ConfigProblem(
            "info",
            f"[{channel_id}] the access token may send as {name!r} "
            f"(id {settings.sender_id})",
        )
    error = data.get("error") if isinstance(data, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    if code == INVALID_TOKEN_CODE or response.status_code == 401:
        return ConfigProblem(
            "error",
            f"[{channel_id}] Meta rejected the access token (invalid or expired); "
            "generate a new one in the App Dashboard and set it in the "
            f"[{channel_id}] section",
        )
    if response.status_code in (400, 403, 404):
        return ConfigProblem(
            "error",
            f"[{channel_id}] the access token cannot read id {settings.sender_id} "
            f"(HTTP {response.status_code}, Graph code {code}); check the id and "
            "that the token belongs to that Page or account",
        )
    return ConfigProblem(
        "warning",
        f"[{channel_id}] the Graph API answered the sender check with HTTP "
        f"{response.status_code}; try again later",
    )
