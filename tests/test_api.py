"""The agent API over HTTP: roles, replies through the gate, notes, filters, audit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from openapi_spec_validator import validate
from sqlalchemy import func, select
from starlette.testclient import TestClient

from parley.daemon import Daemon
from parley.runtime import Runtime
from parley.store import schema
from parley.tokens import Role

from .conftest import FakeClock, drain
from .desk_helpers import AVERY, BLAKE, bearer, inbound, issue

CAROL = "+14155550177"


@dataclass
class Desk:
    """A running API with three tokens, a conversation and a contact list."""

    runtime: Runtime
    client: TestClient
    tokens: dict[str, str]
    conversation_id: int
    contact_id: int
    list_id: int

    def call(
        self,
        method: str,
        path: str,
        role: str | None = "agent",
        **kwargs: object,
    ):  # noqa: ANN201 - an httpx response
        headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
        if role is not None:
            headers.update(bearer(self.tokens[role]))
        return self.client.request(method, path, headers=headers, **kwargs)


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    # The workers poll once an hour here, so tests drive them with drain().
    return make_runtime(
        "\n[server]\nmax_body_bytes = 4096\n\n[outbox]\npoll_interval_seconds = 3600\n"
    )


@pytest.fixture
def desk(runtime: Runtime) -> Iterator[Desk]:
    tokens = {
        "agent": issue(runtime, "ana", Role.AGENT, team="billing"),
        "lead": issue(runtime, "ben", Role.LEAD, team="billing"),
        "manager": issue(runtime, "mia", Role.MANAGER),
    }
    conversation_id = inbound(runtime, "Where is my order?", "m-1")
    conversation = runtime.store.get_conversation(conversation_id)
    assert conversation is not None
    created = runtime.store.create_list("VIP", "ben", runtime.context.clock())
    assert created is not None
    runtime.store.add_list_member(
        created.id, conversation.contact_id, "ben", runtime.context.clock()
    )
    with TestClient(Daemon(runtime).app) as client:
        yield Desk(
            runtime,
            client,
            tokens,
            conversation_id,
            conversation.contact_id,
            created.id,
        )


def outbox_rows(runtime: Runtime) -> int:
    with runtime.store.engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(schema.outbox)
        ).scalar_one()


# Every operation: method, path, JSON body, roles allowed, success status.
C = "/api/conversations/{c}"
L = "/api/lists/{l}/members"
OPERATIONS = [
    ("GET", "/api/conversations", None, "agent lead manager", 200),
    ("GET", C, None, "agent lead manager", 200),
    ("POST", C + "/reply", {"body": "It ships today."}, "agent lead", 201),
    ("POST", C + "/notes", {"body": "Called the carrier."}, "agent lead", 201),
    ("POST", C + "/assign", {"agent": "ana"}, "lead", 200),
    ("POST", C + "/close", None, "agent lead", 200),
    ("POST", C + "/reopen", None, "agent lead", 200),
    ("POST", C + "/pending", None, "agent lead", 200),
    ("GET", "/api/lists", None, "agent lead manager", 200),
    ("POST", "/api/lists", {"name": "Wholesale"}, "lead", 201),
    ("GET", L, None, "agent lead manager", 200),
    ("PUT", L + "/{k}", None, "agent lead", 200),
    ("DELETE", L + "/{k}", None, "agent lead", 204),
    ("GET", "/api/audit", None, "lead manager", 200),
    ("GET", "/api/me", None, "agent lead manager", 200),
]
OPERATION_IDS = [f"{method} {path}" for method, path, *_ in OPERATIONS]


def fill(desk: Desk, path: str) -> str:
    return path.format(c=desk.conversation_id, l=desk.list_id, k=desk.contact_id)


# Roles


@pytest.mark.parametrize("role", ["agent", "lead", "manager"])
@pytest.mark.parametrize(
    ("method", "path", "body", "allowed", "success"), OPERATIONS, ids=OPERATION_IDS
)
def test_role_matrix(
    desk: Desk,
    role: str,
    method: str,
    path: str,
    body: dict[str, str] | None,
    allowed: str,
    success: int,
) -> None:
    response = desk.call(method, fill(desk, path), role=role, json=body)

    if role in allowed.split():
        assert response.status_code == success, response.text
    else:
        assert response.status_code == 403, response.text
        assert f"a {role} token may not call" in response.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "body", "allowed", "success"), OPERATIONS, ids=OPERATION_IDS
)
def test_missing_token_gets_401(
    desk: Desk,
    method: str,
    path: str,
    body: dict[str, str] | None,
    allowed: str,
    success: int,
) -> None:
    response = desk.call(method, fill(desk, path), role=None, json=body)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="parley"'
    assert "missing bearer token" in response.json()["error"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer pk_" + "A" * 43,
        "Bearer not-a-token",
        "Basic YW5hOnNlY3JldA==",
        "Bearer",
    ],
)
def test_invalid_token_gets_401(desk: Desk, header: str) -> None:
    response = desk.client.get("/api/conversations", headers={"Authorization": header})

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_revoked_token_gets_401(desk: Desk) -> None:
    from parley.tokens import revoke_token

    assert desk.call("GET", "/api/me").status_code == 200
    revoke_token(desk.runtime.store, "ana", "cli:test", desk.runtime.context.clock())

    response = desk.call("GET", "/api/me")

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_manager_reply_refused_and_not_stored(desk: Desk) -> None:
    before = len(desk.runtime.store.messages())

    response = desk.call(
        "POST", fill(desk, C + "/reply"), role="manager", json={"body": "Hello"}
    )

    assert response.status_code == 403
    assert len(desk.runtime.store.messages()) == before


def test_manager_note_refused(desk: Desk) -> None:
    response = desk.call(
        "POST", fill(desk, C + "/notes"), role="manager", json={"body": "x"}
    )
    assert response.status_code == 403
    assert (
        desk.runtime.store.thread_page(desk.conversation_id, 50).entries[-1].body != "x"
    )


def test_who_am_i(desk: Desk) -> None:
    response = desk.call("GET", "/api/me", role="lead")
    assert response.json() == {"name": "ben", "role": "lead", "team": "billing"}


# Replies


def test_reply_queued_then_sent(desk: Desk) -> None:
    response = desk.call(
        "POST", fill(desk, C + "/reply"), json={"body": "It ships today."}
    )
    drain(desk.runtime)

    assert response.status_code == 201
    body = response.json()
    assert body["outcome"] == "queued"
    assert body["message"]["kind"] == "agent_reply"
    assert body["message"]["author"] == "ana"
    thread = desk.call("GET", fill(desk, C)).json()
    sent = [e for e in thread["entries"] if e["id"] == body["message"]["id"]]
    assert [(e["type"], e["status"], e["direction"]) for e in sent] == [
        ("message", "sent", "out")
    ]


def test_reply_to_opted_out_gets_409(desk: Desk) -> None:
    inbound(desk.runtime, "STOP", "m-2")
    drain(desk.runtime)

    response = desk.call(
        "POST", fill(desk, C + "/reply"), json={"body": "Still there?"}
    )
    drain(desk.runtime)

    assert response.status_code == 409
    body = response.json()
    assert "opted out" in body["error"]
    assert body["message"]["status"] == "blocked"
    assert outbox_rows(desk.runtime) == 0
    replies = [m for m in desk.runtime.store.messages() if m.kind == "agent_reply"]
    assert [(m.status, m.sent_at) for m in replies] == [("blocked", None)]


def test_reply_in_closed_gets_409(desk: Desk) -> None:
    desk.call("POST", fill(desk, C + "/close"))
    response = desk.call("POST", fill(desk, C + "/reply"), json={"body": "Hi"})
    assert response.status_code == 409
    assert "reopen it before replying" in response.json()["error"]


def test_reply_idempotency_key_replayed(desk: Desk) -> None:
    path = fill(desk, C + "/reply")
    headers = {"Idempotency-Key": "reply-7"}

    first = desk.call("POST", path, json={"body": "Hi"}, headers=headers)
    again = desk.call("POST", path, json={"body": "Hi"}, headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["outcome"] == "duplicate"
    assert again.json()["message"]["id"] == first.json()["message"]["id"]


def test_reply_bad_idempotency_key(desk: Desk) -> None:
    response = desk.call(
        "POST",
        fill(desk, C + "/reply"),
        json={"body": "Hi"},
        headers={"Idempotency-Key": "two words"},
    )
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "header.Idempotency-Key"


# Notes and threads


def test_note_internal_and_never_sent(desk: Desk) -> None:
    response = desk.call(
        "POST", fill(desk, C + "/notes"), json={"body": "VIP, be quick"}
    )
    drain(desk.runtime)

    assert response.status_code == 201
    thread = desk.call("GET", fill(desk, C)).json()
    notes = [e for e in thread["entries"] if e["type"] == "note"]
    assert [(n["body"], n["internal"], n["author"]) for n in notes] == [
        ("VIP, be quick", True, "ana")
    ]
    messages = [e for e in thread["entries"] if e["type"] == "message"]
    assert all(not m["internal"] for m in messages)
    assert all(m.body != "VIP, be quick" for m in desk.runtime.store.messages())
    assert outbox_rows(desk.runtime) == 0


def test_thread_shows_history(desk: Desk) -> None:
    desk.call("POST", fill(desk, C + "/assign"), role="lead", json={"agent": "ana"})
    desk.call("POST", fill(desk, C + "/close"))
    desk.call("POST", fill(desk, C + "/reopen"))

    thread = desk.call("GET", fill(desk, C)).json()

    assert [a["agent"] for a in thread["assignments"]] == ["ana"]
    assert [(s["previous_state"], s["state"]) for s in thread["states"]] == [
        ("open", "closed"),
        ("closed", "open"),
    ]
    assert thread["conversation"]["assigned_agent"] == "ana"


def test_thread_paging(desk: Desk, clock: FakeClock) -> None:
    for index in range(5):
        clock.advance(1)
        desk.call("POST", fill(desk, C + "/notes"), json={"body": f"n{index}"})
    full = desk.call("GET", fill(desk, C)).json()["entries"]

    collected: list[dict[str, object]] = []
    before = None
    while True:
        params = {"limit": 2, **({"before": before} if before else {})}
        page = desk.call("GET", fill(desk, C), params=params).json()
        collected = page["entries"] + collected
        before = page["older_cursor"]
        if before is None:
            break

    assert collected == full


# State changes


def test_close_and_reopen(desk: Desk) -> None:
    closed = desk.call("POST", fill(desk, C + "/close")).json()
    again = desk.call("POST", fill(desk, C + "/close")).json()
    reopened = desk.call("POST", fill(desk, C + "/reopen")).json()

    assert (closed["conversation"]["state"], closed["changed"]) == ("closed", True)
    assert closed["conversation"]["closed_at"] is not None
    assert again["changed"] is False
    assert (reopened["conversation"]["state"], reopened["changed"]) == ("open", True)


def test_assign_unknown_agent_422(desk: Desk) -> None:
    response = desk.call(
        "POST", fill(desk, C + "/assign"), role="lead", json={"agent": "zed"}
    )
    assert response.status_code == 422
    assert response.json()["fields"] == [
        {
            "field": "agent",
            "message": "'zed' is not the name of an active agent or lead token; "
            "'parley tokens list' shows the names",
        }
    ]


def test_assign_empty_body_422(desk: Desk) -> None:
    response = desk.call("POST", fill(desk, C + "/assign"), role="lead", json={})
    assert response.status_code == 422
    assert "give agent, team or both" in response.text


# Lists


def test_list_members_add_remove(desk: Desk) -> None:
    created = desk.call("POST", "/api/lists", role="lead", json={"name": "Wholesale"})
    list_id = created.json()["id"]
    member = f"/api/lists/{list_id}/members/{desk.contact_id}"

    added = desk.call("PUT", member)
    repeated = desk.call("PUT", member)
    listed = desk.call("GET", f"/api/lists/{list_id}/members").json()
    removed = desk.call("DELETE", member)
    gone = desk.call("DELETE", member)

    assert (added.status_code, added.json()["added"]) == (201, True)
    assert (repeated.status_code, repeated.json()["added"]) == (200, False)
    assert [m["contact_id"] for m in listed["members"]] == [desk.contact_id]
    assert removed.status_code == 204
    assert gone.status_code == 404


def test_list_duplicate_name_409(desk: Desk) -> None:
    response = desk.call("POST", "/api/lists", role="lead", json={"name": "VIP"})
    assert response.status_code == 409


def test_list_unknown_404(desk: Desk) -> None:
    response = desk.call("GET", "/api/lists/999/members")
    assert response.status_code == 404
    assert response.json()["error"] == "contact list 999 not found"


# Filters and paging


@pytest.fixture
def three(desk: Desk, clock: FakeClock) -> dict[str, int]:
    clock.advance(60)
    blake = inbound(desk.runtime, "Hello", "m-b", sender=BLAKE)
    clock.advance(60)
    carol = inbound(desk.runtime, "Hey", "m-c", sender=CAROL)
    desk.call(
        "POST",
        f"/api/conversations/{blake}/assign",
        role="lead",
        json={"agent": "ana", "team": "billing"},
    )
    desk.call("POST", f"/api/conversations/{carol}/close")
    return {"avery": desk.conversation_id, "blake": blake, "carol": carol}


def listed_ids(desk: Desk, role: str = "agent", **params: object) -> list[int]:
    response = desk.call("GET", "/api/conversations", role=role, params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["conversations"]]


def test_conversation_filters(
    desk: Desk, three: dict[str, int], clock: FakeClock
) -> None:
    avery, blake, carol = three["avery"], three["blake"], three["carol"]

    assert listed_ids(desk) == [carol, blake, avery]
    assert listed_ids(desk, state="closed") == [carol]
    assert listed_ids(desk, state="open") == [blake, avery]
    assert listed_ids(desk, assignee="ana") == [blake]
    assert listed_ids(desk, assignee="me") == [blake]
    assert listed_ids(desk, role="lead", assignee="me") == []
    assert listed_ids(desk, assignee="none") == [carol, avery]
    assert listed_ids(desk, team="billing") == [blake]
    assert listed_ids(desk, channel="sandbox") == [carol, blake, avery]
    assert listed_ids(desk, channel="whatsapp") == []
    assert listed_ids(desk, list=desk.list_id) == [avery]
    since = (clock.now - timedelta(seconds=30)).isoformat()
    assert listed_ids(desk, updated_since=since) == [carol, blake]


def test_paging_visits_each_once(desk: Desk, three: dict[str, int]) -> None:
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = desk.call("GET", "/api/conversations", params=params).json()
        seen += [item["id"] for item in page["conversations"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == [three["carol"], three["blake"], three["avery"]]


def test_conversation_shows_contact(desk: Desk) -> None:
    item = desk.call("GET", "/api/conversations").json()["conversations"][0]
    assert item["address"] == AVERY
    assert item["contact"]["id"] == desk.contact_id
    assert item["last_inbound_at"] is not None


# Validation


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "archived"}, "query.state"),
        ({"asignee": "ana"}, "query.asignee"),
        ({"updated_since": "2026-11-17T10:00:00"}, "query.updated_since"),
        ({"updated_since": "0001-01-01T00:00:00+01:00"}, "query.updated_since"),
        ({"limit": "0"}, "query.limit"),
        ({"limit": "201"}, "query.limit"),
        ({"list": "0"}, "query.list"),
        ({"list": "12345"}, "list"),
        ({"cursor": "bm9wZQ"}, "cursor"),
        ({"team": "two words"}, "query.team"),
    ],
)
def test_bad_query_422_names_field(
    desk: Desk, params: dict[str, str], field: str
) -> None:
    response = desk.call("GET", "/api/conversations", params=params)

    assert response.status_code == 422, response.text
    assert [problem["field"] for problem in response.json()["fields"]] == [field]


def test_repeated_query_parameter_422(desk: Desk) -> None:
    response = desk.call("GET", "/api/conversations?state=open&state=closed")
    assert response.status_code == 422
    assert "given 2 times" in response.json()["error"]


@pytest.mark.parametrize(
    ("content", "status", "text"),
    [
        (b"", 400, "body is empty"),
        (b"{not json", 400, "not valid JSON"),
        (b"[1]", 400, "must be a JSON object"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (b'{"body": ""}', 422, "body.body"),
        (b'{"body": "   "}', 422, "must not be blank"),
        (b'{"body": "a\\u0000b"}', 422, "NUL"),
        (b'{"body": "\\ud800"}', 422, "unicode string"),
        (b'{"body": "hi", "urgent": true}', 422, "body.urgent"),
        (b'{"body": 5}', 422, "body.body"),
    ],
)
def test_bad_reply_body(desk: Desk, content: bytes, status: int, text: str) -> None:
    response = desk.call(
        "POST",
        fill(desk, C + "/reply"),
        content=content,
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == status, response.text
    assert text in response.text
    assert not [m for m in desk.runtime.store.messages() if m.kind == "agent_reply"]


def test_body_too_large_413(desk: Desk) -> None:
    response = desk.call("POST", fill(desk, C + "/notes"), json={"body": "x" * 5000})
    assert response.status_code == 413


@pytest.mark.parametrize("value", ["abc", "0", "-1", str(2**63), "1.5", "١"])
def test_bad_path_id_422(desk: Desk, value: str) -> None:
    response = desk.call("GET", f"/api/conversations/{value}")
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "path.conversation_id"


def test_unknown_conversation_404(desk: Desk) -> None:
    response = desk.call("POST", "/api/conversations/9999/close")
    assert response.status_code == 404
    assert response.json() == {"error": "conversation 9999 not found"}


def test_wrong_method_json_405(desk: Desk) -> None:
    response = desk.call("DELETE", "/api/conversations")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert "use GET" in response.json()["error"]


def test_unknown_api_path_json_404(desk: Desk) -> None:
    response = desk.call("GET", "/api/no-such-operation")
    assert response.status_code == 404
    assert "GET /api/openapi.json lists them" in response.json()["error"]


def test_unexpected_failure_json_500(
    desk: Desk, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("store went away")

    monkeypatch.setattr(desk.runtime.store, "contact_lists", broken)

    response = desk.call("GET", "/api/lists")

    assert response.status_code == 500
    assert "daemon's log has the details" in response.json()["error"]
    assert "API GET /api/lists failed" in caplog.text


# Audit


def test_every_write_audited(desk: Desk) -> None:
    conversation = fill(desk, C)
    desk.call("POST", conversation + "/reply", json={"body": "Hi"})
    desk.call("POST", conversation + "/notes", json={"body": "n"})
    desk.call("POST", conversation + "/assign", role="lead", json={"team": "billing"})
    desk.call("POST", conversation + "/pending")
    desk.call("POST", conversation + "/close")
    desk.call("POST", conversation + "/reopen")
    created = desk.call("POST", "/api/lists", role="lead", json={"name": "New"}).json()
    member = f"/api/lists/{created['id']}/members/{desk.contact_id}"
    desk.call("PUT", member)
    desk.call("DELETE", member)

    page = desk.call("GET", "/api/audit", role="manager", params={"limit": 50}).json()
    rows = [(e["actor"], e["action"]) for e in reversed(page["entries"])]

    assert rows == [
        ("cli:test", "token.create"),
        ("cli:test", "token.create"),
        ("cli:test", "token.create"),
        ("ana", "conversation.reply"),
        ("ana", "conversation.note"),
        ("ben", "conversation.assign"),
        ("ana", "conversation.pending"),
        ("ana", "conversation.close"),
        ("ana", "conversation.reopen"),
        ("ben", "list.create"),
        ("ana", "list.add_member"),
        ("ana", "list.remove_member"),
    ]
    reply = page["entries"][-4]
    assert reply["conversation_id"] == desk.conversation_id
    assert reply["target_type"] == "message"


def test_audit_filters_and_paging(desk: Desk) -> None:
    conversation = fill(desk, C)
    for _ in range(3):
        desk.call("POST", conversation + "/notes", json={"body": "n"})

    first = desk.call(
        "GET",
        "/api/audit",
        role="lead",
        params={"action": "conversation.note", "limit": 2},
    ).json()
    second = desk.call(
        "GET",
        "/api/audit",
        role="lead",
        params={"action": "conversation.note", "before": first["next_before"]},
    ).json()
    by_actor = desk.call(
        "GET", "/api/audit", role="lead", params={"actor": "ana"}
    ).json()

    assert len(first["entries"]) == 2
    assert len(second["entries"]) == 1
    assert second["next_before"] is None
    assert {e["actor"] for e in by_actor["entries"]} == {"ana"}


# Logs


def test_logs_hold_no_secrets_or_bodies(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    desk.call("POST", fill(desk, C + "/reply"), json={"body": "Your code is 4471"})
    desk.call("POST", fill(desk, C + "/notes"), json={"body": "private remark"})
    desk.client.get("/api/me", headers=bearer("pk_" + "B" * 43))

    logged = caplog.text
    assert "reply" in logged
    for secret in [*desk.tokens.values(), "pk_" + "B" * 43]:
        assert secret not in logged
    assert "4471" not in logged
    assert "private remark" not in logged
    assert AVERY not in logged


# OpenAPI


def test_openapi_document_valid(desk: Desk) -> None:
    response = desk.client.get("/api/openapi.json")

    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert document["openapi"] == "3.1.0"


def test_openapi_lists_every_operation(desk: Desk) -> None:
    document = desk.client.get("/api/openapi.json").json()
    paths = document["paths"]

    for method, path, _body, _allowed, success in OPERATIONS:
        template = (
            path.replace("{c}", "{conversation_id}")
            .replace("{l}", "{list_id}")
            .replace("{k}", "{contact_id}")
        )
        operation = paths[template][method.lower()]
        assert operation["security"] == [{"bearer": []}]
        assert {str(success), "401", "403"} <= set(operation["responses"])
    reply = paths["/api/conversations/{conversation_id}/reply"]["post"]
    assert {"201", "409", "422", "404"} <= set(reply["responses"])
    assert reply["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReplyRequest"
    }
    query = {p["name"] for p in paths["/api/conversations"]["get"]["parameters"]}
    assert query == {
        "state",
        "assignee",
        "team",
        "channel",
        "list",
        "updated_since",
        "cursor",
        "limit",
    }
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
