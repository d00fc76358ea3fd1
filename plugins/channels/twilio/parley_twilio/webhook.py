"""Twilio's webhooks: incoming messages and status callbacks, verified first.

Twilio signs the URL it was configured with, which a proxy in front of the
daemon changes. The URL is therefore rebuilt from the configured public
webhook URL plus the path below ``/webhooks/twilio`` and the query string.
Without one, it is rebuilt from ``X-Forwarded-Proto`` and
``X-Forwarded-Host`` when the request comes from a trusted proxy, and
otherwise the URL the daemon saw is used.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from parley import (
    InboundBatch,
    SignatureError,
    WebhookRejected,
    WebhookRequest,
    WebhookResponse,
)
from parley_twilio.const import (
    EMPTY_TWIML,
    FORM_CONTENT_TYPE,
    SIGNATURE_HEADER,
    WEBHOOK_PATHS,
)
from parley_twilio.mapping import (
    FormFields,
    is_status_callback,
    to_inbound_message,
    to_status_update,
)
from parley_twilio.signature import signature_matches

logger = logging.getLogger(__name__)

_IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Clock = Callable[[], datetime]


class TwilioWebhook:
    """Verify and parse requests to ``/webhooks/twilio``."""

    def __init__(
        self,
        auth_token: str,
        webhook_url: str | None,
        trusted_proxies: Sequence[str],
        default_region: str,
        clock: Clock,
    ) -> None:
        """Create the handler.

        Args:
            auth_token: the account's primary Auth Token, the signing key.
            webhook_url: the public URL of ``/webhooks/twilio``, or None.
            trusted_proxies: addresses or networks whose forwarded headers
                are believed when ``webhook_url`` is None.
            default_region: country for numbers without a country code.
            clock: the current time, for received and status times.
        """
        self._auth_token = auth_token
        self._webhook_url = webhook_url
        self._proxies: tuple[_IpNetwork, ...] = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in trusted_proxies
        )
        self._default_region = default_region
        self._clock = clock

    def handle(self, request: WebhookRequest) -> InboundBatch:
        """Verify the signature, then parse the message or status it carries.

        Raises:
            SignatureError: the signature is missing or wrong (403).
            WebhookRejected: the path, method, content type or fields are
                not what Twilio sends (404, 405, 415 or 400).
        """
        if request.path not in WEBHOOK_PATHS:
            raise WebhookRejected(
                404,
                f"no Twilio webhook at /webhooks/twilio{request.path}; point "
                "Twilio at /webhooks/twilio/inbound and /webhooks/twilio/status",
            )
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            raise SignatureError(f"missing {SIGNATURE_HEADER} header", status=403)

        pairs = self._form_pairs(request)
        post_pairs = pairs if request.method == "POST" else []
        urls = self._signed_urls(request)
        if not signature_matches(self._auth_token, urls, post_pairs, signature):
            logger.warning(
                "%s does not match; URL used for validation: %s. Set [twilio] "
                "webhook_url (or [server] public_url) to the URL configured at "
                "Twilio when a proxy is in front of the daemon",
                SIGNATURE_HEADER,
                " or ".join(_without_query(url) for url in urls),
            )
            raise SignatureError(f"invalid {SIGNATURE_HEADER}", status=403)

        return self._parse(FormFields(pairs))

    def _parse(self, fields: FormFields) -> InboundBatch:
        now = self._clock()
        response = WebhookResponse(
            200, EMPTY_TWIML, content_type="text/xml; charset=utf-8"
        )
        if is_status_callback(fields):
            update = to_status_update(fields, now)
            statuses = (update,) if update is not None else ()
            return InboundBatch(statuses=statuses, response=response)

        message = to_inbound_message(fields, self._default_region, now)
        return InboundBatch(messages=(message,), response=response)

    def _form_pairs(self, request: WebhookRequest) -> list[tuple[str, str]]:
        """Decode the fields: the form body of a POST, the query of a GET."""
        if request.method == "GET":
            text = urlsplit(request.url).query
        elif request.method == "POST":
            content_type = request.headers.get("Content-Type", "")
            media_type = content_type.split(";", 1)[0].strip().lower()
            if media_type != FORM_CONTENT_TYPE:
                raise WebhookRejected(
                    415,
                    f"Content-Type is {media_type or 'missing'}; Twilio's message "
                    f"webhooks send {FORM_CONTENT_TYPE}",
                )
            try:
                text = request.body.decode("utf-8")
            except UnicodeDecodeError:
                raise WebhookRejected(400, "the form body is not UTF-8") from None
        else:
            raise WebhookRejected(405, "Twilio webhooks use POST or GET")

        try:
            return parse_qsl(
                text, keep_blank_values=True, strict_parsing=True, errors="strict"
            )
        except ValueError:
            raise WebhookRejected(
                400, "the form data is malformed: expected name=value pairs joined by &"
            ) from None

    def _signed_urls(self, request: WebhookRequest) -> list[str]:
        """Return the URLs Twilio may have signed for this request."""
        seen = urlsplit(request.url)
        if self._webhook_url is not None:
            url = self._webhook_url + request.path
            return [f"{url}?{seen.query}" if seen.query else url]

        forwarded = self._forwarded_url(request)
        if forwarded is not None:
            return [forwarded]
        return [request.url]

    def _forwarded_url(self, request: WebhookRequest) -> str | None:
        """Rebuild the URL from a trusted proxy's forwarded headers, or None."""
        if not self._proxies or not self._from_trusted_proxy(request.client_host):
            return None
        proto = _first(request.headers.get("X-Forwarded-Proto"))
        host = _first(request.headers.get("X-Forwarded-Host"))
        if proto not in ("http", "https") or not host:
            return None
        seen = urlsplit(request.url)
        return urlunsplit((proto, host, seen.path, seen.query, ""))

    def _from_trusted_proxy(self, client_host: str | None) -> bool:
        if client_host is None:
            return False
        try:
            address = ipaddress.ip_address(client_host)
        except ValueError:
            return False
        return any(address in network for network in self._proxies)


def _first(value: str | None) -> str | None:
    """Return the first entry of a comma-separated forwarded header."""
    if value is None:
        return None
    return value.split(",", 1)[0].strip() or None


def _without_query(url: str) -> str:
    """Drop the query string, which may carry a GET webhook's fields, for logs."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
