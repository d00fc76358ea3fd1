import itertools
from collections.abc import Callable

import pytest

from parley.templates import (
    Placeholder,
    RenderResult,
    TemplateIssue,
    lint_template,
    normalize_field_name,
    parse_template,
    render,
)

ORDER_SHIPPED = (
    "Hi {{First Name | there}}, your order {{order number}} has been {{order status}}"
)

KNOWN_FIELDS = ["First Name", "Last Name", "Order Number", "Tracking URL", "Name"]


def resolver(values: dict[str, str | None]) -> Callable[[str], str | None]:
    """Build a resolver that looks up normalized names in `values`."""

    def resolve(name: str) -> str | None:
        return values.get(name)

    return resolve


def order_values(first_name: str | None) -> dict[str, str | None]:
    values: dict[str, str | None] = {
        "order number": "#1001",
        "order status": "shipped",
    }
    if first_name is not None:
        values["first name"] = first_name
    return values


def lint_errors(text: str, name: str = "order_shipped") -> list[TemplateIssue]:
    return lint_template(name, text, KNOWN_FIELDS)


# Rendering


@pytest.mark.parametrize(
    ("first_name", "expected"),
    [
        ("Zoë", "Hi Zoë, your order #1001 has been shipped"),
        ("", "Hi there, your order #1001 has been shipped"),
        (None, "Hi there, your order #1001 has been shipped"),
        ("   ", "Hi there, your order #1001 has been shipped"),
    ],
    ids=["value", "empty", "absent", "whitespace"],
)
def test_render_first_name(first_name: str | None, expected: str) -> None:
    template = parse_template("order_shipped", ORDER_SHIPPED)

    result = template.render(resolver(order_values(first_name)))

    assert result.text == expected
    assert result.missing == ()
    assert "{{" not in result.text
    assert "}}" not in result.text
    assert "Hi ," not in result.text
    assert "  " not in result.text


def test_render_missing_field_blocks() -> None:
    template = parse_template("order_shipped", ORDER_SHIPPED)
    values = {"first name": "Zoë", "order status": "shipped"}

    result = template.render(resolver(values))

    assert result.text is None
    assert result.missing == ("order number",)


def test_render_missing_uses_display_name() -> None:
    template = parse_template("t", "Order {{Order  Number}} ships {{ORDER number}}")

    result = template.render(resolver({}))

    assert result.text is None
    assert result.missing == ("Order  Number",)


def test_render_missing_fields_in_order() -> None:
    template = parse_template("t", "{{B}} {{A | x}} {{C}} {{B}}")

    result = template.render(resolver({}))

    assert result.missing == ("B", "C")


def test_render_fallback_does_not_cover_other_use() -> None:
    template = parse_template("t", "Hi {{Name | there}}. Bye {{Name}}")

    result = template.render(resolver({}))

    assert result.text is None
    assert result.missing == ("Name",)


def test_render_spacing_variant_matches() -> None:
    template = parse_template("t", "Hi {{first  name}}!")

    result = template.render(resolver({"first name": "Zoë"}))

    assert result.text == "Hi Zoë!"


def test_render_resolves_each_field_once() -> None:
    template = parse_template("t", "{{Name}} {{name}} {{ NAME | x }} {{Order}}")
    calls: list[str] = []

    def resolve(name: str) -> str | None:
        calls.append(name)
        return "v"

    template.render(resolve)

    assert calls == ["name", "order"]


def test_render_strips_values() -> None:
    template = parse_template("t", "Hi {{Name}}, order {{Order}} shipped")

    result = template.render(resolver({"name": "  Zoë\n", "order": "\t#7 "}))

    assert result.text == "Hi Zoë, order #7 shipped"


def test_render_keeps_inner_value_spacing() -> None:
    template = parse_template("t", "To {{Address}}")

    result = template.render(resolver({"address": "1 Main St\nSpringfield"}))

    assert result.text == "To 1 Main St\nSpringfield"


def test_render_function_matches_method() -> None:
    template = parse_template("order_shipped", ORDER_SHIPPED)
    resolve = resolver(order_values("Zoë"))

    assert render(template, resolve) == template.render(resolve)


