"""The channel's own rules for a send, checked before any request is made.

SMS has no customer-service window, so the rules only concern the message
itself: a recipient Twilio can text, and a body Twilio accepts. The same
check runs when the message is queued (through ``window_rule``) and in
``send``, so a message that breaks a rule is blocked with the reason and
never reaches Twilio.
"""

from __future__ import annotations

import phonenumbers

from parley import OutboundMessage
from parley_twilio.const import E164_PATTERN, MAX_BODY_CHARS
from parley_twilio.redact import mask_phone


def blocked_reason(message: OutboundMessage) -> str | None:
    """Return why the message may not be sent through Twilio, or None.

    NOTE: the length is counted in Unicode code points. Twilio's limit of
    1600 characters is not documented as code points or UTF-16 units, so a
    body of emoji close to the limit may still be refused by Twilio, with
    an error that fails the message.
    """
    if not _is_e164_phone(message.to):
        return (
            f"twilio sends only to phone numbers in E.164 (+14155550123); the "
            f"recipient ending {mask_phone(message.to)} is not one"
        )
    if not message.body.strip():
        return "the message body is empty; Twilio rejects a message without text"
    if len(message.body) > MAX_BODY_CHARS:
        return (
            f"the body is {len(message.body)} characters; Twilio accepts at most "
            f"{MAX_BODY_CHARS} per message"
        )
    return None


def _is_e164_phone(value: str) -> bool:
    if not E164_PATTERN.fullmatch(value):
        return False
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(number)
