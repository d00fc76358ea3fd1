r"""Message templates with ``{{Field Name}}`` placeholders.

Business users write templates by hand, so the syntax accepts harmless
variations and rejects anything that would put broken text in front of a
customer:

* A placeholder is ``{{Field Name}}`` or ``{{Field Name | fallback}}``.
  Field names match regardless of case and whitespace, as defined by
  `normalize_field_name`.
* The fallback is everything after the first ``|``, stripped of surrounding
  whitespace. It is rendered when the value is missing. An empty fallback, as
  in ``{{Field Name | }}``, renders nothing.
* A placeholder must close on the line where it opens. Lines are separated by
  ``"\n"``, so ``"\r\n"`` line endings work too.
* Every ``{`` or ``}`` outside a well-formed placeholder is a syntax error.
  Customer messages never need literal braces, so there is no escape syntax.

`parse_template` never raises. It records syntax errors on the returned
`Template`, and `render` does not render a template that has any.
`lint_template` adds the checks that need outside knowledge: which fields
exist and which channel the message goes to.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from parley.sms import SegmentInfo, SmsEncoding, ascii_replacements, count_segments

__all__ = [
    "SMS_SAMPLE_VALUE_LENGTH",
    "FieldResolver",
    "Placeholder",
    "RenderResult",
    "Severity",
    "Template",
    "TemplateIssue",
    "lint_template",
    "normalize_field_name",
    "parse_template",
    "render",
]

Severity = Literal["error", "warning", "info"]

# Function that takes a normalized field name and returns its value, or None.
FieldResolver = Callable[[str], str | None]

# Length of the stand-in value that the SMS estimate uses for a placeholder
# without a fallback.
SMS_SAMPLE_VALUE_LENGTH = 10

# Known fields listed in an unknown-field message when none is a close match.
_KNOWN_FIELDS_LISTED = 5

# Quoted template text in messages is cut to this many characters.
_EXCERPT_LENGTH = 30

_HORIZONTAL_SPACE = (" ", "\t")

# Text after an empty substitution that must not have a space before it.
_GAP_CLOSERS = frozenset(",.;:!?)]\r\n")

# Text before an empty substitution that must not have a space after it.
_GAP_OPENERS = ("\n", "(", "[")

_STOP_PATTERN = re.compile(r"[{}\n]")


@dataclass(frozen=True)
class TemplateIssue:
    """Problem found in a template.

    Attributes:
        template: Name of the template.
        line: 1-based line of the offending text, or None when the issue is
            about the whole template.
        column: 1-based column within `line`, counted in Unicode code points,
            or None together with `line`.
        severity: "error" blocks sending, "warning" and "info" do not.
        code: Stable identifier of the check, such as "unknown-field".
        message: Explanation for the template author, with the fix.
    """

    template: str
    line: int | None
    column: int | None
    severity: Severity
    code: str
    message: str


@dataclass(frozen=True)
class Placeholder:
    """Well-formed ``{{...}}`` placeholder in a template.

    Attributes:
        display_name: Field name as written, stripped of surrounding
            whitespace.
        name: Field name normalized by `normalize_field_name`.
        fallback: Text rendered when the value is missing, stripped of
            surrounding whitespace. "" renders nothing. None means the
            placeholder has no fallback, so a missing value blocks the send.
        line: 1-based line of the opening ``{{``.
        column: 1-based column of the opening ``{{``, in code points.
    """

    display_name: str
    name: str
    fallback: str | None
    line: int
    column: int


@dataclass(frozen=True)
class RenderResult:
    """Outcome of rendering a template.

    Attributes:
        text: Rendered message, or None when a field was missing without a
            fallback or the template has syntax errors.
        missing: Display names of fields that were missing without a
            fallback, in order of first appearance and one per field.
        errors: Syntax errors of the template. `text` is None while there are
            any.
    """

    text: str | None
    missing: tuple[str, ...]
    errors: tuple[TemplateIssue, ...] = ()


@dataclass(frozen=True)
class Template:
    """Parsed message template.

    Attributes:
        name: Template name used in issue messages.
        text: Template source.
        parts: Literal text and placeholders in source order. Malformed
            placeholders stay in the literal text.
        errors: Syntax errors, in source order.
    """

    name: str
    text: str
    parts: tuple[str | Placeholder, ...]
    errors: tuple[TemplateIssue, ...]

    @property
    def placeholders(self) -> tuple[Placeholder, ...]:
        """Well-formed placeholders in source order, repeats included."""
        return tuple(part for part in self.parts if isinstance(part, Placeholder))

    @property
    def fields(self) -> tuple[str, ...]:
        """Normalized field names in order of first appearance, each once."""
        return tuple(dict.fromkeys(item.name for item in self.placeholders))

    def render(self, resolve: FieldResolver) -> RenderResult:
        """Render this template. See `render`."""
        return render(self, resolve)


def normalize_field_name(name: str) -> str:
    """Normalize a field name for matching.

    Case is folded, runs of whitespace become one space, and surrounding
    whitespace is removed, so "First Name", "first  name" and " FIRST NAME "
    all become "first name".

    Args:
        name: Field name as written.

    Returns:
        The normalized name.
    """
    return " ".join(name.split()).casefold()


def parse_template(name: str, text: str) -> Template:
    """Parse a template and record its syntax errors.

    Args:
        name: Template name used in issue messages.
        text: Template source.

    Returns:
        The parsed template. Syntax errors are in `Template.errors` and never
        raised.
    """
    return _Parser(name, text).parse()


def render(template: Template, resolve: FieldResolver) -> RenderResult:
    """Substitute field values into a template.

    `resolve` is called once per distinct field, with the normalized name. A
    value is missing when it is None, empty or whitespace only. Values are
    stripped of surrounding whitespace and inserted verbatim, so braces or
    double spaces inside a value reach the output unchanged.

    When a placeholder renders as nothing (an empty fallback), the space it
    leaves is closed up: ``"Hi {{Name | }}, thanks"`` renders ``"Hi, thanks"``
    and ``"Hello {{Name | }} and welcome"`` renders ``"Hello and welcome"``.

    Args:
        template: Parsed template.
        resolve: Returns the value of a normalized field name, or None.

    Returns:
        The rendered text, or None with the reasons in `RenderResult.missing`
        and `RenderResult.errors`.

    Raises:
        TypeError: `resolve` returned something other than str or None.
    """
    values = _resolve_fields(template.fields, resolve)
    missing = _find_missing(template.placeholders, values)

    if missing or template.errors:
        return RenderResult(text=None, missing=missing, errors=template.errors)

    def substitute(placeholder: Placeholder) -> str:
        value = values[placeholder.name]
        if value is not None:
            return value
        # _find_missing guarantees a fallback for every missing value here.
        return placeholder.fallback or ""

    return RenderResult(text=_join_parts(template.parts, substitute), missing=())


def lint_template(
    name: str,
    text: str,
    known_fields: Iterable[str],
    channel: str | None = None,
) -> list[TemplateIssue]:
    """Check a template for syntax errors, unknown fields and SMS cost.

    Syntax and unknown-field issues come first, ordered by position. When
    `channel` is "sms", compared case-insensitively, an "sms-segments" info
    issue follows, plus an "sms-ucs2" warning when the template needs UCS-2.
    No SMS issues are reported for any other channel, including None.

    The SMS segment count is an estimate. It counts each placeholder as its
    fallback, or as 10 GSM-7 characters when it has none. Real values can be
    longer and can contain characters that force UCS-2.

    Args:
        name: Template name used in issue messages.
        text: Template source.
        known_fields: Field names that resolve to values, in any spelling
            that normalizes to the same name.
        channel: Channel the template is sent on, such as "sms".

    Returns:
        The issues found, empty when the template is clean.

    Raises:
        TypeError: `known_fields` is a single string instead of an iterable
            of names.
    """
    if isinstance(known_fields, str):
        raise TypeError(
            "known_fields must be an iterable of field names, not a single "
            f"string: {known_fields!r}"
        )

    template = parse_template(name, text)
    known = _index_known_fields(known_fields)

    issues = list(template.errors)
    issues.extend(_check_unknown_fields(template, known))
    issues.sort(key=lambda issue: (issue.line or 0, issue.column or 0))

    if channel is not None and channel.casefold() == "sms":
        issues.extend(_check_sms(template))

    return issues


class _Parser:
    """Single pass over a template source that splits it into parts."""

    def __init__(self, template_name: str, text: str) -> None:
        self._template_name = template_name
        self._text = text
        self._line_starts = _find_line_starts(text)
        self._parts: list[str | Placeholder] = []
        self._errors: list[TemplateIssue] = []
        self._literal_start = 0

    def parse(self) -> Template:
        index = 0

        while index < len(self._text):
            char = self._text[index]
            if char == "{":
                index = self._parse_opening(index)
            elif char == "}":
                index = self._parse_stray_closing(index)
            else:
                index += 1

        self._flush_literal(len(self._text))

        return Template(
            name=self._template_name,
            text=self._text,
            parts=tuple(self._parts),
            errors=tuple(self._errors),
        )

    def _parse_opening(self, start: int) -> int:
        """Parse the brace run at `start` and return the index to resume at."""
        text = self._text
        open_end = _find_run_end(text, start, "{")
        stop_match = _STOP_PATTERN.search(text, open_end)

        if stop_match is None or stop_match.group() != "}":
            stop = stop_match.start() if stop_match else len(text)
            self._report_unclosed(start, open_end, stop)
            # Resume right after the opening run, so that a placeholder
            # nested inside an unclosed one is still parsed and checked.
            return open_end

        close_start = stop_match.start()
        close_end = _find_run_end(text, close_start, "}")
        inner = text[open_end:close_start]

        if open_end - start == 2 and close_end - close_start == 2:
            self._add_placeholder(start, close_end, inner)
        else:
            self._report_malformed(start, close_end, inner)

        return close_end

    def _parse_stray_closing(self, start: int) -> int:
        end = _find_run_end(self._text, start, "}")
        braces = self._text[start:end]
        self._add_error(
            start,
            "malformed-placeholder",
            f"stray '{braces}' {self._where(start)}. No '{{{{' opens it, so "
            "remove it or add the missing '{{'.",
        )
        return end

    def _add_placeholder(self, start: int, end: int, inner: str) -> None:
        display_name, pipe, fallback = inner.partition("|")
        display_name = display_name.strip()

        if not display_name:
            self._report_empty(start, end)
            return

        line, column = self._position(start)
        self._flush_literal(start)
        self._parts.append(
            Placeholder(
                display_name=display_name,
                name=normalize_field_name(display_name),
                fallback=fallback.strip() if pipe else None,
                line=line,
                column=column,
            )
        )
        self._literal_start = end

    def _report_empty(self, start: int, end: int) -> None:
        source = self._text[start:end]
        self._add_error(
            start,
            "empty-placeholder",
            f"empty placeholder '{source}' {self._where(start)}. Write a field "
            "name before any '|', like '{{First Name}}', or remove the braces.",
        )

    def _report_malformed(self, start: int, end: int, inner: str) -> None:
        source = _excerpt(self._text[start:end])
        content = inner.strip()

        if content:
            fix = f"Use '{{{{{_excerpt(content)}}}}}'."
        else:
            fix = "Write a field name between '{{' and '}}', or remove the braces."

        self._add_error(
            start,
            "malformed-placeholder",
            f"malformed placeholder '{source}' {self._where(start)}. {fix}",
        )

    def _report_unclosed(self, start: int, open_end: int, stop: int) -> None:
        source = _excerpt(self._text[start:stop].rstrip())
        nested = stop < len(self._text) and self._text[stop] == "{"

        if open_end - start != 2:
            braces = self._text[start:open_end]
            message = (
                f"stray '{braces}' {self._where(start)}. Remove it, or write a "
                "placeholder as '{{Field Name}}'."
            )
        elif nested:
            message = (
                f"unclosed placeholder '{source}' {self._where(start)}, because "
                "another '{' follows before '}}'. Close it with '}}' or remove it."
            )
        else:
            message = (
                f"unclosed placeholder '{source}' {self._where(start)}. Close it "
                "with '}}' on the same line."
            )

        self._add_error(start, "malformed-placeholder", message)

    def _add_error(self, index: int, code: str, message: str) -> None:
        line, column = self._position(index)
        self._errors.append(
            TemplateIssue(
                template=self._template_name,
                line=line,
                column=column,
                severity="error",
                code=code,
                message=message,
            )
        )

    def _flush_literal(self, end: int) -> None:
        if end > self._literal_start:
            self._parts.append(self._text[self._literal_start : end])

    def _position(self, index: int) -> tuple[int, int]:
        return _position_in(self._line_starts, index)

    def _where(self, index: int) -> str:
        line, column = self._position(index)
        return _describe_location(self._template_name, line, column)


def _find_line_starts(text: str) -> list[int]:
    starts = [0]
    starts.extend(match.end() for match in re.finditer("\n", text))
    return starts


def _position_in(line_starts: list[int], index: int) -> tuple[int, int]:
    """Convert a string index to a 1-based line and code-point column."""
    line = bisect.bisect_right(line_starts, index)
    column = index - line_starts[line - 1] + 1
    return line, column


def _describe_location(template_name: str, line: int, column: int) -> str:
    return f"in template '{template_name}' at line {line}, column {column}"


def _find_run_end(text: str, start: int, char: str) -> int:
    end = start
    while end < len(text) and text[end] == char:
        end += 1
    return end


def _excerpt(text: str) -> str:
    if len(text) <= _EXCERPT_LENGTH:
        return text
    return text[:_EXCERPT_LENGTH] + "..."


def _resolve_fields(
    fields: Iterable[str], resolve: FieldResolver
) -> dict[str, str | None]:
    """Call `resolve` once per field and map each name to its stripped value.

    Missing values (None, empty or whitespace only) map to None.
    """
    values: dict[str, str | None] = {}

    for field in fields:
        value = resolve(field)
        if value is not None and not isinstance(value, str):
            raise TypeError(
                f"resolve({field!r}) returned {type(value).__name__}, "
                "expected str or None"
            )
        values[field] = value.strip() if value and value.strip() else None

    return values


def _find_missing(
    placeholders: Iterable[Placeholder], values: Mapping[str, str | None]
) -> tuple[str, ...]:
    """Return display names of fields missing where no fallback covers them."""
    missing: dict[str, str] = {}

    for placeholder in placeholders:
        uncovered = values[placeholder.name] is None and placeholder.fallback is None
        if uncovered and placeholder.name not in missing:
            missing[placeholder.name] = placeholder.display_name

    return tuple(missing.values())


def _join_parts(
    parts: Iterable[str | Placeholder], substitute: Callable[[Placeholder], str]
) -> str:
    """Join literal parts and substituted values, closing up empty values."""
    output = ""
    gap_open = False

    for part in parts:
        if isinstance(part, Placeholder):
            value = substitute(part)
            output += value
            gap_open = not value
            continue

        literal = part
        if gap_open:
            output, literal = _close_gap(output, literal)
            gap_open = False
        output += literal

    if gap_open:
        output, _ = _close_gap(output, "")

    return output


def _close_gap(before: str, after: str) -> tuple[str, str]:
    """Remove whitespace that an empty substitution left doubled or dangling.

    `before` is the output so far and `after` the literal text that follows
    the empty value, where "" means the end of the message.
    """
    if before == "" or before.endswith(_GAP_OPENERS):
        return before, after.lstrip(" \t")

    if not before.endswith(_HORIZONTAL_SPACE):
        return before, after

    after = after.lstrip(" \t")
    if after == "" or after[0] in _GAP_CLOSERS:
        before = before.rstrip(" \t")

    return before, after


def _index_known_fields(known_fields: Iterable[str]) -> dict[str, str]:
    """Map each normalized known field to its first spelling."""
    known: dict[str, str] = {}

    for field in known_fields:
        normalized = normalize_field_name(field)
        if normalized:
            known.setdefault(normalized, field.strip())

    return known


def _check_unknown_fields(
    template: Template, known: Mapping[str, str]
) -> list[TemplateIssue]:
    issues: list[TemplateIssue] = []

    for placeholder in template.placeholders:
        if placeholder.name in known:
            continue

        location = _describe_location(
            template.name, placeholder.line, placeholder.column
        )
        hint = _suggest_field(placeholder.name, known)
        issues.append(
            TemplateIssue(
                template=template.name,
                line=placeholder.line,
                column=placeholder.column,
                severity="error",
                code="unknown-field",
                message=f"unknown field '{placeholder.display_name}' {location}. "
                f"{hint}",
            )
        )

    return issues


def _suggest_field(name: str, known: Mapping[str, str]) -> str:
    matches = difflib.get_close_matches(name, list(known), n=1)
    if matches:
        return f"Did you mean '{known[matches[0]]}'?"

    if not known:
        return "No known fields were given."

    spellings = list(known.values())
    listed = ", ".join(f"'{field}'" for field in spellings[:_KNOWN_FIELDS_LISTED])
    unlisted = len(spellings) - _KNOWN_FIELDS_LISTED
    if unlisted > 0:
        return f"Known fields include {listed} and {unlisted} more."
    return f"Known fields: {listed}."


def _check_sms(template: Template) -> list[TemplateIssue]:
    sample_value = "x" * SMS_SAMPLE_VALUE_LENGTH

    def substitute(placeholder: Placeholder) -> str:
        if placeholder.fallback is not None:
            return placeholder.fallback
        return sample_value

    info = count_segments(_join_parts(template.parts, substitute))

    issues = [_describe_segments(template.name, info)]
    if info.encoding is SmsEncoding.UCS2:
        issues.append(_describe_ucs2(template, info.non_gsm_chars))

    return issues


def _describe_segments(template_name: str, info: SegmentInfo) -> TemplateIssue:
    unit_name = "septets" if info.encoding is SmsEncoding.GSM7 else "UTF-16 code units"
    segment_word = "segment" if info.segments == 1 else "segments"
    message = (
        f"template '{template_name}' is an estimated {info.segments} SMS "
        f"{segment_word} in {info.encoding.value} ({info.units} {unit_name}, "
        f"{info.per_segment} per segment). The estimate counts each placeholder "
        f"as its fallback, or as {SMS_SAMPLE_VALUE_LENGTH} characters when it "
        "has none."
    )
    return TemplateIssue(
        template=template_name,
        line=None,
        column=None,
        severity="info",
        code="sms-segments",
        message=message,
    )


def _describe_ucs2(template: Template, chars: tuple[str, ...]) -> TemplateIssue:
    listed = ", ".join(f"'{char}' (U+{ord(char):04X})" for char in chars)
    message = (
        f"template '{template.name}' must be sent as UCS-2 because of {listed}. "
        "A UCS-2 segment holds 70 code units (67 when split) instead of 160 "
        "GSM-7 septets (153 when split)."
    )

    if any(ascii_replacements(char) != char for char in chars):
        message += (
            " parley.sms.ascii_replacements converts smart quotes, dashes, "
            "ellipses and no-break spaces to GSM-7."
        )

    # Every character that forces UCS-2 comes from the template source,
    # because the stand-in values are plain letters.
    index = template.text.find(chars[0])
    line, column = _position_in(_find_line_starts(template.text), index)

    return TemplateIssue(
        template=template.name,
        line=line,
        column=column,
        severity="warning",
        code="sms-ucs2",
        message=message,
    )
