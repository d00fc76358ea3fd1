"""``parley demo`` from start to finish."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from parley.demo import run_demo

pytestmark = pytest.mark.slow

# What the demo's customers and the business wrote, and who they are: none
# of it may reach the daemon's log.
PERSONAL_DATA = (
    "+14155550123",
    "4155550123",
    "+14155550147",
    "4155550147",
    "avery.quinlan@example.com",
    "jordan.ellery@example.com",
    "Will #1042 arrive before Friday?",
    "Stop please",
    "thanks for your order #1042",
    "has been cancelled",
)


def test_demo_shows_order_story() -> None:
    console = Console(record=True, width=200)
    exit_code = run_demo(keep=True, console=console)
    output = console.export_text()
    kept = re.search(r"demo files kept in (\S+)", output)
    assert kept is not None
    workdir = Path(kept.group(1))
    try:
        log = (workdir / "daemon.log").read_text(encoding="utf-8")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    assert exit_code == 0
    assert "daemon stopped with exit code 0" in output
    assert "Hi Avery, thanks for your order #1042" in output
    assert "trackNums=1Z999AA10123456784" in output
    assert "Hi Jordan, your order #1043 has been cancelled" in output
    assert '"status": "duplicate"' in output
    assert "Hi there, thanks for texting Harbor & Pine" not in output
    assert "Hi Avery, thanks for texting Harbor & Pine" in output
    assert "suppressed: opted out" in output
    assert "401" in output

    assert "message" in log
    leaked = [value for value in PERSONAL_DATA if value in log]
    assert leaked == [], f"the daemon log contains {leaked}"
