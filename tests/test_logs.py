"""Logging: ids of the work in progress, masking, repeat counting, request ids."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from parley.config import LoggingSettings
from parley.daemon import Daemon
from parley.log_context import ContextFilter, current_log_ids, log_context
from parley.log_redaction import RedactFilter, mask_text
from parley.log_repeats import RepeatFilter
from parley.logs import ParleyHandler, build_handler, configure_logging
from parley.request_ids import request_id_from
from parley.runtime import Runtime
from tests.conftest import FakeClock, drain

PHONE = "+14155550123"


class Collector(logging.Handler):
    """Keeps the records it is handed, after the filters given to it."""

    def __init__(self, *filters: logging.Filter) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        for log_filter in filters:
            self.addFilter(log_filter)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def capture() -> Iterator[Callable[[str], list[dict[str, Any]]]]:
    """Attach a JSON handler with parley's filters to the root logger."""
    stream = io.StringIO()
    handler = build_handler(LoggingSettings(format="json"), stream)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def lines(contains: str = "") -> list[dict[str, Any]]:
        parsed = [json.loads(line) for line in stream.getvalue().splitlines()]
        return [line for line in parsed if contains in line["message"]]

    try:
        yield lines
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(previous_level)


def make_record(
    message: str,
    *args: object,
    level: int = logging.ERROR,
    name: str = "parley.test",
) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, args or None, None)


# Context ids


def test_log_context_nests_and_resets() -> None:
    with log_context(request_id="r-1"):
        with log_context(event_id=7, message_id=None):
            inner = dict(current_log_ids())
        outer = dict(current_log_ids())

    assert inner == {"request_id": "r-1", "event_id": 7}
    assert outer == {"request_id": "r-1"}
    assert dict(current_log_ids()) == {}


def test_log_context_rejects_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown log id order_id"):
        with log_context(order_id="1"):
            pass


def test_context_ids_per_thread() -> None:
    seen: dict[str, dict[str, object]] = {}

    def work(name: str) -> None:
        with log_context(message_id=name):
            seen[name] = dict(current_log_ids())

    with log_context(request_id="main"):
        threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert seen == {"a": {"message_id": "a"}, "b": {"message_id": "b"}}


def test_context_filter_keeps_explicit_extra() -> None:
    record = make_record("hello")
    record.message_id = 99
    with log_context(message_id=1, event_id=2):
        ContextFilter().filter(record)

    assert record.message_id == 99
    assert record.event_id == 2


def test_json_line_has_ids_as_fields(capture) -> None:
    with log_context(request_id="req-1", event_id=5, plugin="shopify"):
        logging.getLogger("parley.test").info("event %s stored", 5)

    [line] = capture("event 5 stored")
    assert line["request_id"] == "req-1"
    assert line["event_id"] == 5
    assert line["plugin"] == "shopify"
    assert "conversation_id" not in line
    assert line["level"] == "INFO"


def test_text_line_ends_with_ids() -> None:
    stream = io.StringIO()
    handler = build_handler(LoggingSettings(format="text"), stream)
    logger = logging.getLogger("parley.test.text")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with log_context(conversation_id=3, message_id=12):
            logger.warning("message sent")
        logger.warning("no ids here")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        handler.close()

    first, second = stream.getvalue().splitlines()
    assert first.endswith("message sent [conversation_id=3 message_id=12]")
    assert second.endswith("no ids here")


# Masking


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("to +14155550123", "to *********23"),
        ("call (415) 555-0123 now", "call (********23 now"),
        ("whatsapp:+14155550123", "whatsapp:*********23"),
        ("wa id 14155550123", "wa id *********23"),
        ("mail ana.lopez@example.com", "mail <email>"),
        (
            "deferred to 2026-11-17T15:00:00+00:00",
            "deferred to 2026-11-17T15:00:00+00:00",
        ),
        ("at 2026-11-17 15:00:00.123456+00:00", "at 2026-11-17 15:00:00.123456+00:00"),
        ("provider id SB3f2a41555501239c", "provider id SB3f2a41555501239c"),
        ("event 123456 attempt 3", "event 123456 attempt 3"),
        ("national 4155550123", "national ********23"),
        ("hubspot contact 86420199012", "hubspot contact 86420199012"),
        ("order 5678901234567", "order 5678901234567"),
        ("page 106295472113311", "page 106295472113311"),
        ("waited 1.5 s for 12 messages", "waited 1.5 s for 12 messages"),
    ],
)
def test_mask_text(text: str, expected: str) -> None:
    assert mask_text(text) == expected


