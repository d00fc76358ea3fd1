"""Recognition of opt-out, opt-in and help keywords in inbound messages.

A message is a keyword only when the keyword is the whole message, after
normalisation, or the keyword followed by a short courtesy ("Stop please",
"Stop. Thank you"). Normalisation folds case and full-width letters
(Unicode NFKC) and drops punctuation, symbols and emoji. A message that
merely mentions an opt-out word is flagged as a possible request to stop
instead, for a person to confirm.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Carrier and CTIA opt-out words; businesses may add words but never remove these.
DEFAULT_OPT_OUT = (
    "stop",
    "stopall",
    "end",
    "cancel",
    "unsubscribe",
    "quit",
    "revoke",
    "optout",
    "opt out",
)
DEFAULT_OPT_IN = ("start", "unstop")
DEFAULT_HELP = ("help", "info")
DEFAULT_CONFIRM = ("yes",)

COURTESIES = (
    "please",
    "pls",
    "plz",
    "thank you",
    "thanks",
    "thx",
    "ty",
    "now",
    "thank you very much",
    "thanks a lot",
)


class KeywordKind(enum.StrEnum):
    """The meaning of a keyword."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    CONFIRM = "confirm"


@dataclass(frozen=True)
class KeywordMatch:
    """The outcome of classifying one inbound message.

    Attributes:
        kind: the keyword's meaning, or None when the message is not a keyword.
        keyword: the matched keyword in its normalised form.
        possible_opt_out: True when the message mentions an opt-out word
            without being one, so a person should confirm.
    """

    kind: KeywordKind | None
    keyword: str | None = None
    possible_opt_out: bool = False


def normalize_text(body: str) -> str:
    """Fold a message for keyword matching.

    NFKC turns full-width letters into ASCII, ``casefold`` removes case,
    and every character that is not a letter, digit or space becomes a
    space, so punctuation, emoji and hyphens ("opt-out") drop away.
    """
    folded = unicodedata.normalize("NFKC", body).casefold()
    kept = [ch if ch.isalnum() or ch.isspace() else " " for ch in folded]
    return re.sub(r"\s+", " ", "".join(kept)).strip()


class KeywordSet:
    """The keywords one business uses, the required defaults always included."""

    def __init__(
        self,
        extra_opt_out: Iterable[str] = (),
        extra_opt_in: Iterable[str] = (),
        extra_help: Iterable[str] = (),
        confirm: Iterable[str] = DEFAULT_CONFIRM,
    ) -> None:
        self.opt_out = _normalized_set(DEFAULT_OPT_OUT, extra_opt_out)
        self.opt_in = _normalized_set(DEFAULT_OPT_IN, extra_opt_in)
        self.help = _normalized_set(DEFAULT_HELP, extra_help)
        self.confirm = _normalized_set(confirm, ())
        self._courtesies = _normalized_set(COURTESIES, ())

    def classify(self, body: str) -> KeywordMatch:
        """Classify a message body; see the module docstring for the rules."""
        text = normalize_text(body)
        if not text:
            return KeywordMatch(kind=None)

        for kind, words in (
            (KeywordKind.OPT_OUT, self.opt_out),
            (KeywordKind.OPT_IN, self.opt_in),
            (KeywordKind.HELP, self.help),
            (KeywordKind.CONFIRM, self.confirm),
        ):
            keyword = self._match(text, words)
            if keyword is not None:
                return KeywordMatch(kind=kind, keyword=keyword)

        return KeywordMatch(kind=None, possible_opt_out=self._mentions_opt_out(text))

    def _match(self, text: str, words: frozenset[str]) -> str | None:
        compact = text.replace(" ", "")
        for word in sorted(words):
            if text == word or compact == word.replace(" ", ""):
                return word
            if text.startswith(word + " "):
                rest = text[len(word) + 1 :]
                if rest in self._courtesies:
                    return word
        return None

    def _mentions_opt_out(self, text: str) -> bool:
        padded = f" {text} "
        return any(f" {word} " in padded for word in self.opt_out)


def _normalized_set(defaults: Iterable[str], extra: Iterable[str]) -> frozenset[str]:
    words = {normalize_text(word) for word in (*defaults, *extra)}
    words.discard("")
    return frozenset(words)
