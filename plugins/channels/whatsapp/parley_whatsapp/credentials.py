"""``parley doctor`` for WhatsApp: read the business phone number with the access token.

One GET of ``/<api_version>/<phone_number_id>``, which changes nothing at
Meta, shows whether the token is accepted and may use that number.
"""

from __future__ import annotations

import httpx

from parley import ConfigProblem
from parley_whatsapp.const import PLUGIN_ID
from parley_whatsapp.settings import WhatsAppSettings

CHECK_TIMEOUT_SECONDS = 10.0
# Graph error code of an invalid or expired access token.
INVALID_TOKEN_CODE = 190


def check_credentials(
    settings: WhatsAppSettings, transport: httpx.BaseTransport | None = None
) -> list[ConfigProblem]:
    """Fetch the phone number and describe how the Graph API responds to the token.

    Args:
        settings: the validated ``[whatsapp]`` section.
        transport: an httpx transport; None uses the network.
    """
    path = f"/{settings.api_version}/{settings.phone_number_id}"
    url = settings.base_url + path
    token = settings.access_token.get_secret_value()
    try:
        with httpx.Client(
            base_url=settings.base_url,
            timeout=min(settings.timeout_seconds, CHECK_TIMEOUT_SECONDS),
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
        ) as client:
            response = client.get(
                path, params={"fields": "display_phone_number,verified_name"}
            )
    except httpx.TransportError as err:
        return [
            ConfigProblem(
                "warning",
                f"[{PLUGIN_ID}] cannot reach the Graph API at {url} "
                f"({type(err).__name__}); the access token is checked at the "
                "first send instead",
            )
        ]
    return [_describe(settings, response)]


def _describe(settings: WhatsAppSettings, response: httpx.Response) -> ConfigProblem:
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code == 200:
        number = data.get("display_phone_number") or settings.phone_number_id
        name = data.get("verified_name") or "no verified name"
        return ConfigProblem(
            "info",
            f"[{PLUGIN_ID}] the access token may use phone number {number} ({name})",
        )
    error = data.get("error") if isinstance(data, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    if code == INVALID_TOKEN_CODE or response.status_code == 401:
        return ConfigProblem(
            "error",
            f"[{PLUGIN_ID}] Meta rejected access_token (invalid or expired); "
            "create a system user token with the whatsapp_business_messaging "
            "permission and set PARLEY_WHATSAPP__ACCESS_TOKEN",
        )
    if response.status_code in (400, 403, 404):
        return ConfigProblem(
            "error",
            f"[{PLUGIN_ID}] the access token cannot read phone number id "
            f"{settings.phone_number_id} (HTTP {response.status_code}, Graph code "
            f"{code}); check phone_number_id and that the token's system user is "
            "assigned to the WhatsApp Business Account",
        )
    return ConfigProblem(
        "warning",
        f"[{PLUGIN_ID}] the Graph API answered the phone number check with HTTP "
        f"{response.status_code}; try again later",
    )
