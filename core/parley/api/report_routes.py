"""The API's report and audit-export operations.

Leads read the KPIs of their own team, managers read every team's and may
export threads for an audit, and agents may call neither. The export is
paged by conversation and each page is recorded in the audit log, because
it hands out message bodies and consent evidence.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from parley.api.framework import Answer, ApiError, Call, Operation
from parley.api.schemas import Identifier, Name
from parley.context import PluginContext
from parley.conversations import InvalidValue, NotFound
from parley.export import (
    ExportError,
    ExportFilter,
    UnknownContact,
    batch_records,
    consent_records,
    conversation_batch,
    describe_filter,
    find_contact_id,
    jsonable_record,
)
from parley.kpis import (
    KpiError,
    KpiOptions,
    business_calendar,
    compute_kpis,
    parse_since,
)
from parley.tokens import Role

logger = logging.getLogger(__name__)

REPORT_READERS = frozenset({Role.LEAD, Role.MANAGER})
EXPORTERS = frozenset({Role.MANAGER})

# The forms parse_since accepts: 30d, 12h, a date, or a date and time.
SINCE_PATTERN = (
    r"^([0-9]{1,6}[dDhH]|[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?([Zz]|[+-][0-9]{2}:[0-9]{2}))?)$"
)
Since = Annotated[str, Field(pattern=SINCE_PATTERN, max_length=40)]


def _no_nul(value: str) -> str:
    if "\x00" in value or not value.strip():
        raise ValueError("must be a non-blank address without NUL characters")
    return value


ContactAddress = Annotated[
    str, Field(min_length=1, max_length=320), AfterValidator(_no_nul)
]


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReportQuery(_Query):
    """The window, grouping and options of a KPI report."""

    since: Since = Field(
        "30d",
        description="Start of the window: 30d or 12h before now, a date "
        "(midnight in the business time zone) or a time with an offset.",
    )
    by: Literal["day", "agent", "channel"] | None = Field(
        None, description="Group by day (business time zone), agent or channel."
    )
    business_hours: bool = Field(
        False, description="Count only [calendar] opening hours in durations."
    )
    team: Name | None = Field(
        None,
        description="Only this team's figures. A lead always gets its own team's.",
    )


class ExportQuery(_Query):
    """The filter and position of one page of the audit export."""

    since: Since | None = Field(
        None, description="Only records at or after this time; same forms as reports."
    )
    contact: ContactAddress | None = Field(
        None,
        description="Only this contact: a phone number in any format, an email "
        "address or a channel user id.",
    )
    after: Identifier | None = Field(
        None, description="The next_after of the previous page."
    )
    limit: int = Field(20, ge=1, le=100, description="Conversations per page.")


class DurationsOut(BaseModel):
    """Count, mean, median and total of durations, in seconds."""

    count: int
    mean: float | None
    median: float | None
    total: float


class FiguresOut(BaseModel):
    """The KPIs of one group or of the total."""

    group: str = Field(description="Day (YYYY-MM-DD), agent, channel or 'total'.")
    conversations: int
    inbound: int
    replies: int
    automated: int
    first_response: DurationsOut
    response: DurationsOut
    resolution: DurationsOut
    wait: DurationsOut
    unanswered: int
    waiting: int
    csat_answers: int
    csat_mean: float | None
    csat_satisfied_share: float | None


class ReportOut(BaseModel):
    """A KPI report; durations are in seconds."""

    since: str
    until: str
    group_by: str | None
    business_hours: bool
    time_zone: str
    team: str | None
    groups: list[FiguresOut]
    total: FiguresOut


class ExportPage(BaseModel):
    """A page of audit-export records, as the JSON-lines export writes them."""

    records: list[dict[str, Any]] = Field(
        description="Flat records; 'record' names the kind: conversation, "
        "message, note (internal: true), assignment, state_change, survey or "
        "consent. A contact's consent records follow its first conversation "
        "on the page."
    )
    next_after: int | None = Field(
        description="Pass as after for the next page; null on the last page."
    )


class ReportApi:
    """The handlers of the report and export operations."""

    def __init__(self, context: PluginContext) -> None:
        self.store = context.store
        self.settings = context.settings
        self.clock = context.clock
        self.calendar = business_calendar(context.settings)

    def operations(self) -> list[Operation]:
        """Return the report and export operations."""
        return [
            Operation(
                "GET",
                "/api/reports",
                "readReport",
                "Read the support KPIs, optionally grouped by day, agent or channel",
                REPORT_READERS,
                self.read_report,
                {200: (ReportOut, "The figures per group and in total.")},
                query=ReportQuery,
            ),
            Operation(
                "GET",
                "/api/export",
                "exportThreads",
                "Export threads, notes, history, surveys and consent for an audit",
                EXPORTERS,
                self.export_page,
                {200: (ExportPage, "A page of records.")},
                errors={404: "No contact has the address."},
                query=ExportQuery,
            ),
        ]

    def read_report(self, call: Call) -> Answer:
        """Compute a report; a lead's is limited to its team."""
        query: ReportQuery = call.query
        team = self._report_team(call, query.team)
        now = self.clock()
        try:
            since = parse_since(query.since, now, self.calendar.zone)
            options = KpiOptions(since, now, query.by, query.business_hours, team)
            report = compute_kpis(self.store, self.calendar, options)
        except KpiError as err:
            field = "by" if err.option == "group_by" else err.option
            raise InvalidValue(f"query.{field}", str(err)) from err
        body = {
            **asdict(report),
            "since": report.since.isoformat(),
            "until": report.until.isoformat(),
        }
        return Answer(200, ReportOut.model_validate(body))

    def _report_team(self, call: Call, requested_team: str | None) -> str | None:
        """Return the team a report covers: a lead's own, else the requested one."""
        token = call.token
        if token.role != Role.LEAD.value:
            return requested_team
        if token.team is None:
            problem = (
                f"lead token {token.name!r} has no team, so it sees no team's "
                "figures; create a token with --team"
            )
        elif requested_team is not None and requested_team != token.team:
            problem = (
                f"a lead sees only its own team's figures ({token.team!r}), "
                f"not {requested_team!r}"
            )
        else:
            return token.team
        logger.info("report rejected for lead token %s: %s", token.name, problem)
        raise ApiError(403, problem)

    def export_page(self, call: Call) -> Answer:
        """Return one page of the audit export and record it in the audit log."""
        query: ExportQuery = call.query
        now = self.clock()
        selection = self._export_filter(query, now)
        batch = conversation_batch(
            self.store, selection, query.after or 0, query.limit + 1
        )
        page, more = batch[: query.limit], len(batch) > query.limit

        records = self._page_records(selection, page, first_page=query.after is None)

        contact_id = selection.contact_id
        self.store.add_audit(
            call.token.name,
            "export",
            "contact" if contact_id is not None else "store",
            contact_id if contact_id is not None else "all",
            {
                **describe_filter(selection, "json"),
                "conversations": len(page),
                "records": len(records),
            },
            now,
        )
        logger.info(
            "export page of %s conversation(s) read by %s", len(page), call.token.name
        )
        return Answer(
            200, ExportPage(records=records, next_after=page[-1] if more else None)
        )

    def _page_records(
        self, selection: ExportFilter, page: list[int], first_page: bool
    ) -> list[dict[str, Any]]:
        contact_id = selection.contact_id
        if contact_id is not None and not page and first_page:
            # The contact has no conversation to attach its consent records to.
            return [
                jsonable_record(record)
                for record in consent_records(self.store, contact_id)
            ]
        exported_contacts: set[int] = set()
        return list(batch_records(self.store, page, selection.since, exported_contacts))

    def _export_filter(self, query: ExportQuery, now: datetime) -> ExportFilter:
        since = None
        if query.since is not None:
            try:
                since = parse_since(query.since, now, self.calendar.zone)
            except KpiError as err:
                raise InvalidValue("query.since", str(err)) from err
        contact_id = None
        if query.contact is not None:
            region = self.settings.contacts.default_region
            try:
                contact_id = find_contact_id(self.store, query.contact, region)
            except UnknownContact as err:
                raise NotFound(str(err)) from err
            except ExportError as err:
                raise InvalidValue("query.contact", str(err)) from err
        return ExportFilter(since=since, contact_id=contact_id)