def test_render_result_without_errors() -> None:
    template = parse_template("t", "Hi {{Name}}")

    result = template.render(resolver({"name": "Zoë"}))

    assert result == RenderResult(text="Hi Zoë", missing=(), errors=())


def test_render_syntax_error_blocks() -> None:
    template = parse_template("t", "Hi {Name}}")

    result = template.render(resolver({"name": "Zoë"}))

    assert result.text is None
    assert result.missing == ()
    assert result.errors == template.errors
    assert len(result.errors) == 1


def test_render_rejects_non_string_value() -> None:
    template = parse_template("t", "Order {{Order Number}}")

    with pytest.raises(TypeError, match="returned int"):
        template.render(lambda name: 1001)  # type: ignore[arg-type, return-value]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi {{Name | }}, thanks", "Hi, thanks"),
        ("Hello {{Name | }} and welcome", "Hello and welcome"),
        ("{{Greeting | }} Your order shipped", "Your order shipped"),
        ("Thanks {{Name | }}", "Thanks"),
        ("Thanks {{Name | }}\nBye", "Thanks\nBye"),
        ("Hi {{Name | }}!", "Hi!"),
        ("Call us ({{Phone | }} any time)", "Call us (any time)"),
        ("Hi {{A | }} {{C | }} there", "Hi there"),
        ("Hi {{A | }}{{B}}, ok", "Hi Bo, ok"),
        ("Hi{{Name | }}, ok", "Hi, ok"),
    ],
    ids=[
        "before-comma",
        "between-words",
        "line-start",
        "message-end",
        "line-end",
        "before-bang",
        "after-paren",
        "two-empty",
        "empty-then-value",
        "no-space",
    ],
)
def test_render_empty_fallback_closes_gap(text: str, expected: str) -> None:
    template = parse_template("t", text)

    result = template.render(resolver({"b": "Bo"}))

    assert result.text == expected


def test_render_no_placeholders() -> None:
    template = parse_template("t", "Thanks for your order!")

    result = template.render(resolver({}))

    assert result.text == "Thanks for your order!"


# Field names and parsing


@pytest.mark.parametrize(
    "name",
    ["First Name", "first  name", " FIRST NAME ", "first\tname", "First\u00a0Name"],
    ids=["title", "double-space", "padded-upper", "tab", "nbsp"],
)
def test_normalize_field_name_variants(name: str) -> None:
    assert normalize_field_name(name) == "first name"


def test_parse_fields_unique_normalized() -> None:
    template = parse_template("order_shipped", ORDER_SHIPPED + " {{FIRST NAME}}")

    assert template.fields == ("first name", "order number", "order status")


def test_parse_placeholder_details() -> None:
    template = parse_template("order_shipped", ORDER_SHIPPED)

    assert template.placeholders[0] == Placeholder(
        display_name="First Name",
        name="first name",
        fallback="there",
        line=1,
        column=4,
    )
    assert template.placeholders[1].fallback is None
    assert template.placeholders[1].column == 39


def test_parse_placeholder_on_later_line() -> None:
    template = parse_template("t", "Hi!\r\nYour parcel: {{Tracking URL}}")

    placeholder = template.placeholders[0]

    assert placeholder.line == 2
    assert placeholder.column == 14


def test_parse_column_counts_characters() -> None:
    template = parse_template("t", "Zoë 😀 {{Name}}")

    assert template.placeholders[0].column == 7


def test_parse_empty_fallback() -> None:
    template = parse_template("t", "{{Name | }}")

    assert template.placeholders[0].fallback == ""


def test_parse_fallback_after_first_pipe() -> None:
    template = parse_template("t", "{{Name | a | b}}")

    assert template.placeholders[0].fallback == "a | b"


def test_parse_clean_template_no_errors() -> None:
    template = parse_template("order_shipped", ORDER_SHIPPED)

    assert template.errors == ()


def test_parse_keeps_malformed_text_literal() -> None:
    template = parse_template("t", "Hi {Name}} and {{Order}}")

    assert template.parts[0] == "Hi {Name}} and "
    assert template.fields == ("order",)


# Linting: syntax


def test_lint_clean_template() -> None:
    assert lint_errors(ORDER_SHIPPED.replace("order status", "Name")) == []


