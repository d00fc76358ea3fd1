"""CSAT surveys: score parsing, and the survey flow through the pipeline with a set clock."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from parley.config import load_config
from parley.conversations import SupportDesk
from parley.csat import (
    ReplyKind,
    SurveyJob,
    parse_score,
    request_survey,
)
from parley.errors import ConfigError
from parley.models import AddressKind, ChannelAddress, ContactRecord
from parley.runtime import Runtime
from parley.starter import render_starter
from parley.store.csat import SurveyRecord
from parley.store.desk_records import ConversationState

from .conftest import FakeClock, drain
from .desk_helpers import BLAKE, inbound

SURVEY = "How did we do? Reply with a number from 1 to 5."
CLARIFY = "Sorry, please reply with a number from 1 to 5."
THANKS = "Thank you for your feedback!"
AFTER = "We're closed and will answer when we open."
DURING = "We're here and will answer within 10 minutes."
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
# The first-message reply of the shared test configuration.
WELCOME = "Hi there, thanks for texting Harbor & Pine. Reply STOP to opt out."

TEMPLATES = f"""
csat_survey = "{SURVEY}"
csat_clarification = "{CLARIFY}"
csat_thanks = "{THANKS}"
auto_after = "{AFTER}"
auto_during = "{DURING}"
"""

# Open 09:00-17:00 every day in Los Angeles. The test clock starts at 07:00
# there, so the first message gets the after-hours reply, and a message
# after 09:00 would get the during-hours reply unless it answers a survey.
AUTO_REPLY = """
[calendar]
time_zone = "America/Los_Angeles"
mon = ["09:00-17:00"]
tue = ["09:00-17:00"]
wed = ["09:00-17:00"]
thu = ["09:00-17:00"]
fri = ["09:00-17:00"]
sat = ["09:00-17:00"]
sun = ["09:00-17:00"]

