"""Drive signed Shopify order webhooks into a running daemon and measure it.

The script starts ``parley run`` as a separate process on 127.0.0.1 with a
temporary SQLite store (or the PostgreSQL URL given with ``--store-url``)
and the sandbox channel standing in for the provider, with a simulated
provider latency per send. It posts ``orders/create`` webhooks, each for a
new order, at a fixed rate from several client threads and reports:

* webhook acknowledgement latency (p50, p99), from request start to the
  daemon's 200, which includes storing the event;
* end-to-end throughput: events per second from the first webhook posted to
  the last confirmation written by the channel;
* the daemon's peak resident memory (VmHWM from /proc).

Run with ``--repeat N`` to get the median of N runs. Example:

    .venv/bin/python benchmarks/webhook_throughput.py --rate 100 --count 2000 --repeat 3
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import importlib.resources
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from parley.crypto import generate_key
from parley.demo import SHOP_DOMAIN, free_port, wait_ready

CONFIG = """\
data_dir = "{data_dir}"

[plugins]
enabled = ["sandbox", "shopify"]

{store}

[logging]
level = "WARNING"

[outbox]
poll_interval_seconds = 0.05
batch_size = 50

[templates]
order_confirmed = "Hi {{{{First Name | there}}}}, thanks for your order {{{{Order Number}}}}!"

[sandbox]
outbox_file = "sandbox-outbox.jsonl"
latency_ms = {latency_ms}

[[shopify.shops]]
domain = "{shop}"
client_secret = "{secret}"
"""


def order_bodies(count: int) -> list[bytes]:
    """Return ``count`` orders/create bodies, each a distinct order and customer."""
    template = json.loads(
        importlib.resources.files("parley")
        .joinpath("demo_data", "orders_create.json")
        .read_bytes()
    )
    bodies = []
    for index in range(count):
        order = json.loads(json.dumps(template))
        order["id"] = 7_000_000_000_000 + index
        order["name"] = f"#{20000 + index}"
        phone = f"+1415555{index % 10000:04d}"
        email = f"customer{index}@example.com"
        order["phone"] = phone
        order["email"] = order["contact_email"] = email
        if order.get("customer"):
            order["customer"]["phone"] = phone
            order["customer"]["email"] = email
            order["customer"]["id"] = 8_000_000_000_000 + index
        bodies.append(json.dumps(order, separators=(",", ":")).encode())
    return bodies


def sign(secret: str, body: bytes) -> str:
    """Return Shopify's X-Shopify-Hmac-Sha256 for a body."""
    return base64.b64encode(
        hmac.new(secret.encode(), body, hashlib.sha256).digest()
    ).decode()


def peak_rss_mib(pid: int) -> float:
    """Return a process's peak resident set size in MiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def sent_count(path: Path) -> int:
    """Return how many messages the sandbox channel has written."""
    if not path.exists():
        return 0
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def run_once(args: argparse.Namespace) -> dict[str, float]:
    """Run one measurement and return its figures."""
    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-"))
    secret = secrets.token_hex(16)
    store = f'[store]\nurl = "{args.store_url}"' if args.store_url else ""
    config = workdir / "parley.toml"
    config.write_text(
        CONFIG.format(
            data_dir=workdir / "data",
            store=store,
            latency_ms=args.latency_ms,
            shop=SHOP_DOMAIN,
            secret=secret,
        )
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (workdir / "daemon.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "parley", "run", "-c", str(config), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        # The temporary store is encrypted with a key that exists only for this run.
        env={
            **os.environ,
            "PARLEY_PLUGINS": "sandbox,shopify",
            "PARLEY_KEYS": generate_key("bench"),
        },
    )
    try:
        wait_ready(url, process, workdir / "daemon.log")
        return _drive(
            args, url, secret, workdir / "data" / "sandbox-outbox.jsonl", process.pid
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _drive(
    args: argparse.Namespace, url: str, secret: str, sandbox_file: Path, pid: int
) -> dict[str, float]:
    bodies = order_bodies(args.count)
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    local = threading.local()

    def post(body: bytes) -> None:
        nonlocal failures
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=url, timeout=30)
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": sign(secret, body),
            "X-Shopify-Shop-Domain": SHOP_DOMAIN,
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        }
        started = time.perf_counter()
        response = client.post("/webhooks/shopify", content=body, headers=headers)
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            failures += response.status_code != 200

    interval = 1.0 / args.rate
    first = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        for index, body in enumerate(bodies):
            delay = first + index * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(post, body)

    deadline = time.monotonic() + args.timeout
    while sent_count(sandbox_file) < args.count and time.monotonic() < deadline:
        time.sleep(0.02)
    finished = time.perf_counter()
    delivered = sent_count(sandbox_file)

    ordered = sorted(latencies)
    return {
        "ack_p50_ms": statistics.median(ordered) * 1000,
        "ack_p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "events_per_second": delivered / (finished - first),
        "delivered": delivered,
        "failed_requests": failures,
        "peak_rss_mib": peak_rss_mib(pid),
    }


def main() -> None:
    """Parse arguments, run the measurements and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rate", type=float, default=100.0, help="webhooks per second to send"
    )
    parser.add_argument("--count", type=int, default=2000, help="webhooks per run")
    parser.add_argument(
        "--clients", type=int, default=16, help="concurrent client threads"
    )
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=20,
        help="simulated provider latency per send, ms",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs; the median is reported"
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for all sends"
    )
    parser.add_argument(
        "--store-url",
        default=None,
        help="PostgreSQL URL; default a temporary SQLite file",
    )
    args = parser.parse_args()

    runs = []
    for number in range(1, args.repeat + 1):
        result = run_once(args)
        runs.append(result)
        print(
            f"run {number}: "
            + ", ".join(f"{key}={value:.1f}" for key, value in result.items()),
            flush=True,
        )

    print(
        "median: "
        + ", ".join(
            f"{key}={statistics.median(r[key] for r in runs):.1f}" for key in runs[0]
        )
    )


if __name__ == "__main__":
    main()
