"""Request bodies of ``POST /{phone-number-id}/messages``."""

from __future__ import annotations

from typing import Any

from parley import OutboundMessage
from parley_whatsapp.addresses import recipient_fields
from parley_whatsapp.const import MESSAGING_PRODUCT
from parley_whatsapp.window import SendPlan, TemplatePlan, TextPlan


def message_body(
    message: OutboundMessage, plan: SendPlan, preview_url: bool
) -> dict[str, Any]:
    """Build the JSON body that sends ``message`` in the form ``plan`` chose.

    The core's idempotency key travels in ``biz_opaque_callback_data``,
    which Meta echoes on the message's status webhooks.

    Args:
        message: the message; ``to`` is an E.164 number or a BSUID.
        plan: free-form text or a template with its parameter values.
        preview_url: whether WhatsApp previews the first link of a text.

    Raises:
        DeliveryError: ``message.to`` is not an address WhatsApp accepts.
    """
    body: dict[str, Any] = {
        "messaging_product": MESSAGING_PRODUCT,
        "recipient_type": "individual",
        **recipient_fields(message.to),
    }
    if isinstance(plan, TextPlan):
        body["type"] = "text"
        body["text"] = {"preview_url": preview_url, "body": plan.body}
    else:
        body["type"] = "template"
        body["template"] = template_object(plan)
    body["biz_opaque_callback_data"] = message.idempotency_key
    return body


def template_object(plan: TemplatePlan) -> dict[str, Any]:
    """Build the ``template`` object: name, language and positional parameters."""
    components: list[dict[str, Any]] = []
    if plan.parameters:
        components.append(
            {
                "type": "body",
                "parameters": [_text_parameter(value) for value in plan.parameters],
            }
        )
    if plan.url_button_value is not None:
        components.append(
            {
                "type": "button",
                "sub_type": "url",
                "index": str(plan.template.url_button_index),
                "parameters": [_text_parameter(plan.url_button_value)],
            }
        )

    template: dict[str, Any] = {
        "name": plan.template.name,
        "language": {"code": plan.template.language},
    }
    if components:
        template["components"] = components
    return template


def _text_parameter(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}
