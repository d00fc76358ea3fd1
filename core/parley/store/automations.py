"""Automation runs: planned when a trigger fires, claimed and finished by the job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from parley.store import schema
from parley.store.base import StoreBase

PENDING = "pending"
RUNNING = "running"
DONE = "done"
FAILED = "failed"


@dataclass(frozen=True)
class AutomationRun:
    """One planned or finished run of an automation.

    Attributes:
        id: the run's id.
        automation: the automation's name.
        trigger_kind: the trigger kind that fired.
        dedupe_key: the automation and trigger occurrence; unique.
        conversation_id: the conversation the trigger concerned, if any.
        contact_id: the contact the trigger concerned, if any.
        payload: trigger details the actions use, such as ``channel``.
        status: pending, running, done or failed.
        due_at: when the actions may run.
        attempts: how many times the run was claimed.
        actions_done: how many actions finished; a retry skips them.
        outcome: what the actions did, or the last error.
    """

    id: int
    automation: str
    trigger_kind: str
    dedupe_key: str
    conversation_id: int | None
    contact_id: int | None
    payload: dict[str, Any]
    status: str
    due_at: datetime
    attempts: int
    actions_done: int
    outcome: str | None


class AutomationStore(StoreBase):
    """Plans, claims and finishes automation runs."""

    def plan_automation_run(
        self,
        automation: str,
        trigger_kind: str,
        dedupe_key: str,
        conversation_id: int | None,
        contact_id: int | None,
        payload: dict[str, Any],
        due_at: datetime,
        now: datetime,
        conn: Connection | None = None,
    ) -> bool:
        """Store a pending run; False when a run with ``dedupe_key`` exists."""
        values = {
            "automation": automation,
            "trigger_kind": trigger_kind,
            "dedupe_key": dedupe_key,
            "conversation_id": conversation_id,
            "contact_id": contact_id,
            "payload": payload,
            "status": PENDING,
            "due_at": due_at,
            "attempts": 0,
            "actions_done": 0,
            "created_at": now,
        }
        with self._tx(conn) as tx:
            return self._insert_ignore(tx, schema.automation_runs, values)

    def claim_automation_runs(
        self, worker_id: str, limit: int, now: datetime, lease_seconds: float
    ) -> list[AutomationRun]:
        """Claim due runs, and runs whose earlier claim expired, for one worker."""
        runs = schema.automation_runs
        due = or_(
            and_(runs.c.status == PENDING, runs.c.due_at <= now),
            and_(runs.c.status == RUNNING, runs.c.claimed_until < now),
        )
        with self.transaction() as conn:
            query = select(runs.c.id).where(due).order_by(runs.c.due_at).limit(limit)
            if not self.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            ids = [row.id for row in conn.execute(query)]
            if not ids:
                return []
            conn.execute(
                update(runs)
                .where(runs.c.id.in_(ids))
                .values(
                    status=RUNNING,
                    claimed_by=worker_id,
                    claimed_until=now + timedelta(seconds=lease_seconds),
                    attempts=runs.c.attempts + 1,
                )
            )
            rows = conn.execute(
                select(runs).where(runs.c.id.in_(ids)).order_by(runs.c.due_at)
            ).all()
        return [_run(row) for row in rows]

    def record_automation_progress(self, run_id: int, actions_done: int) -> None:
        """Store how many actions of a running run have finished."""
        runs = schema.automation_runs
        with self.transaction() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(actions_done=actions_done)
            )

    def finish_automation_run(
        self, run_id: int, status: str, outcome: str, now: datetime
    ) -> None:
        """Mark a run done or failed with what happened."""
        runs = schema.automation_runs
        with self.transaction() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(
                    status=status,
                    outcome=outcome[:2000],
                    finished_at=now,
                    claimed_by=None,
                    claimed_until=None,
                )
            )

    def retry_automation_run(self, run_id: int, error: str, retry_at: datetime) -> None:
        """Put a failed run back to be tried again at ``retry_at``."""
        runs = schema.automation_runs
        with self.transaction() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(
                    status=PENDING,
                    due_at=retry_at,
                    outcome=error[:2000],
                    claimed_by=None,
                    claimed_until=None,
                )
            )

    def automation_runs(
        self,
        automation: str | None = None,
        conversation_id: int | None = None,
        limit: int = 100,
    ) -> list[AutomationRun]:
        """Return runs, oldest first, optionally of one automation or conversation."""
        runs = schema.automation_runs
        query = select(runs).order_by(runs.c.id).limit(limit)
        if automation is not None:
            query = query.where(runs.c.automation == automation)
        if conversation_id is not None:
            query = query.where(runs.c.conversation_id == conversation_id)
        with self.read_engine.connect() as conn:
            return [_run(row) for row in conn.execute(query)]


def _run(row: Any) -> AutomationRun:
    return AutomationRun(
        id=row.id,
        automation=row.automation,
        trigger_kind=row.trigger_kind,
        dedupe_key=row.dedupe_key,
        conversation_id=row.conversation_id,
        contact_id=row.contact_id,
        payload=dict(row.payload or {}),
        status=row.status,
        due_at=row.due_at,
        attempts=row.attempts,
        actions_done=row.actions_done,
        outcome=row.outcome,
    )
