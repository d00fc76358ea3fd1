"""Property-based requests against a running daemon's agent API, with schemathesis."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from parley.config import load_config
from parley.store import open_store
from parley.tokens import Role, create_token

from .conftest import FakeClock
from .daemon_process import DaemonProcess, wait_for

pytestmark = pytest.mark.slow

# Examples per operation in the fuzzing phase. With the coverage phase
# the run took about 25 s per store on a 2-CPU test machine.
MAX_EXAMPLES = 50

# Every check except positive_data_acceptance, which expects any request
# that fits the schema to succeed. Page cursors are opaque and agent names
# must belong to active tokens, so such requests rightly get 422.
EXCLUDED_CHECKS = "positive_data_acceptance"


def _lead_token(config: Path) -> str:
    store = open_store(load_config(config, environ={}).settings.store_url)
    try:
        issued = create_token(
            store, "fuzz", Role.LEAD, "billing", "cli:test", FakeClock().now
        )
        create_token(store, "ana", Role.AGENT, "billing", "cli:test", FakeClock().now)
    finally:
        store.close()
    return issued.secret


def test_api_has_no_server_errors(
    write_config: Callable[..., Path], store_url: str, tmp_path: Path
) -> None:
    schemathesis = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert schemathesis is not None, "install the test extra: pip install -e '.[test]'"
    config = write_config(store_url=store_url)
    secret = _lead_token(config)
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    daemon.start()
    try:
        customer = json.dumps({"from": "+14155550123", "body": "Hi", "id": "m-1"})
        assert daemon.post("/webhooks/sandbox", customer.encode()).status_code == 200
        wait_for(lambda: _has_conversation(daemon, secret))

        result = subprocess.run(
            [
                schemathesis,
                "run",
                f"{daemon.url}/api/openapi.json",
                "--checks",
                "all",
                "--exclude-checks",
                EXCLUDED_CHECKS,
                "--header",
                f"Authorization: Bearer {secret}",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--seed",
                "20261117",
                "--workers",
                "1",
                "--request-timeout",
                "10",
                "--phases",
                "examples,coverage,fuzzing",
                "--generation-database",
                "none",
                "--no-color",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=150,
        )
    finally:
        daemon.terminate()

    log = (tmp_path / "daemon.log").read_text()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Traceback" not in log, log[-4000:]


def _has_conversation(daemon: DaemonProcess, secret: str) -> bool:
    response = httpx.get(
        f"{daemon.url}/api/conversations",
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    )
    return bool(response.json()["conversations"])
