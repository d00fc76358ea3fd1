"""The report and export API routes: roles, a lead's team scope, paging, audit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from parley.conversations import SupportDesk
from parley.daemon import Daemon
from parley.models import AddressKind, ChannelAddress, ContactRecord
from parley.runtime import Runtime
from parley.store.desk_records import ConversationState
from parley.tokens import Role

from .conftest import FakeClock
from .desk_helpers import AVERY, BLAKE, bearer, inbound, issue


@dataclass
class Api:
    runtime: Runtime
    client: TestClient
    tokens: dict[str, str]
    conversations: dict[str, int]

    def get(self, path: str, role: str, **params: object):  # noqa: ANN201 - a response
        return self.client.get(path, headers=bearer(self.tokens[role]), params=params)


@pytest.fixture
def api(make_runtime: Callable[..., Runtime], clock: FakeClock) -> Iterator[Api]:
    runtime = make_runtime()
    tokens = {
        "agent": issue(runtime, "ana", Role.AGENT, "billing"),
        "lead": issue(runtime, "ben", Role.LEAD, "billing"),
        "lead_no_team": issue(runtime, "lee", Role.LEAD),
        "manager": issue(runtime, "mia", Role.MANAGER),
    }
    desk = SupportDesk(runtime.context, runtime.channels)

    # Avery (billing): answered after 10 minutes, with a note, then closed.
    avery = inbound(runtime, "Where is my refund?", "a-1", AVERY)
    desk.assign("ben", avery, {"agent": "ana", "team": "billing"})
    clock.advance(600)
    desk.reply("ana", avery, "It went out today.")
    desk.add_note("ana", avery, "Refund 42 issued by hand.")
    clock.advance(600)
    desk.set_state("ana", avery, ConversationState.CLOSED)

    # Blake (shipping): still waiting.
    clock.advance(60)
    blake = inbound(runtime, "Parcel missing", "b-1", BLAKE)
    desk.assign("ben", blake, {"team": "shipping"})
    clock.advance(1200)

    with TestClient(Daemon(runtime).app) as client:
        yield Api(runtime, client, tokens, {"avery": avery, "blake": blake})


# Roles


def test_agent_and_lead_403(api: Api) -> None:
    for role, path in (
        ("agent", "/api/reports"),
        ("agent", "/api/export"),
        ("lead", "/api/export"),
    ):
        response = api.get(path, role)

        assert response.status_code == 403, (role, path)
        assert f"a {role} token may not call GET {path}" in response.json()["error"]


def test_manager_reply_403(api: Api) -> None:
    path = f"/api/conversations/{api.conversations['blake']}/reply"

    response = api.client.post(
        path, headers=bearer(api.tokens["manager"]), json={"body": "On its way."}
    )

    assert response.status_code == 403
    assert "a manager token may not call" in response.json()["error"]


# Reports


def test_lead_sees_own_team(api: Api) -> None:
    body = api.get("/api/reports", "lead", since="1d").json()

    assert body["team"] == "billing"
    assert body["total"]["replies"] == 1
    assert body["total"]["response"]["mean"] == pytest.approx(600)
    assert body["total"]["waiting"] == 0


def test_lead_other_team_403(api: Api) -> None:
    response = api.get("/api/reports", "lead", team="shipping")

    assert response.status_code == 403
    assert "own team" in response.json()["error"]


def test_lead_without_team_403(api: Api) -> None:
    response = api.get("/api/reports", "lead_no_team")

    assert response.status_code == 403
    assert "has no team" in response.json()["error"]


def test_manager_sees_all_by_agent(api: Api) -> None:
    body = api.get("/api/reports", "manager", by="agent").json()

    assert body["team"] is None
    assert body["group_by"] == "agent"
    groups = {group["group"]: group for group in body["groups"]}
    assert set(groups) == {"ana", "(unassigned)"}
    assert groups["ana"]["resolution"]["count"] == 1
    assert groups["ana"]["resolution"]["mean"] == pytest.approx(1200)
    assert groups["(unassigned)"]["waiting"] == 1
    assert groups["(unassigned)"]["wait"]["total"] == pytest.approx(1200)


def test_manager_filters_team(api: Api) -> None:
    body = api.get("/api/reports", "manager", team="shipping").json()

    assert body["total"]["replies"] == 0
    assert body["total"]["waiting"] == 1


INVALID_QUERIES = [
    ({"since": "week"}, "query.since"),
    ({"since": "2026-13-01"}, "query.since"),
    ({"since": "2030-01-01"}, "query.since"),
    ({"by": "month"}, "query.by"),
    ({"business_hours": "true"}, "query.business_hours"),
    ({"colour": "red"}, "query.colour"),
]


def test_report_invalid_query_422(api: Api) -> None:
    for params, field in INVALID_QUERIES:
        response = api.get("/api/reports", "manager", **params)

        assert response.status_code == 422, (params, response.text)
        fields = [problem["field"] for problem in response.json()["fields"]]
        assert field in fields, (params, fields)


# Export


def test_export_contact_any_format(api: Api) -> None:
    response = api.get("/api/export", "manager", contact="(415) 555-0123")

    assert response.status_code == 200, response.text
    records = response.json()["records"]
    kinds = [record["record"] for record in records]
    assert kinds[0] == "conversation"
    assert {
        record["conversation_id"] for record in records if "conversation_id" in record
    } == {api.conversations["avery"]}
    notes = [record for record in records if record["record"] == "note"]
    assert notes[0]["internal"] is True
    assert notes[0]["body"] == "Refund 42 issued by hand."
    messages = [record for record in records if record["record"] == "message"]
    assert all(message["internal"] is False for message in messages)
    assert "assignment" in kinds
    assert "state_change" in kinds


def test_export_unknown_contact_404(api: Api) -> None:
    response = api.get("/api/export", "manager", contact="+14155550999")

    assert response.status_code == 404
    assert "no contact has the address" in response.json()["error"]


def test_export_pages(api: Api) -> None:
    first = api.get("/api/export", "manager", limit=1).json()
    second = api.get(
        "/api/export", "manager", limit=1, after=first["next_after"]
    ).json()

    assert first["next_after"] == api.conversations["avery"]
    assert second["next_after"] is None
    assert second["records"][0]["conversation_id"] == api.conversations["blake"]


def test_export_recorded_in_audit(api: Api) -> None:
    api.get("/api/export", "manager", since="1d")

    rows, _next = SupportDesk(api.runtime.context, api.runtime.channels).audit(
        10, action="export"
    )
    assert len(rows) == 1
    assert rows[0].actor == "mia"
    assert rows[0].detail["conversations"] == 2


# OpenAPI


def test_openapi_valid_with_reports(api: Api) -> None:
    document = api.client.get("/api/openapi.json").json()

    validate(document)
    assert {"/api/reports", "/api/export"} <= set(document["paths"])
    report = document["paths"]["/api/reports"]["get"]
    assert {"200", "401", "403", "422"} <= set(report["responses"])
    names = {parameter["name"] for parameter in report["parameters"]}
    assert names == {"since", "by", "business_hours", "team"}


def test_export_consent_only_contact(api: Api, clock: FakeClock) -> None:
    carol = "+14155550177"
    store = api.runtime.store
    store.save_contact(
        ContactRecord(source="shopify", phone=carol),
        [ChannelAddress(AddressKind.PHONE, carol)],
        clock(),
    )
    store.add_consent(
        "sandbox",
        carol,
        "promotional",
        "opt_in",
        "web_form",
        "shopify",
        "form 7",
        clock(),
    )

    body = api.get("/api/export", "manager", contact=carol).json()

    assert [record["record"] for record in body["records"]] == ["consent"]
    assert body["records"][0]["evidence"] == "form 7"
    assert body["next_after"] is None
