import pytest

from parley.keywords import KeywordKind, KeywordSet

OPT_OUT_MESSAGES = [
    "Stop. Thank you",
    "  stop!! ",
    "Stop please",
    "STOP 🛑",
    "ｓｔｏｐ",
    "REVOKE",
    "Opt out",
    "optout",
    "Opt-Out.",
    "STOPALL",
    "end",
    "cancel",
    "unsubscribe",
    "quit",
]


@pytest.fixture(scope="module")
def keywords() -> KeywordSet:
    return KeywordSet()


@pytest.mark.parametrize("body", OPT_OUT_MESSAGES)
def test_opt_out_message_classified(keywords: KeywordSet, body: str) -> None:
    match = keywords.classify(body)

    assert match.kind is KeywordKind.OPT_OUT
    assert match.possible_opt_out is False


def test_opt_out_reports_matched_keyword(keywords: KeywordSet) -> None:
    assert keywords.classify("STOP 🛑").keyword == "stop"
    assert keywords.classify("Opt-Out.").keyword in {"opt out", "optout"}


def test_question_mentioning_stop_flagged(keywords: KeywordSet) -> None:
    match = keywords.classify("When will the delay stop?")

    assert match.kind is None
    assert match.keyword is None
    assert match.possible_opt_out is True


def test_cancel_my_order_not_opt_out(keywords: KeywordSet) -> None:
    match = keywords.classify("cancel my order")

    assert match.kind is None
    assert match.possible_opt_out is True


@pytest.mark.parametrize("body", ["START", "unstop", "Start please"])
def test_opt_in_message_classified(keywords: KeywordSet, body: str) -> None:
    assert keywords.classify(body).kind is KeywordKind.OPT_IN


@pytest.mark.parametrize("body", ["HELP", "info", "Help?"])
def test_help_message_classified(keywords: KeywordSet, body: str) -> None:
    assert keywords.classify(body).kind is KeywordKind.HELP


def test_yes_classified_as_confirm(keywords: KeywordSet) -> None:
    assert keywords.classify("yes").kind is KeywordKind.CONFIRM


@pytest.mark.parametrize("body", ["hello", "", "🛑", "endless summer"])
def test_ordinary_message_not_keyword(keywords: KeywordSet, body: str) -> None:
    match = keywords.classify(body)

    assert match.kind is None
    assert match.possible_opt_out is False


def test_extra_opt_out_word_matches() -> None:
    keywords = KeywordSet(extra_opt_out=["arret"])

    assert keywords.classify("arret").kind is KeywordKind.OPT_OUT
    assert keywords.classify("ARRET!").kind is KeywordKind.OPT_OUT
    assert keywords.classify("arret please").kind is KeywordKind.OPT_OUT


def test_extra_opt_out_keeps_defaults() -> None:
    keywords = KeywordSet(extra_opt_out=["arret"])

    for body in OPT_OUT_MESSAGES:
        assert keywords.classify(body).kind is KeywordKind.OPT_OUT, body


def test_extra_help_and_opt_in_words() -> None:
    keywords = KeywordSet(extra_opt_in=["subscribe"], extra_help=["aide"])

    assert keywords.classify("Subscribe").kind is KeywordKind.OPT_IN
    assert keywords.classify("AIDE").kind is KeywordKind.HELP
    assert keywords.classify("start").kind is KeywordKind.OPT_IN
    assert keywords.classify("help").kind is KeywordKind.HELP