def test_lint_single_opening_brace() -> None:
    issues = lint_errors("Dear {Last Name}}, thanks")

    assert len(issues) == 1
    assert issues[0].severity == "error"
    assert issues[0].code == "malformed-placeholder"
    assert issues[0].line == 1
    assert issues[0].column == 6
    assert "'{Last Name}}'" in issues[0].message
    assert "Use '{{Last Name}}'" in issues[0].message


def test_lint_unclosed_placeholder() -> None:
    issues = lint_errors("Your order {{Order Number} shipped")

    assert len(issues) == 1
    assert issues[0].severity == "error"
    assert issues[0].code == "malformed-placeholder"
    assert issues[0].line == 1
    assert issues[0].column == 12
    assert "Use '{{Order Number}}'" in issues[0].message


def test_lint_placeholder_open_at_line_end() -> None:
    issues = lint_errors("Your order {{Order Number\nshipped")

    assert len(issues) == 1
    assert issues[0].code == "malformed-placeholder"
    assert issues[0].line == 1
    assert issues[0].column == 12
    assert "unclosed placeholder" in issues[0].message


@pytest.mark.parametrize(
    ("text", "column"),
    [("Hi {{}}", 4), ("Hi {{ | x}}", 4), ("Hi {{   }}", 4)],
    ids=["bare", "fallback-only", "spaces"],
)
def test_lint_empty_placeholder(text: str, column: int) -> None:
    issues = lint_errors(text)

    assert len(issues) == 1
    assert issues[0].severity == "error"
    assert issues[0].code == "empty-placeholder"
    assert issues[0].line == 1
    assert issues[0].column == column


def test_lint_nested_placeholder() -> None:
    issues = lint_errors("Hi {{ {{Name}}")

    assert len(issues) == 1
    assert issues[0].severity == "error"
    assert issues[0].code == "malformed-placeholder"
    assert issues[0].line == 1
    assert issues[0].column == 4


def test_lint_nested_still_checks_inner() -> None:
    issues = lint_errors("Hi {{ {{Nmae}}")

    assert [issue.code for issue in issues] == [
        "malformed-placeholder",
        "unknown-field",
    ]
    assert issues[1].column == 7


def test_lint_stray_closing_brace() -> None:
    issues = lint_errors("Order shipped}} today")

    assert len(issues) == 1
    assert issues[0].code == "malformed-placeholder"
    assert issues[0].column == 14


def test_lint_lone_opening_brace() -> None:
    issues = lint_errors("Price { 5")

    assert len(issues) == 1
    assert issues[0].code == "malformed-placeholder"
    assert issues[0].column == 7


def test_lint_triple_braces() -> None:
    issues = lint_errors("Hi {{{Name}}}")

    assert len(issues) == 1
    assert issues[0].code == "malformed-placeholder"
    assert "Use '{{Name}}'" in issues[0].message


def test_lint_error_on_second_line() -> None:
    text = "Hi {{First Name}},\nYour parcel: {Tracking URL}}\nThanks"

    issues = lint_errors(text)

    assert len(issues) == 1
    assert issues[0].code == "malformed-placeholder"
    assert issues[0].line == 2
    assert issues[0].column == 14
    assert "line 2, column 14" in issues[0].message


def test_lint_issues_sorted_by_position() -> None:
    text = "{{Nmae}}\nOrder {Order Number}}\n{{Frist Name}}"

    issues = lint_errors(text)

    assert [(issue.line, issue.column) for issue in issues] == [
        (1, 1),
        (2, 7),
        (3, 1),
    ]


# Linting: fields


def test_lint_unknown_field_suggestion() -> None:
    issues = lint_errors("Hi {{Frist Name}}")

    assert len(issues) == 1
    assert issues[0].severity == "error"
    assert issues[0].code == "unknown-field"
    assert issues[0].line == 1
    assert issues[0].column == 4
    assert issues[0].message == (
        "unknown field 'Frist Name' in template 'order_shipped' at line 1, "
        "column 4. Did you mean 'First Name'?"
    )


def test_lint_unknown_field_lists_known() -> None:
    issues = lint_template("t", "{{Coupon}}", ["First Name", "Order Number"])

    assert issues[0].code == "unknown-field"
    assert "Known fields: 'First Name', 'Order Number'." in issues[0].message