def test_plugin_logged_number_masked(capture) -> None:
    logging.getLogger("parley.plugin.crm").warning(
        "lookup for %s (%s) failed", PHONE, "ana@example.com"
    )

    [line] = capture("lookup for")
    assert line["message"] == "lookup for *********23 (<email>) failed"
    assert PHONE not in json.dumps(line)


def test_exception_text_masked(capture) -> None:
    try:
        raise RuntimeError(f"provider refused {PHONE}")
    except RuntimeError:
        logging.getLogger("parley.test").exception("send failed")

    [line] = capture("send failed")
    assert "provider refused *********23" in line["exception"]
    assert PHONE not in line["exception"]


def test_extra_string_masked(capture) -> None:
    logging.getLogger("parley.test").info("lookup", extra={"customer": PHONE})

    [line] = capture("lookup")
    assert line["customer"] == "*********23"


def test_bad_arguments_keep_template() -> None:
    record = make_record("sent %s to %s", PHONE)
    RedactFilter().filter(record)

    assert record.getMessage().startswith("sent %s to %s (log arguments did not fit")
    assert PHONE not in record.getMessage()


# Repeats


def repeat_setup(window: float = 60.0) -> tuple[RepeatFilter, Collector, FakeClock]:
    clock = FakeClock()
    collector = Collector()
    repeats = RepeatFilter(
        collector.handle,
        window_seconds=window,
        clock=lambda: clock.now.timestamp(),
        background=False,
    )
    collector.addFilter(repeats)
    return repeats, collector, clock


def test_repeat_suppressed_then_counted() -> None:
    _, collector, clock = repeat_setup()
    for attempt in range(5):
        collector.handle(make_record("send to %s failed: %s", "x", attempt))
        clock.advance(10)
    clock.advance(20)
    collector.handle(make_record("unrelated"))

    messages = [record.getMessage() for record in collector.records]
    assert messages == [
        "send to x failed: 0",
        "send to x failed: 4 (repeated 4 times in the last 60 s)",
        "unrelated",
    ]


def test_repeat_window_restarts_after_summary() -> None:
    _, collector, clock = repeat_setup()
    collector.handle(make_record("provider down"))
    collector.handle(make_record("provider down"))
    clock.advance(61)
    collector.handle(make_record("provider down"))

    messages = [record.getMessage() for record in collector.records]
    assert messages == [
        "provider down",
        "provider down (repeated 1 times in the last 60 s)",
        "provider down",
    ]


def test_repeat_kinds_counted_apart() -> None:
    _, collector, _clock = repeat_setup()
    collector.handle(make_record("provider down"))
    collector.handle(make_record("provider down", level=logging.WARNING))
    collector.handle(make_record("provider down", name="parley.other"))
    collector.handle(make_record("store down"))

    assert len(collector.records) == 4


def test_info_records_never_suppressed() -> None:
    _, collector, _clock = repeat_setup()
    for _ in range(3):
        collector.handle(make_record("message sent", level=logging.INFO))

    assert len(collector.records) == 3


def test_repeat_flush_logs_open_counts() -> None:
    repeats, collector, clock = repeat_setup()
    for _ in range(3):
        collector.handle(make_record("provider down"))
    clock.advance(15)
    repeats.flush()

    assert collector.records[-1].getMessage() == (
        "provider down (repeated 2 times in the last 15 s)"
    )


