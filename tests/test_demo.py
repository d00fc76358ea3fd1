"""``parley demo`` from start to finish."""

from __future__ import annotations

import pytest
from rich.console import Console

from parley.demo import run_demo

pytestmark = pytest.mark.slow


def test_demo_shows_order_story() -> None:
    console = Console(record=True, width=200)
    exit_code = run_demo(console=console)
    output = console.export_text()

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
