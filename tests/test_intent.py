"""Rule-based intents of customer messages."""

from __future__ import annotations

import pytest

from parley.intent import Intent, IntentClassifier, classify, is_urgent


@pytest.mark.parametrize(
    ("text", "intents"),
    [
        ("URGENT: my order never came", {"urgent"}),
        ("This is an emergency!!", {"urgent"}),
        ("Need it asap", {"urgent"}),
        ("please reply as soon as possible", {"urgent"}),
        ("🚨 wrong address on my parcel", {"urgent"}),
        ("Where is my order?", {"order_status"}),
        ("where's my package", {"order_status"}),
        ("WHERE IS MY ORDER", {"order_status"}),
        ("Can I get the tracking number", {"order_status"}),
        ("It still hasn't arrived", {"order_status"}),
        ("Please cancel my order", {"cancel"}),
        ("I want a refund.", {"refund"}),
        ("how do I send it back", {"refund"}),
        ("Can I talk to a person", {"human"}),
        ("I need a real person, not a bot", {"human"}),
        ("Hello", {"greeting"}),
        ("Good morning!", {"greeting"}),
        ("Thanks!", {"thanks"}),
        ("thank you so much", {"thanks"}),
        ("Hi, where is my order?", {"greeting", "order_status"}),
        (
            "Hey, cancel it and refund me asap",
            {"greeting", "cancel", "refund", "urgent"},
        ),
        ("Do you have this in blue?", {"other"}),
        ("", {"other"}),
        ("!!!", {"other"}),
    ],
)
def test_classify_table(text: str, intents: set[str]) -> None:
    assert classify(text) == intents


@pytest.mark.parametrize(
    "text",
    [
        "refunding",  # a word that only starts with a phrase
        "detrack",
        "this",  # "hi" inside a word
        "shipper",
    ],
)
def test_phrases_need_whole_words(text: str) -> None:
    assert classify(text) == {"other"}


def test_punctuation_splits_words() -> None:
    assert classify("urgently-needed") == {"urgent"}
    assert classify("refund/return?") == {"refund"}


def test_greeting_only_at_start() -> None:
    assert "greeting" not in classify("I said hi yesterday about my order status")
    assert "greeting" in classify("hi")


@pytest.mark.parametrize(
    "text",
    [
        "not urgent, whenever you can",
        "It isn't urgent",
        "no emergency, just a question",
        "not really urgent",
        "Never urgent with me :)",
    ],
)
def test_negated_urgent_is_not_urgent(text: str) -> None:
    assert not is_urgent(text)
    assert "urgent" not in classify(text)


@pytest.mark.parametrize(
    "text",
    [
        "not sure why but this is urgent",
        "URGENT!!!",
        "ｕｒｇｅｎｔ",  # full-width letters
        "emergency - the box is leaking",
        "🆘",
    ],
)
def test_urgent_detected(text: str) -> None:
    assert is_urgent(text)


def test_extra_urgent_keywords() -> None:
    classifier = IntentClassifier(urgent_keywords=["leaking", "Gas Smell"])
    assert classifier.is_urgent("The heater is LEAKING")
    assert classifier.is_urgent("there's a gas smell!")
    assert classifier.classify("gas smell") == {"urgent"}
    assert not classifier.is_urgent("no leaking anymore")
    assert not is_urgent("The heater is leaking")


def test_extra_keyword_without_letters_rejected() -> None:
    with pytest.raises(ValueError, match="'!!!' has no letters or digits"):
        IntentClassifier(urgent_keywords=["!!!"])


def test_classify_is_deterministic() -> None:
    text = "Hi! URGENT: where is my order? I want a refund or cancel it. Thanks"
    first = classify(text)
    assert all(classify(text) == first for _ in range(20))
    assert first == {"greeting", "urgent", "order_status", "refund", "cancel", "thanks"}


def test_intent_values_are_strings() -> None:
    assert Intent.ORDER_STATUS == "order_status"
    assert {str(intent) for intent in classify("where is my order")} == {"order_status"}