def test_repeat_counts_across_threads() -> None:
    _, collector, clock = repeat_setup()
    barrier = threading.Barrier(8)

    def flood() -> None:
        barrier.wait()
        for _ in range(250):
            collector.handle(make_record("provider down"))

    threads = [threading.Thread(target=flood) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    clock.advance(60)
    collector.handle(make_record("next"))

    messages = [record.getMessage() for record in collector.records]
    assert messages == [
        "provider down",
        "provider down (repeated 1999 times in the last 60 s)",
        "next",
    ]


def test_repeat_summary_masked(capture) -> None:
    # The capture fixture's handler is the last one added; an earlier test
    # may have left its own handler on the root logger.
    handler = [h for h in logging.getLogger().handlers if isinstance(h, ParleyHandler)][
        -1
    ]
    logger = logging.getLogger("parley.test")
    for _ in range(3):
        logger.error("send to %s failed", PHONE)
    handler.repeats.flush()

    first, summary = [line["message"] for line in capture("send to")]
    assert first == "send to *********23 failed"
    # The window's length depends on how long the loop took.
    assert re.fullmatch(
        r"send to \*{9}23 failed \(repeated 2 times in the last \d+ s\)", summary
    )


def test_repeat_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window_seconds must be positive, got 0"):
        RepeatFilter(lambda record: None, window_seconds=0)


def test_configure_logging_replaces_handler() -> None:
    root = logging.getLogger()
    saved = list(root.handlers)
    saved_level = root.level
    try:
        configure_logging(LoggingSettings(format="json", repeat_window_seconds=5))
        configure_logging(LoggingSettings(format="json", repeat_window_seconds=7))
        ours = [h for h in root.handlers if isinstance(h, ParleyHandler)]
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            if isinstance(handler, ParleyHandler):
                handler.close()
        for handler in saved:
            root.addHandler(handler)
        root.setLevel(saved_level)

    assert len(ours) == 1
    assert ours[0].repeats.window_seconds == 7


# Request ids


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("abc-123", True),
        ("trace:7f.2_x", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("has space", False),
        ("", False),
        ("bad\nline", False),
        (None, False),
    ],
)
def test_request_id_validation(incoming: str | None, kept: bool) -> None:
    result = request_id_from(incoming)

    assert (result == incoming) is kept
    assert 1 <= len(result) <= 128


def sandbox_post(client: TestClient, body: dict[str, str], **headers: str) -> Any:
    return client.post(
        "/webhooks/sandbox", content=json.dumps(body).encode(), headers=headers
    )


def test_request_id_in_response_and_logs(make_runtime, capture) -> None:
    runtime: Runtime = make_runtime()
    with TestClient(Daemon(runtime).app) as client:
        given = sandbox_post(
            client,
            {"from": PHONE, "body": "Hi", "id": "m-1"},
            **{"X-Request-ID": "req-42"},
        )
        again = sandbox_post(client, {"from": PHONE, "body": "Hi", "id": "m-1"})
        invalid = sandbox_post(
            client,
            {"from": PHONE, "body": "Hi", "id": "m-2"},
            **{"X-Request-ID": "a b"},
        )
        health = client.get("/healthz")

    assert given.headers["X-Request-ID"] == "req-42"
    assert len(again.headers["X-Request-ID"]) == 32
    assert invalid.headers["X-Request-ID"] not in ("a b", again.headers["X-Request-ID"])
    assert health.headers["X-Request-ID"]
    [duplicate] = capture("was received before")
    assert duplicate["request_id"] == again.headers["X-Request-ID"]
    assert duplicate["plugin"] == "sandbox"


def test_rejected_webhook_logged_with_request_id(make_runtime, capture) -> None:
    runtime: Runtime = make_runtime()
    with TestClient(Daemon(runtime).app) as client:
        response = sandbox_post(
            client, {"from": PHONE}, **{"X-Request-ID": "req-rejected"}
        )

    assert response.status_code == 400
    [line] = capture("rejected with 400")
    assert line["request_id"] == "req-rejected"


# Worker ids


def test_event_and_outbox_logs_carry_ids(
    make_runtime, capture, clock: FakeClock
) -> None:
    runtime: Runtime = make_runtime()
    with TestClient(Daemon(runtime).app) as client:
        sandbox_post(client, {"from": PHONE, "body": "Hello", "id": "m-9"})
    drain(runtime)

    [message] = [m for m in runtime.store.messages() if m.kind == "auto_reply"]
    [queued] = capture("queued for")
    [sent] = capture("sent on sandbox")
    assert isinstance(queued["event_id"], int)
    assert queued["channel"] == "sandbox"
    assert sent["message_id"] == message.id
    assert sent["conversation_id"] == message.conversation_id
    assert sent["channel"] == "sandbox"
    assert "event_id" not in sent
    assert PHONE not in json.dumps(capture())
    assert "Hello" not in json.dumps(capture())
