"""``[csat]``: customer satisfaction surveys sent when a conversation closes.

The model lives apart from :mod:`parley.config` so that the survey logic
and its settings can be read together. ``CoreSettings.csat`` is this model.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CsatSettings(BaseModel):
    """``[csat]``: when a survey goes out, which templates it uses, how long it waits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        False,
        description="Send a survey when an agent closes a conversation; automations "
        "can still request one when this is off.",
    )
    survey: str = Field(
        "csat_survey",
        min_length=1,
        description="Template asking for a score from 1 to 5.",
    )
    clarification: str | None = Field(
        "csat_clarification",
        description="Template sent once when the reply is a word or a number "
        "outside 1 to 5; empty sends none and leaves such answers to the agent.",
    )
    thank_you: str | None = Field(
        None,
        description="Template thanking the customer for a score; empty sends none.",
    )
    quiet_minutes: float = Field(
        10.0,
        ge=0,
        le=24 * 60,
        description="Minutes without a customer message after the closing before "
        "the survey goes out; a message in that time reopens the conversation "
        "and cancels the survey.",
    )
    expiry_hours: float = Field(
        24.0,
        gt=0,
        le=24 * 30,
        description="Hours after sending during which a reply counts as an answer; "
        "a survey not yet sent by then is dropped as expired.",
    )
    comment_minutes: float = Field(
        15.0,
        ge=0,
        le=24 * 60,
        description="Minutes after a score during which the customer's next "
        "message is kept as the survey's comment; 0 keeps only a comment "
        "written together with the score.",
    )

    def reply_template_names(self) -> list[str]:
        """Return the templates that may answer a customer's reply to a survey."""
        return [name for name in (self.clarification, self.thank_you) if name]
