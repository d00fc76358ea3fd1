"""Suspension of stale numbers.

Phone numbers are reissued to new people, so an address with no message
and no consent change for a configured number of days is suspended: a
``suspend`` record for every purpose goes into the consent ledger, and the
send gate blocks it until fresh consent arrives. ``parley purge`` runs this
once; the daemon runs it daily when
``[compliance] suspend_after_inactive_days`` is set.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from parley.consent import SUSPEND
from parley.context import PluginContext, Poller
from parley.models import ConsentSource, Purpose
from parley.phones import mask_phone
from parley.store import Store

logger = logging.getLogger(__name__)

PURGE_INTERVAL_SECONDS = 24 * 3600


def suspend_inactive(
    store: Store, days: int, now: datetime, dry_run: bool = False
) -> list[str]:
    """Suspend every address inactive for ``days`` days; return the addresses."""
    cutoff = now - timedelta(days=days)
    addresses = store.inactive_addresses(cutoff)
    if dry_run:
        return addresses

    evidence = f"no messages or consent changes since {cutoff:%Y-%m-%d %H:%M} UTC ({days} days)"
    for address in addresses:
        with store.transaction() as conn:
            for purpose in Purpose:
                store.add_consent(
                    channel="*",
                    address=address,
                    purpose=purpose.value,
                    action=SUSPEND,
                    source=ConsentSource.INACTIVITY.value,
                    actor="parley:purge",
                    evidence=evidence,
                    now=now,
                    conn=conn,
                )
        logger.info(
            "address %s suspended after %d inactive days", mask_phone(address), days
        )
    return addresses


def purge_poller(context: PluginContext) -> Poller | None:
    """Return the daily suspension job, or None when it is turned off."""
    days = context.settings.compliance.suspend_after_inactive_days
    if days == 0:
        return None

    def run() -> None:
        suspended = suspend_inactive(context.store, days, context.clock())
        logger.info("inactivity check suspended %d address(es)", len(suspended))

    return Poller("core", "suspend-inactive", PURGE_INTERVAL_SECONDS, run)
