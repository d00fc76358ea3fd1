"""Key rotation: re-encrypt every stored value under the current key.

Each batch commits in its own transaction together with the position it
reached, kept in ``key_rotations``. An interrupted rotation therefore
resumes after its last committed batch. A position recorded for another
target key is discarded and that table starts over. When every table is
done, the rows of the old keys are removed from ``encryption_keys``, after
which the store opens without the old keys.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select

from parley.store import schema
from parley.store.base import StoreBase
from parley.store.rekey import count_rows, encrypted_tables, rotate_batch

logger = logging.getLogger(__name__)

# Position stored for a table whose rows are all rewritten.
_DONE = "done"


@dataclass(frozen=True)
class TablePlan:
    """One table to rotate: its row count and whether an earlier run finished it."""

    name: str
    rows: int
    rows_done: int
    finished: bool


@dataclass(frozen=True)
class RotationReport:
    """The result of a rotation run."""

    target_key_id: str
    rows_read: int
    rows_rewritten: int
    retired_key_ids: tuple[str, ...]
    complete: bool


# Called after each committed batch with the table name and the rows read.
ProgressCallback = Callable[[str, int], None]


class KeyRotation:
    """Rotation of one store to its keyring's current key."""

    def __init__(
        self, store: StoreBase, clock: Callable[[], datetime] | None = None
    ) -> None:
        if store.cipher is None:
            raise ValueError("the store must be opened with open_store() first")
        self.store = store
        self.cipher = store.cipher
        self.target = store.keyring.current_id
        self._clock = clock or (lambda: datetime.now(UTC))

    def plan(self) -> list[TablePlan]:
        """Return every encrypted table with its size and recorded progress."""
        progress = self._progress()
        plans = []
        with self.store.read_engine.connect() as conn:
            for table in encrypted_tables():
                if not conn.dialect.has_table(conn, table.name):
                    continue
                row = progress.get(table.name)
                plans.append(
                    TablePlan(
                        name=table.name,
                        rows=count_rows(conn, table),
                        rows_done=row.rows_done if row is not None else 0,
                        finished=row is not None and row.last_key == _DONE,
                    )
                )
        return plans

    def run(
        self,
        batch_size: int = 500,
        on_batch: ProgressCallback | None = None,
        max_batches: int | None = None,
    ) -> RotationReport:
        """Re-encrypt the tables not finished yet, batch by batch.

        Args:
            batch_size: rows per transaction.
            on_batch: called after each committed batch.
            max_batches: stop after this many batches, leaving the rotation
                to be resumed; None runs to the end.
        """
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        read = rewritten = batches = 0
        for plan in self.plan():
            if plan.finished:
                continue
            table = schema.metadata.tables[plan.name]
            while max_batches is None or batches < max_batches:
                result = self._next_batch(table, batch_size)
                batches += 1
                read += result[0]
                rewritten += result[1]
                if on_batch is not None and result[0]:
                    on_batch(plan.name, result[0])
                if result[2]:
                    break
            else:
                return RotationReport(self.target, read, rewritten, (), False)
        retired = self._finish()
        return RotationReport(self.target, read, rewritten, retired, True)

    def _next_batch(self, table: Any, batch_size: int) -> tuple[int, int, bool]:
        """Rewrite one batch and record the position; True when the table is done."""
        progress = schema.key_rotations
        now = self._clock()
        with self.store.transaction() as conn:
            row = conn.execute(
                select(progress).where(progress.c.table_name == table.name)
            ).first()
            if row is not None and row.target_key_id != self.target:
                row = None
            after = None if row is None else json.loads(row.last_key)
            rows_done = 0 if row is None else row.rows_done
            result = rotate_batch(conn, self.cipher, table, after, batch_size)
            finished = result.last_key is None
            position = _DONE if finished else json.dumps(result.last_key)
            values = {
                "target_key_id": self.target,
                "last_key": position,
                "rows_done": rows_done + result.rows_read,
                "updated_at": now,
            }
            statement = (
                self.store._dialect_insert(progress)
                .values(table_name=table.name, **values)
                .on_conflict_do_update(
                    index_elements=[progress.c.table_name], set_=values
                )
            )
            conn.execute(statement)
        return result.rows_read, result.rows_rewritten, finished

    def _finish(self) -> tuple[str, ...]:
        keys = schema.encryption_keys
        with self.store.transaction() as conn:
            retired = tuple(
                conn.execute(
                    select(keys.c.key_id).where(keys.c.key_id != self.target)
                ).scalars()
            )
            conn.execute(delete(keys).where(keys.c.key_id != self.target))
            conn.execute(delete(schema.key_rotations))
        if retired:
            logger.info(
                "key rotation to %s finished; retired key(s) %s",
                self.target,
                ", ".join(retired),
            )
        return retired

    def _progress(self) -> dict[str, Any]:
        table = schema.key_rotations
        with self.store.read_engine.connect() as conn:
            rows = conn.execute(
                select(table).where(table.c.target_key_id == self.target)
            ).all()
        return {row.table_name: row for row in rows}