[auto_replies]
after_hours = "auto_after"
during_hours = "auto_during"
"""

CSAT = """
[csat]
enabled = true
thank_you = "csat_thanks"
quiet_minutes = 10
expiry_hours = 24
comment_minutes = 15
"""


# Score parsing


@pytest.mark.parametrize(
    ("text", "score", "comment"),
    [
        ("5", 5, None),
        ("5!", 5, None),
        (" 4 ", 4, None),
        ("1", 1, None),
        ("3.", 3, None),
        ("5 great service", 5, "great service"),
        ("5 - great service!", 5, "great service!"),
        ("4, slow but friendly", 4, "slow but friendly"),
        ("4/5", 4, None),
        ("4 / 5", 4, None),
        ("4 out of 5", 4, None),
        ("5 stars", 5, None),
        ("5\ufe0f\u20e3", 5, None),
        ("\uff15", 5, None),
        ("5 \U0001f600", 5, "\U0001f600"),
        ("2\nthe courier was rude", 2, "the courier was rude"),
        ("2 - the courier was rude", 2, "the courier was rude"),
        ("3 stars for the product", 3, "for the product"),
    ],
)
def test_parse_score_accepts(text: str, score: int, comment: str | None) -> None:
    parsed = parse_score(text)
    assert parsed.kind is ReplyKind.SCORE
    assert parsed.score == score
    assert parsed.comment == comment


@pytest.mark.parametrize(
    "text",
    [
        "10",
        "0",
        "6!",
        "4.5",
        "4,5",
        "10/10",
        "5/10",
        "-1",
        "five",
        "great",
        "Thanks!",
        "\U0001f44d",
        "\u2b50\u2b50\u2b50\u2b50\u2b50",
        "5th",
        "10 \U0001f600",
    ],
)
def test_parse_score_unclear(text: str) -> None:
    parsed = parse_score(text)
    assert parsed.kind is ReplyKind.UNCLEAR
    assert parsed.score is None


@pytest.mark.parametrize(
    "text",
    [
        "I still have a problem with my order",
        "great service",
        "10 days and still no package",
        "2 items missing from my order",
        "3 of my orders never arrived",
        "5 days late",
        "3 boxes",
        "my order number is 5",
        "",
        "   ",
    ],
)
def test_parse_score_other(text: str) -> None:
    parsed = parse_score(text)
    assert parsed.kind is ReplyKind.OTHER
    assert parsed.score is None


# The survey flow


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(TEMPLATES + AUTO_REPLY + CSAT)


@pytest.fixture
def desk(runtime: Runtime) -> SupportDesk:
    return SupportDesk(runtime.context, runtime.channels)


def close(desk: SupportDesk, conversation_id: int) -> None:
    _record, changed = desk.set_state("ana", conversation_id, ConversationState.CLOSED)
    assert changed


def run_job(runtime: Runtime) -> dict[str, int]:
    counts = SurveyJob(runtime.context, runtime.channels).run()
    drain(runtime)
    return counts


def surveys(runtime: Runtime) -> list[SurveyRecord]:
    return runtime.store.csat_surveys()


def sent_bodies(runtime: Runtime, kind: str | None = None) -> list[str]:
    return [
        m.body
        for m in runtime.store.messages()
        if m.direction == "out"
        and m.status == "sent"
        and (kind is None or m.kind == kind)
    ]


def state_of(runtime: Runtime, conversation_id: int) -> ConversationState:
    found = runtime.store.get_conversation(conversation_id)
    assert found is not None
    return found.state


def surveyed(runtime: Runtime, desk: SupportDesk, clock: FakeClock) -> int:
    """Open a conversation, close it and send its survey; return the conversation."""
    conversation_id = inbound(runtime, "Where is my order?", "in-1")
    clock.advance(60)
    close(desk, conversation_id)
    clock.advance(10 * 60)
    counts = run_job(runtime)
    assert counts["sent"] == 1
    return conversation_id


def test_survey_waits_for_quiet_delay(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    conversation_id = inbound(runtime, "Where is my order?", "in-1")
    close(desk, conversation_id)
    assert [s.state for s in surveys(runtime)] == ["pending"]

    clock.advance(9 * 60)
    run_job(runtime)
    assert sent_bodies(runtime, "csat_survey") == []

    clock.advance(60)
    run_job(runtime)
    assert sent_bodies(runtime, "csat_survey") == [SURVEY]
    (survey,) = surveys(runtime)
    assert survey.state == "sent"
    assert survey.agent == "ana"
    assert survey.sent_at == clock.now
    assert survey.expires_at == datetime.fromisoformat("2026-11-18T15:10:00+00:00")


def test_score_recorded_and_thanked(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    conversation_id = surveyed(runtime, desk, clock)
    clock.advance(120)
    inbound(runtime, "5!", "in-2")

    (survey,) = surveys(runtime)
    assert survey.state == "answered"
    assert survey.score == 5
    assert survey.comment is None
    assert survey.answered_at == clock.now
    assert sent_bodies(runtime, "csat_thank_you") == [THANKS]
    assert state_of(runtime, conversation_id) is ConversationState.CLOSED


@pytest.mark.parametrize(
    ("body", "auto_replies"),
    [
        ("5", [WELCOME, AFTER]),
        ("10", [WELCOME, AFTER]),
        ("I still have a problem with my order", [WELCOME, AFTER, DURING]),
    ],
)
def test_answer_gets_no_auto_reply(
    runtime: Runtime,
    desk: SupportDesk,
    clock: FakeClock,
    body: str,
    auto_replies: list[str],
) -> None:
    surveyed(runtime, desk, clock)
    clock.now = datetime(2026, 11, 17, 9, 30, tzinfo=LOS_ANGELES)
    inbound(runtime, body, "in-2")
    assert sent_bodies(runtime, "auto_reply") == auto_replies


def test_score_keeps_closing_history(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    conversation_id = surveyed(runtime, desk, clock)
    closed_at = runtime.store.get_conversation(conversation_id).closed_at  # type: ignore[union-attr]
    inbound(runtime, "4", "in-2")
    states = [change.state for change in runtime.store.state_history(conversation_id)]
    assert states == [ConversationState.CLOSED]
    after = runtime.store.get_conversation(conversation_id)
    assert after is not None
    assert after.closed_at == closed_at


def test_score_with_comment(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    surveyed(runtime, desk, clock)
    inbound(runtime, "5 great service", "in-2")
    (survey,) = surveys(runtime)
    assert survey.score == 5
    assert survey.comment == "great service"
    with runtime.store.engine.connect() as conn:
        stored = conn.execute(text("SELECT comment FROM csat_surveys")).scalar_one()
    assert "great service" not in stored


def test_later_comment_kept_and_reopens(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    conversation_id = surveyed(runtime, desk, clock)
    inbound(runtime, "4", "in-2")
    clock.advance(5 * 60)
    inbound(runtime, "The box was a bit dented though", "in-3")
    (survey,) = surveys(runtime)
    assert survey.score == 4
    assert survey.comment == "The box was a bit dented though"
    assert state_of(runtime, conversation_id) is ConversationState.OPEN


def test_message_after_comment_window_not_kept(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    surveyed(runtime, desk, clock)
    inbound(runtime, "4", "in-2")
    clock.advance(16 * 60)
    inbound(runtime, "Another question about returns", "in-3")
    (survey,) = surveys(runtime)
    assert survey.comment is None


def test_unclear_answer_clarified_once(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    conversation_id = surveyed(runtime, desk, clock)
    inbound(runtime, "10", "in-2")
    assert sent_bodies(runtime, "csat_clarification") == [CLARIFY]
    assert state_of(runtime, conversation_id) is ConversationState.CLOSED

    clock.advance(60)
    inbound(runtime, "great", "in-3")
    assert sent_bodies(runtime, "csat_clarification") == [CLARIFY]
    assert state_of(runtime, conversation_id) is ConversationState.OPEN
    assert surveys(runtime)[0].state == "sent"

    clock.advance(60)
    inbound(runtime, "3", "in-4")
    (survey,) = surveys(runtime)
    assert survey.score == 3
    assert survey.clarified


def test_sentence_stays_for_agent(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    conversation_id = surveyed(runtime, desk, clock)
    inbound(runtime, "I still have a problem with my order", "in-2")
    (survey,) = surveys(runtime)
    assert survey.state == "sent"
    assert survey.score is None
    assert state_of(runtime, conversation_id) is ConversationState.OPEN
    assert sent_bodies(runtime, "csat_clarification") == []


def test_number_after_agent_reply_not_score(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    conversation_id = surveyed(runtime, desk, clock)
    inbound(runtime, "I still have a problem with my order", "in-2")
    clock.advance(60)
    desk.reply("ana", conversation_id, "Sorry! How many units are missing?")
    drain(runtime)
    clock.advance(60)
    inbound(runtime, "5", "in-3")
    (survey,) = surveys(runtime)
    assert survey.state == "sent"
    assert survey.score is None
    assert sent_bodies(runtime, "csat_thank_you") == []


def test_number_after_agent_reopen_not_score(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    conversation_id = surveyed(runtime, desk, clock)
    desk.set_state("ana", conversation_id, ConversationState.OPEN)
    clock.advance(60)
    inbound(runtime, "5", "in-2")
    (survey,) = surveys(runtime)
    assert survey.score is None
    assert state_of(runtime, conversation_id) is ConversationState.OPEN


def test_stop_is_not_an_answer(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    surveyed(runtime, desk, clock)
    inbound(runtime, "STOP", "in-2")
    (survey,) = surveys(runtime)
    assert survey.state == "sent"
    kinds = [m.kind for m in runtime.store.messages() if m.direction == "out"]
    assert kinds[-1] == "opt_out_confirmation"
    assert "csat_clarification" not in kinds


def test_customer_writing_cancels_survey(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    conversation_id = inbound(runtime, "Where is my order?", "in-1")
    close(desk, conversation_id)
    clock.advance(5 * 60)
    inbound(runtime, "Oh, one more thing", "in-2")
    assert state_of(runtime, conversation_id) is ConversationState.OPEN

    clock.advance(10 * 60)
    counts = run_job(runtime)
    assert counts["cancelled"] == 1
    assert [s.state for s in surveys(runtime)] == ["cancelled"]
    assert sent_bodies(runtime, "csat_survey") == []


def test_reclosing_requests_new_survey(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    conversation_id = inbound(runtime, "Where is my order?", "in-1")
    close(desk, conversation_id)
    clock.advance(60)
    inbound(runtime, "And my refund?", "in-2")
    clock.advance(60)
    close(desk, conversation_id)
    clock.advance(10 * 60)
    run_job(runtime)
    assert [s.state for s in surveys(runtime)] == ["cancelled", "sent"]
    assert sent_bodies(runtime, "csat_survey") == [SURVEY]


def test_one_survey_per_closing(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    conversation_id = inbound(runtime, "Where is my order?", "in-1")
    close(desk, conversation_id)
    closing_id = runtime.store.state_history(conversation_id)[-1].id
    assert request_survey(runtime.context, conversation_id, closing_id) is None

    clock.advance(10 * 60)
    run_job(runtime)
    clock.advance(60 * 60)
    run_job(runtime)
    assert sent_bodies(runtime, "csat_survey") == [SURVEY]
    assert len(surveys(runtime)) == 1


def test_no_second_survey_within_expiry(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    conversation_id = surveyed(runtime, desk, clock)
    inbound(runtime, "Actually the lid is broken", "in-2")
    clock.advance(30 * 60)
    close(desk, conversation_id)
    assert len(surveys(runtime)) == 1


def test_survey_expires(runtime: Runtime, desk: SupportDesk, clock: FakeClock) -> None:
    conversation_id = surveyed(runtime, desk, clock)
    clock.advance(24 * 3600)
    counts = run_job(runtime)
    assert counts["expired"] == 1

    inbound(runtime, "5", "in-2")
    (survey,) = surveys(runtime)
    assert survey.state == "expired"
    assert survey.score is None
    assert state_of(runtime, conversation_id) is ConversationState.OPEN


def test_late_answer_expires_without_job(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    surveyed(runtime, desk, clock)
    clock.advance(24 * 3600 + 1)
    inbound(runtime, "5", "in-2")
    (survey,) = surveys(runtime)
    assert survey.state == "expired"
    assert sent_bodies(runtime, "csat_thank_you") == []


def test_opted_out_survey_blocked(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    conversation_id = inbound(runtime, "Where is my order?", "in-1")
    inbound(runtime, "STOP", "in-2")
    close(desk, conversation_id)
    clock.advance(10 * 60)
    counts = run_job(runtime)
    assert counts["blocked"] == 1

    (survey,) = surveys(runtime)
    assert survey.state == "blocked"
    assert survey.sent_at is None
    blocked = [m for m in runtime.store.messages() if m.id == survey.message_id]
    assert blocked[0].kind == "csat_survey"
    assert blocked[0].status == "blocked"
    assert "opted out" in (blocked[0].status_reason or "")


def test_survey_renders_fields(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    personal = 'csat_survey = "{{First Name | Hi}}, how did {{Business Name}} do? Reply 1 to 5."\n'
    runtime = make_runtime(personal + CSAT)
    desk = SupportDesk(runtime.context, runtime.channels)
    conversation_id = inbound(runtime, "Where is my order?", "in-1")
    close(desk, conversation_id)
    clock.advance(10 * 60)
    run_job(runtime)
    assert sent_bodies(runtime, "csat_survey") == [
        "Hi, how did Harbor & Pine do? Reply 1 to 5."
    ]


def test_unrenderable_survey_blocked(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    runtime = make_runtime('csat_survey = "How did {{Loyalty Tier}} do?"\n' + CSAT)
    desk = SupportDesk(runtime.context, runtime.channels)
    conversation_id = inbound(runtime, "Where is my order?", "in-1")
    close(desk, conversation_id)
    clock.advance(10 * 60)
    run_job(runtime)

    (survey,) = surveys(runtime)
    assert survey.state == "blocked"
    (message,) = [m for m in runtime.store.messages() if m.id == survey.message_id]
    assert message.status == "blocked"
    assert "{{Loyalty Tier}}" in (message.status_reason or "")


def test_survey_waits_for_sending_window(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    runtime = make_runtime(
        TEMPLATES + CSAT,
        compliance='\n[compliance]\nrequire_informational_consent = false\nopt_out_notice = ""\n',
    )
    desk = SupportDesk(runtime.context, runtime.channels)
    # 21:30 in Los Angeles, where the default window 08:00-21:00 is closed.
    clock.now = datetime(2026, 11, 17, 21, 30, tzinfo=LOS_ANGELES)
    conversation_id = inbound(runtime, "Where is my order?", "in-1")
    close(desk, conversation_id)
    clock.advance(60 * 60)
    run_job(runtime)
    assert [s.state for s in surveys(runtime)] == ["pending"]

    clock.now = datetime(2026, 11, 18, 8, 0, tzinfo=LOS_ANGELES)
    run_job(runtime)
    assert [s.state for s in surveys(runtime)] == ["sent"]


def test_disabled_sends_none_on_close(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    runtime = make_runtime(TEMPLATES)
    desk = SupportDesk(runtime.context, runtime.channels)
    conversation_id = inbound(runtime, "Where is my order?", "in-1")
    close(desk, conversation_id)
    assert surveys(runtime) == []

    survey_id = request_survey(runtime.context, conversation_id)
    assert survey_id is not None
    clock.advance(10 * 60)
    run_job(runtime)
    assert sent_bodies(runtime, "csat_survey") == [SURVEY]


def test_no_survey_without_customer_message(runtime: Runtime, clock: FakeClock) -> None:
    phone = ChannelAddress(AddressKind.PHONE, BLAKE)
    contact = runtime.store.save_contact(
        ContactRecord(source="import", phone=BLAKE), [phone], clock.now
    )
    conversation_id, _ = runtime.store.open_conversation(
        contact.id, "sandbox", BLAKE, clock.now
    )
    runtime.store.set_conversation_state(
        conversation_id, ConversationState.CLOSED, "ana", clock.now
    )
    assert request_survey(runtime.context, conversation_id) is None
    assert request_survey(runtime.context, 999) is None
    assert surveys(runtime) == []


def test_request_needs_closed_conversation(runtime: Runtime) -> None:
    conversation_id = inbound(runtime, "Where is my order?", "in-1")
    assert request_survey(runtime.context, conversation_id) is None
    assert surveys(runtime) == []


def test_job_registered_as_poller(runtime: Runtime) -> None:
    names = [(poller.plugin_id, poller.name) for poller in runtime.pollers]
    assert ("core", "csat") in names


def test_other_customer_unaffected(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    surveyed(runtime, desk, clock)
    inbound(runtime, "5", "in-2", sender="+14155550188")
    (survey,) = surveys(runtime)
    assert survey.state == "sent"
    assert survey.score is None
    assert sent_bodies(runtime, "csat_thank_you") == []


# Settings


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("quiet_minutes = -1", "csat.quiet_minutes"),
        ("expiry_hours = 0", "csat.expiry_hours"),
        ("comment_minutes = 5000", "csat.comment_minutes"),
        ('surveys = "x"', "csat.surveys"),
    ],
)
def test_invalid_settings_named(
    write_config: Callable[..., Path], setting: str, expected: str
) -> None:
    path = write_config(f"\n[csat]\n{setting}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert expected in str(caught.value)


def test_settings_defaults(write_config: Callable[..., Path]) -> None:
    settings = load_config(write_config(), environ={}).settings
    assert settings.csat.enabled is False
    assert settings.csat.survey == "csat_survey"
    assert settings.csat.reply_template_names() == ["csat_clarification"]


def test_starter_example_loads(tmp_path: Path) -> None:
    text = render_starter()
    examples = re.findall(r"^#   (csat_\w+ = .+)$", text, flags=re.MULTILINE)
    section = re.search(r"^# \[csat\]\n(?:# .+\n)+", text, flags=re.MULTILINE)
    assert len(examples) == 3
    assert section is not None
    uncommented = "\n".join(line[2:] for line in section.group(0).splitlines())
    text = text.replace("[templates]\n", "[templates]\n" + "\n".join(examples) + "\n")
    path = tmp_path / "parley.toml"
    path.write_text(text + "\n" + uncommented + "\n", encoding="utf-8")

    settings = load_config(path, environ={}).settings
    assert settings.csat.enabled is True
    assert settings.csat.thank_you == "csat_thank_you"
    for name in (settings.csat.survey, *settings.csat.reply_template_names()):
        assert name in settings.templates
