"""Twilio's voice webhooks, for missed-call text-back.

Point a Twilio number's "A call comes in" webhook at
``/webhooks/twilio/voice``. The business takes no calls through Twilio, so
the call is declined with ``<Reject reason="busy"/>`` (Twilio does not
charge for a rejected call) and reported to the core as missed; the
core's ``missed_call`` automations can then text the caller back.

A business that forwards calls with ``<Dial>`` in its own TwiML can point
the Dial ``action`` URL, or the number's call status callback, at
``/webhooks/twilio/voice/status``. A ``DialCallStatus`` or ``CallStatus``
of ``no-answer``, ``busy``, ``failed`` or ``canceled`` is a missed call;
``completed`` is an answered one, which only ``incoming_call``
automations see. Each CallSid is reported once, so a status callback for
a call already rejected at ``/voice`` records nothing new.

Both paths check ``X-Twilio-Signature`` exactly as the messaging webhook
does, against the same public URL.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from xml.sax.saxutils import escape

from parley import (
    AddressKind,
    ChannelAddress,
    PluginContext,
    SignatureError,
    WebhookRejected,
    WebhookRequest,
    WebhookResponse,
    WebhookRoute,
)
from parley_twilio.const import PLUGIN_ID, SIGNATURE_HEADER
from parley_twilio.mapping import FormFields
from parley_twilio.signature import signature_matches
from parley_twilio.webhook import TwilioWebhook

logger = logging.getLogger(__name__)

VOICE_PATH = "/voice"
VOICE_STATUS_PATH = "/voice/status"
MISSED_STATUSES = frozenset({"no-answer", "busy", "failed", "canceled"})
# Call SIDs are CA followed by 32 hexadecimal digits.
CALL_SID_PATTERN = re.compile(r"CA[0-9a-fA-F]{32}")
TWIML_CONTENT_TYPE = "text/xml; charset=utf-8"
REJECT_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Reject reason="busy"/></Response>'
)
HANGUP_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>'
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@dataclasses.dataclass(frozen=True)
class CallReport:
    """The call details of one voice request."""

    call_sid: str
    caller: str
    status: str
    missed: bool


class VoiceWebhook:
    """Verify Twilio's voice requests and report the calls to the core."""

    def __init__(
        self, context: PluginContext, messaging: TwilioWebhook, auth_token: str
    ) -> None:
        """Create the handler.

        Args:
            context: the running instance, to report calls.
            messaging: the messaging webhook, whose form parsing and URL
                rebuilding the voice paths share.
            auth_token: the account's primary Auth Token, the signing key.
        """
        self._context = context
        self._messaging = messaging
        self._auth_token = auth_token

    def routes(self) -> list[WebhookRoute]:
        """Return the routes for ``/webhooks/twilio/voice`` and ``/voice/status``."""
        return [
            WebhookRoute(PLUGIN_ID, VOICE_PATH, self.incoming_call),
            WebhookRoute(PLUGIN_ID, VOICE_STATUS_PATH, self.call_status),
        ]

    def incoming_call(self, request: WebhookRequest) -> WebhookResponse:
        """Decline a call and report it as missed.

        Raises:
            SignatureError: the signature is missing or wrong (403).
            WebhookRejected: the form lacks CallSid or From (400).
        """
        fields = self._verified_fields(request, VOICE_PATH)
        report = _report(fields, status="rejected", missed=True)
        self._report(report)
        return WebhookResponse(200, REJECT_TWIML, content_type=TWIML_CONTENT_TYPE)

    def call_status(self, request: WebhookRequest) -> WebhookResponse:
        """Report a forwarded call's outcome from a Dial action or status callback.

        Raises:
            SignatureError: the signature is missing or wrong (403).
            WebhookRejected: the form lacks CallSid, From or a status (400).
        """
        fields = self._verified_fields(request, VOICE_STATUS_PATH)
        dial_status = fields.get("DialCallStatus")
        status = (dial_status or fields.get("CallStatus") or "").strip().lower()
        if not status:
            raise WebhookRejected(
                400, "the form has neither DialCallStatus nor CallStatus"
            )
        if status in ("queued", "ringing", "in-progress"):
            # The call is still going; its final status comes later.
            return WebhookResponse(200, EMPTY_TWIML, content_type=TWIML_CONTENT_TYPE)
        self._report(_report(fields, status=status, missed=status in MISSED_STATUSES))
        # A Dial action expects the rest of the call's TwiML; a status
        # callback ignores the body.
        body = HANGUP_TWIML if dial_status else EMPTY_TWIML
        return WebhookResponse(200, body, content_type=TWIML_CONTENT_TYPE)

    def _verified_fields(self, request: WebhookRequest, path: str) -> FormFields:
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            raise SignatureError(f"missing {SIGNATURE_HEADER} header", status=403)
        # The daemon hands a plugin route an empty path; the signed URL ends
        # with the route's own path below /webhooks/twilio.
        scoped = dataclasses.replace(request, path=path)
        pairs = self._messaging._form_pairs(scoped)
        post_pairs = pairs if request.method == "POST" else []
        urls = self._messaging._signed_urls(scoped)
        if not signature_matches(self._auth_token, urls, post_pairs, signature):
            logger.warning(
                "%s does not match on the voice webhook %s; set [twilio] webhook_url "
                "(or [server] public_url) to the URL configured at Twilio",
                SIGNATURE_HEADER,
                path,
            )
            raise SignatureError(f"invalid {SIGNATURE_HEADER}", status=403)
        return FormFields(pairs)

    def _report(self, report: CallReport) -> None:
        recorded = self._context.report_call(
            channel=PLUGIN_ID,
            caller=ChannelAddress(AddressKind.PHONE, report.caller),
            call_id=report.call_sid,
            status=report.status,
            missed=report.missed,
        )
        logger.info(
            "voice webhook: call %s %s (%s)",
            report.call_sid,
            "recorded" if recorded else "not recorded again",
            report.status,
        )


def _report(fields: FormFields, status: str, missed: bool) -> CallReport:
    call_sid = (fields.get("CallSid") or "").strip()
    if not CALL_SID_PATTERN.fullmatch(call_sid):
        raise WebhookRejected(
            400, "CallSid is missing or is not CA followed by 32 hex digits"
        )
    caller = (fields.get("From") or "").strip()
    if not caller:
        raise WebhookRejected(400, f"call {escape(call_sid)} has no From number")
    return CallReport(call_sid, caller, status, missed)
