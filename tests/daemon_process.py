"""Start ``parley run`` as a real process for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from parley.demo import free_port, wait_ready
from parley.errors import ParleyError


class DaemonProcess:
    """A ``parley run`` child process on a free 127.0.0.1 port."""

    def __init__(
        self, config: Path, log: Path, env: dict[str, str] | None = None
    ) -> None:
        self.config = config
        self.log_path = log
        self.env = {**os.environ, **(env or {})}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "parley",
                    "run",
                    "-c",
                    str(self.config),
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        try:
            wait_ready(self.url, self.process, self.log_path, timeout)
        except ParleyError as err:
            self.kill()
            raise AssertionError(str(err)) from err

    def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return httpx.post(
            f"{self.url}{path}", content=body, headers=headers or {}, timeout=10
        )

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def wait_for(condition, timeout: float = 20.0, interval: float = 0.05) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
