"""Rule-based intent of a customer message: urgent, order status, cancel and more.

A message is normalised as keywords are (Unicode NFKC, case folded, every
character that is not a letter, digit or space turned into a space), then
split into words. An intent applies when one of its phrases appears as
whole consecutive words, so "refund" matches "Refund please!" but not
"refunding". Apostrophes become spaces, so the phrase "where's my order"
is matched as the words "where s my order".

A message may have several intents, such as ``{"greeting", "order_status"}``
for "Hi, where is my order?", and has ``{"other"}`` when no rule applies.
Two rules differ from plain phrase matching:

- ``greeting`` applies only when a greeting phrase opens the message.
- ``urgent`` ignores a phrase that a negation ("not", "no", "isn't",
  "never") precedes within two words, so "not urgent" is not urgent. The
  police-light and SOS emoji also mark a message urgent.

The result depends only on the text and the configured extra urgent
keywords, never on time or state.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

from parley.keywords import normalize_text


class Intent(enum.StrEnum):
    """The request a customer message makes."""

    URGENT = "urgent"
    ORDER_STATUS = "order_status"
    CANCEL = "cancel"
    REFUND = "refund"
    HUMAN = "human"
    GREETING = "greeting"
    THANKS = "thanks"
    OTHER = "other"


DEFAULT_PHRASES: Mapping[Intent, tuple[str, ...]] = {
    Intent.URGENT: (
        "urgent",
        "urgently",
        "emergency",
        "asap",
        "as soon as possible",
        "immediately",
        "right away",
        "time sensitive",
        "sos",
    ),
    Intent.ORDER_STATUS: (
        "where is my order",
        "where's my order",
        "where is my package",
        "where's my package",
        "order status",
        "status of my order",
        "track",
        "tracking",
        "tracking number",
        "shipped",
        "shipping",
        "delivery",
        "delivered",
        "not arrived",
        "hasn't arrived",
        "has not arrived",
        "still waiting",
        "when will it arrive",
        "when will my order",
        "eta",
    ),
    Intent.CANCEL: (
        "cancel",
        "cancel my order",
        "cancellation",
        "canceling",
        "cancelling",
        "cancelled",
        "canceled",
    ),
    Intent.REFUND: (
        "refund",
        "refunds",
        "refunded",
        "money back",
        "return",
        "returns",
        "returning",
        "send it back",
        "chargeback",
    ),
    Intent.HUMAN: (
        "human",
        "agent",
        "real person",
        "live person",
        "speak to someone",
        "talk to someone",
        "speak to a person",
        "talk to a person",
        "representative",
        "customer service",
        "operator",
        "call me",
    ),
    Intent.GREETING: (
        "hi",
        "hello",
        "hey",
        "hiya",
        "howdy",
        "good morning",
        "good afternoon",
        "good evening",
        "greetings",
    ),
    Intent.THANKS: (
        "thanks",
        "thank you",
        "thx",
        "ty",
        "many thanks",
        "appreciate it",
        "much appreciated",
        "cheers",
    ),
}

# Words that cancel an urgent phrase when they come within two words before it.
NEGATIONS = frozenset(
    {"not", "no", "non", "never", "isn", "isnt", "aren", "arent", "wasn", "wasnt"}
)
_NEGATION_REACH = 2

# Emoji that normalisation drops but that mark a message urgent.
URGENT_SYMBOLS = ("\N{POLICE CARS REVOLVING LIGHT}", "\N{SQUARED SOS}")


class IntentClassifier:
    """Classifies messages by the default phrases plus a business's urgent keywords."""

    def __init__(self, urgent_keywords: Iterable[str] = ()) -> None:
        """Prepare the phrase rules.

        Args:
            urgent_keywords: extra words or phrases that mark a message
                urgent, from ``[auto_replies] urgent_keywords``.

        Raises:
            ValueError: a keyword has no letters or digits, so it could
                never match.
        """
        phrases = {intent: list(words) for intent, words in DEFAULT_PHRASES.items()}
        for keyword in urgent_keywords:
            if not normalize_text(keyword):
                raise ValueError(
                    f"urgent keyword {keyword!r} has no letters or digits, so it "
                    "can never match; remove it or write it as words"
                )
            phrases[Intent.URGENT].append(keyword)
        self._phrases = {
            intent: tuple(_words(phrase) for phrase in words)
            for intent, words in phrases.items()
        }

    def classify(self, text: str) -> set[str]:
        """Return the intents of a message, or ``{"other"}`` when none apply."""
        words = _words(text)
        found: set[str] = set()
        for intent, phrases in self._phrases.items():
            if self._applies(intent, phrases, words):
                found.add(intent)
        if any(symbol in text for symbol in URGENT_SYMBOLS):
            found.add(Intent.URGENT)
        return found or {Intent.OTHER}

    def is_urgent(self, text: str) -> bool:
        """Return True when a message is urgent."""
        if any(symbol in text for symbol in URGENT_SYMBOLS):
            return True
        return self._applies(Intent.URGENT, self._phrases[Intent.URGENT], _words(text))

    def _applies(
        self,
        intent: Intent,
        phrases: tuple[tuple[str, ...], ...],
        words: tuple[str, ...],
    ) -> bool:
        for phrase in phrases:
            for position in _positions(phrase, words):
                if intent is Intent.GREETING and position != 0:
                    continue
                if intent is Intent.URGENT and _negated(words, position):
                    continue
                return True
        return False


def _words(text: str) -> tuple[str, ...]:
    return tuple(normalize_text(text).split())


def _positions(phrase: tuple[str, ...], words: tuple[str, ...]) -> list[int]:
    """Return each index where the phrase's words appear consecutively."""
    size = len(phrase)
    return [
        index
        for index in range(len(words) - size + 1)
        if words[index : index + size] == phrase
    ]


def _negated(words: tuple[str, ...], position: int) -> bool:
    before = words[max(0, position - _NEGATION_REACH) : position]
    return any(word in NEGATIONS for word in before)


_DEFAULT = IntentClassifier()


def classify(text: str) -> set[str]:
    """Return the intents of a message under the default rules."""
    return _DEFAULT.classify(text)


def is_urgent(text: str) -> bool:
    """Return True when a message is urgent under the default rules."""
    return _DEFAULT.is_urgent(text)
