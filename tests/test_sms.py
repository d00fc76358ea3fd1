import pytest

from parley.sms import (
    GSM7_BASIC_CHARS,
    GSM7_EXTENSION_CHARS,
    SegmentInfo,
    SmsEncoding,
    ascii_replacements,
    count_segments,
)

ORDER_UPDATE = (
    "Hi Al, your order #1001 has shipped and it's on its way. Track it at "
    "example.com/t/1001 or reply HELP for help. Thanks for shopping with "
    "Parley Goods!"
)


def test_alphabet_sizes() -> None:
    assert len(GSM7_BASIC_CHARS) == 127
    assert len(GSM7_EXTENSION_CHARS) == 10


def test_extension_chars_outside_basic_table() -> None:
    assert not GSM7_BASIC_CHARS & GSM7_EXTENSION_CHARS


def test_empty_text_zero_segments() -> None:
    info = count_segments("")

    assert info == SegmentInfo(
        encoding=SmsEncoding.GSM7,
        units=0,
        segments=0,
        per_segment=160,
        non_gsm_chars=(),
    )


def test_emoji_after_escapes_single_ucs2() -> None:
    info = count_segments("]" * 66 + "😀")

    assert info.encoding is SmsEncoding.UCS2
    assert info.units == 68
    assert info.segments == 1


def test_escapes_fill_single_segment() -> None:
    info = count_segments("]" * 80)

    assert info.encoding is SmsEncoding.GSM7
    assert info.units == 160
    assert info.segments == 1


def test_escapes_overflow_single_segment() -> None:
    info = count_segments("]" * 81)

    assert info.encoding is SmsEncoding.GSM7
    assert info.units == 162
    assert info.segments == 2
    assert info.per_segment == 153


def test_hundred_letters_single_segment() -> None:
    info = count_segments("a" * 100)

    assert info.encoding is SmsEncoding.GSM7
    assert info.segments == 1


def test_hundred_letters_emoji_two_segments() -> None:
    info = count_segments("a" * 100 + "🙂")

    assert info.encoding is SmsEncoding.UCS2
    assert info.units == 102
    assert info.segments == 2
    assert info.per_segment == 67


def test_order_update_gsm_single_segment() -> None:
    assert len(ORDER_UPDATE) == 150

    info = count_segments(ORDER_UPDATE)

    assert info.encoding is SmsEncoding.GSM7
    assert info.segments == 1


def test_order_update_curly_apostrophe_ucs2() -> None:
    text = ORDER_UPDATE.replace("'", "\u2019", 1)

    info = count_segments(text)

    assert info.encoding is SmsEncoding.UCS2
    assert info.units == 150
    assert info.segments == 3


def test_non_gsm_chars_reports_apostrophe() -> None:
    info = count_segments("Your order\u2019s on its way")

    assert info.non_gsm_chars == ("\u2019",)


def test_non_gsm_chars_distinct_in_order() -> None:
    info = count_segments("\u201cZo\u00eb\u201d \u2019 \u201cagain\u201d \u00eb")

    assert info.non_gsm_chars == ("\u201c", "\u00eb", "\u201d", "\u2019")


def test_non_gsm_chars_french_accents() -> None:
    info = count_segments("Ça coûte 5€")

    assert info.non_gsm_chars == ("û",)
    assert count_segments("Ça coute 5€").non_gsm_chars == ()


@pytest.mark.parametrize(
    ("length", "segments"),
    [(160, 1), (161, 2), (306, 2), (307, 3)],
    ids=["160", "161", "306", "307"],
)
def test_gsm_letters_segment_boundaries(length: int, segments: int) -> None:
    info = count_segments("a" * length)

    assert info.units == length
    assert info.segments == segments


@pytest.mark.parametrize(
    ("length", "segments"),
    [(70, 1), (71, 2), (134, 2), (135, 3)],
    ids=["70", "71", "134", "135"],
)
def test_ucs2_letters_segment_boundaries(length: int, segments: int) -> None:
    info = count_segments("ж" * length)

    assert info.encoding is SmsEncoding.UCS2
    assert info.units == length
    assert info.segments == segments


def test_escape_not_split_across_segments() -> None:
    # 152 + 2 + 152 = 306 septets, which plain division fits in 2 parts of
    # 153. The escape pair cannot start in the last septet of part 1, so it
    # moves to part 2, and part 2 then overflows into part 3.
    text = "a" * 152 + "]" + "a" * 152

    info = count_segments(text)

    assert info.encoding is SmsEncoding.GSM7
    assert info.units == 306
    assert info.segments == 3


def test_escape_ending_first_part_fits() -> None:
    text = "a" * 151 + "]" + "a" * 153

    info = count_segments(text)

    assert info.units == 306
    assert info.segments == 2


def test_surrogate_pair_not_split_across_segments() -> None:
    text = "a" * 66 + "😀" + "a" * 66

    info = count_segments(text)

    assert info.encoding is SmsEncoding.UCS2
    assert info.units == 134
    assert info.segments == 3


def test_form_feed_counts_two_septets() -> None:
    info = count_segments("a\fb")

    assert info.encoding is SmsEncoding.GSM7
    assert info.units == 4


def test_newlines_count_one_septet_each() -> None:
    info = count_segments("a\r\nb")

    assert info.encoding is SmsEncoding.GSM7
    assert info.units == 4


def test_encoding_string_values() -> None:
    assert SmsEncoding.GSM7 == "GSM-7"
    assert SmsEncoding.UCS2 == "UCS-2"
    assert f"{SmsEncoding.UCS2}" == "UCS-2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("it\u2019s", "it's"),
        ("\u2018hi\u2019", "'hi'"),
        ("\u201chi\u201d", '"hi"'),
        ("9\u201310", "9-10"),
        ("wait\u2014now", "wait-now"),
        ("soon\u2026", "soon..."),
        ("10\u00a0kg", "10 kg"),
    ],
    ids=["apostrophe", "single", "double", "en-dash", "em-dash", "ellipsis", "nbsp"],
)
def test_ascii_replacements_cases(text: str, expected: str) -> None:
    assert ascii_replacements(text) == expected


def test_ascii_replacements_keeps_other_chars() -> None:
    assert ascii_replacements("Zoë 😀 €5") == "Zoë 😀 €5"


def test_ascii_replacements_makes_gsm() -> None:
    text = ORDER_UPDATE.replace("'", "\u2019")

    info = count_segments(ascii_replacements(text))

    assert info.encoding is SmsEncoding.GSM7
    assert info.segments == 1