def test_lint_unknown_field_lists_few() -> None:
    known = [f"Field {number}" for number in range(8)]

    issues = lint_template("t", "{{Coupon}}", known)

    assert "and 3 more" in issues[0].message


def test_lint_unknown_field_no_known() -> None:
    issues = lint_template("t", "{{Coupon}}", [])

    assert issues[0].code == "unknown-field"
    assert "No known fields" in issues[0].message


def test_lint_spacing_variant_known() -> None:
    assert lint_errors("Hi {{first  name}}") == []


def test_lint_rejects_string_known_fields() -> None:
    with pytest.raises(TypeError, match="single string"):
        lint_template("t", "{{Name}}", "Name")


# Linting: SMS


def issue_codes(issues: list[TemplateIssue]) -> list[str]:
    return [issue.code for issue in issues]


def test_lint_sms_segments_info() -> None:
    issues = lint_template(
        "t", "Hi {{Name}}, order {{Order Number}}", KNOWN_FIELDS, "sms"
    )

    assert issue_codes(issues) == ["sms-segments"]
    assert issues[0].severity == "info"
    assert issues[0].line is None
    assert "1 SMS segment in GSM-7" in issues[0].message
    assert "(31 septets" in issues[0].message


def test_lint_sms_uses_fallback() -> None:
    issues = lint_template("t", "Hi {{Name | there}}", KNOWN_FIELDS, "sms")

    assert "(8 septets" in issues[0].message


def test_lint_sms_counts_segments() -> None:
    text = "{{Name}} " + "a" * 150

    issues = lint_template("t", text, KNOWN_FIELDS, "sms")

    assert "2 SMS segments in GSM-7" in issues[0].message


def test_lint_sms_ucs2_warning() -> None:
    text = "Hi {{Name}},\nyour order\u2019s on its way"

    issues = lint_template("t", text, KNOWN_FIELDS, "SMS")

    assert issue_codes(issues) == ["sms-segments", "sms-ucs2"]
    assert "UCS-2" in issues[0].message
    assert issues[1].severity == "warning"
    assert issues[1].line == 2
    assert issues[1].column == 11
    assert "'\u2019' (U+2019)" in issues[1].message
    assert "ascii_replacements" in issues[1].message


def test_lint_sms_ucs2_from_fallback() -> None:
    issues = lint_template("t", "Hi {{Name | amigo 😀}}", KNOWN_FIELDS, "sms")

    assert issue_codes(issues) == ["sms-segments", "sms-ucs2"]
    assert "'😀' (U+1F600)" in issues[1].message
    assert "ascii_replacements" not in issues[1].message


@pytest.mark.parametrize("channel", [None, "whatsapp"], ids=["none", "whatsapp"])
def test_lint_other_channel_no_sms(channel: str | None) -> None:
    issues = lint_template("t", "It\u2019s here", KNOWN_FIELDS, channel)

    assert issues == []


def test_lint_sms_after_errors() -> None:
    issues = lint_template("t", "Hi {{Frist Name}}", KNOWN_FIELDS, "sms")

    assert issue_codes(issues) == ["unknown-field", "sms-segments"]


# Parsing and rendering every short combination of template syntax


def short_templates() -> list[str]:
    alphabet = "{}| a\n"
    return [
        "".join(chars)
        for length in range(1, 6)
        for chars in itertools.product(alphabet, repeat=length)
    ]


def test_parse_never_raises_short_inputs() -> None:
    for text in short_templates():
        parse_template("t", text)


def test_render_clean_output_has_no_braces() -> None:
    rendered = 0

    for text in short_templates():
        template = parse_template("t", text)
        if template.errors:
            continue

        result = template.render(lambda name: "v")
        rendered += 1

        assert result.text is not None, text
        assert "{" not in result.text, text
        assert "}" not in result.text, text

    assert rendered > 0


def test_parse_errors_cover_every_brace() -> None:
    for text in short_templates():
        template = parse_template("t", text)
        literal_text = "".join(part for part in template.parts if isinstance(part, str))
        has_literal_brace = "{" in literal_text or "}" in literal_text

        assert has_literal_brace == bool(template.errors), text
