"""Notes and warnings of ``parley config check`` about the ``[twilio]`` section."""

from __future__ import annotations

from parley import ConfigProblem
from parley_twilio.const import INBOUND_PATH, PLUGIN_ID, STATUS_PATH
from parley_twilio.settings import TwilioSettings


def config_problems(
    settings: TwilioSettings, webhook_url: str | None
) -> list[ConfigProblem]:
    """Describe the webhook URLs to set at Twilio, or why they are unknown.

    Args:
        settings: the validated ``[twilio]`` section.
        webhook_url: the public URL of ``/webhooks/twilio``, or None.
    """
    sender = settings.messaging_service_sid or settings.from_number
    rate = (
        f"sends from {sender} at {settings.rate_per_second:g} message segments "
        f"per second, at most {settings.max_concurrent_requests} requests at once"
    )
    if webhook_url is None:
        return [
            ConfigProblem(
                severity="warning",
                message=f"[{PLUGIN_ID}] neither webhook_url nor [server] public_url "
                "is set, so signatures are checked against the URL the daemon "
                "sees, which fails behind a proxy, and no status callbacks are "
                "requested; set webhook_url to the public URL of /webhooks/twilio",
            ),
            ConfigProblem(severity="info", message=f"[{PLUGIN_ID}] {rate}"),
        ]

    callbacks = (
        f"status callbacks go to {webhook_url}{STATUS_PATH}"
        if settings.status_callbacks
        else "status callbacks are off"
    )
    return [
        ConfigProblem(
            severity="info",
            message=f"[{PLUGIN_ID}] set the incoming-message webhook at Twilio to "
            f"POST {webhook_url}{INBOUND_PATH}; {callbacks}; {rate}",
        )
    ]
