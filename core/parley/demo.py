"""``parley demo``: the whole system on the embedded default, with no setup.

The demo writes a config into a temporary directory, starts ``parley run``
as a separate process on a free 127.0.0.1 port with a SQLite store and the
sandbox channel, and talks to it only over HTTP: it posts signed Shopify
order webhooks and customer text messages, waits until the daemon has
processed each one, stops it with SIGTERM and prints each conversation as
the customer saw it, then a summary of what was sent and blocked.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import importlib.resources
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from parley.crypto import KEYS_ENV, Keyring, generate_key
from parley.errors import ParleyError
from parley.phones import mask_phone
from parley.plugins import installed_plugins
from parley.store import Store
from parley.store.records import MessageRecord

SHOP_DOMAIN = "harbor-and-pine-test.myshopify.com"
STARTUP_TIMEOUT_SECONDS = 30.0
SETTLE_TIMEOUT_SECONDS = 30.0

DEMO_CONFIG = """\
data_dir = "{data_dir}"

[plugins]
enabled = ["sandbox", "shopify"]

[business]
name = "Harbor & Pine"

[compliance]
# The demo runs at any hour, so it sends without quiet hours. Order updates
# still need informational consent, which the shop's checkout gives below.
sending_window = "00:00-00:00"

[order_updates]
channel = "sandbox"

[order_updates.templates]
confirmed = "order_confirmed"
shipped = "order_shipped"
cancelled = "order_cancelled"
refunded = "order_refunded"

[replies]
first_message = "welcome"

[templates]
welcome = "Hi {{{{First Name | there}}}}, thanks for texting {{{{Business Name}}}}. A teammate will reply shortly. Reply STOP to opt out."
order_confirmed = "Hi {{{{First Name | there}}}}, thanks for your order {{{{Order Number}}}} at {{{{Business Name}}}}! We'll text you when it ships."
order_shipped = "Good news {{{{First Name | there}}}}: order {{{{Order Number}}}} shipped with {{{{Carrier | our carrier}}}}. Track it: {{{{Tracking URL | on our website}}}}"
order_cancelled = "Hi {{{{First Name}}}}, your order {{{{Order Number}}}} has been cancelled. Reply here with any questions."
order_refunded = "Hi {{{{First Name | there}}}}, your refund of {{{{Refund Amount}}}} for order {{{{Order Number}}}} is on its way."
opt_out_confirmation = "You're unsubscribed from {{{{Business Name}}}} and will get no more texts. Reply START to resubscribe."
help = "{{{{Business Name}}}}: reply here for help. Reply STOP to opt out."

[sandbox]
outbox_file = "sandbox-outbox.jsonl"

[[shopify.shops]]
domain = "{shop}"
client_secret = "{secret}"
# A phone number given at checkout counts as consent to order updates; the
# consent ledger keeps the order id and field as evidence.
checkout_phone_is_consent = true
"""


@dataclass(frozen=True)
class Step:
    """One thing the demo sends to the daemon."""

    description: str
    path: str
    body: bytes
    headers: dict[str, str]
    expected_status: int = 200


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _demo_payload(name: str) -> bytes:
    return importlib.resources.files("parley").joinpath("demo_data", name).read_bytes()


def shopify_step(
    description: str,
    topic: str,
    payload: str,
    secret: str,
    webhook_id: str | None = None,
) -> Step:
    """Build a Shopify webhook delivery signed the way Shopify signs it."""
    body = _demo_payload(payload)
    signature = base64.b64encode(
        hmac.new(secret.encode(), body, hashlib.sha256).digest()
    ).decode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-Shop-Domain": SHOP_DOMAIN,
        "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": json.loads(body).get("updated_at")
        or json.loads(body).get("created_at"),
    }
    return Step(description, "/webhooks/shopify", body, headers)


def text_step(description: str, sender: str, text: str) -> Step:
    """Build an inbound customer text for the sandbox channel."""
    body = json.dumps(
        {"from": sender, "body": text, "id": f"demo-{uuid.uuid4().hex[:12]}"}
    ).encode()
    return Step(
        description, "/webhooks/sandbox", body, {"Content-Type": "application/json"}
    )


def demo_steps(secret: str) -> list[Step]:
    """Return the demo's story, in order."""
    created_id = str(uuid.uuid4())
    return [
        shopify_step(
            "Shopify: order #1042 created (Avery)",
            "orders/create",
            "orders_create.json",
            secret,
            created_id,
        ),
        shopify_step(
            "Shopify: the same delivery again, as Shopify retries it",
            "orders/create",
            "orders_create.json",
            secret,
            created_id,
        ),
        shopify_step(
            "Shopify: order #1042 fulfilled with UPS tracking",
            "orders/fulfilled",
            "orders_fulfilled.json",
            secret,
        ),
        text_step(
            "Avery texts the shop",
            "+14155550123",
            "Hi! Will #1042 arrive before Friday?",
        ),
        shopify_step(
            "Shopify: order #1043 cancelled (Jordan)",
            "orders/cancelled",
            "orders_cancelled.json",
            secret,
        ),
        text_step('Jordan texts "Stop please"', "+14155550147", "Stop please"),
        shopify_step(
            "Shopify: refund issued for #1043",
            "refunds/create",
            "refunds_create.json",
            secret,
        ),
        dataclasses.replace(
            shopify_step(
                "An unsigned request pretending to be Shopify",
                "orders/create",
                "orders_create.json",
                "not-the-secret",
            ),
            expected_status=401,
        ),
    ]


def run_demo(keep: bool = False, console: Console | None = None) -> int:
    """Run the demo and return the process exit code."""
    console = console or Console()
    if "shopify" not in installed_plugins():
        raise ParleyError(
            "the demo needs the bundled Shopify plugin; install it with "
            "'pip install -e plugins/shopify' (make demo does this)"
        )

    workdir = Path(tempfile.mkdtemp(prefix="parley-demo-"))
    try:
        return _run(workdir, console)
    finally:
        if keep:
            console.print(f"demo files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(workdir: Path, console: Console) -> int:
    secret = secrets.token_hex(16)
    config_path = workdir / "parley.toml"
    config_path.write_text(
        DEMO_CONFIG.format(data_dir=workdir / "data", shop=SHOP_DOMAIN, secret=secret),
        encoding="utf-8",
    )
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = workdir / "daemon.log"

    console.print(
        Panel.fit(
            "parley demo: a daemon on the sandbox channel, fed by signed Shopify webhooks"
        )
    )
    console.print(
        f"starting 'parley run' on {base_url} (log: {log_path}; "
        "'parley demo --keep' keeps it after the demo)"
    )
    # The demo's store is encrypted with a key that lives only as long as the
    # demo, so the kept data directory cannot be read after it ends.
    demo_key = generate_key("demo")
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "parley",
                "run",
                "-c",
                str(config_path),
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_demo_environment(demo_key),
        )
    store = None
    try:
        wait_ready(base_url, process, log_path)
        store = Store(
            f"sqlite:///{workdir / 'data' / 'parley.db'}",
            Keyring.parse(demo_key, "the demo key"),
        )
        unexpected = 0
        with httpx.Client(base_url=base_url, timeout=10) as client:
            for step in demo_steps(secret):
                response = client.post(
                    step.path, content=step.body, headers=step.headers
                )
                unexpected += response.status_code != step.expected_status
                console.print(
                    f"  {step.description}: [bold]{response.status_code}[/bold] {_short(response)}"
                )
                _wait_settled(store)
        messages = store.messages()
    finally:
        exit_code = _stop(process)
        if store is not None:
            store.close()

    console.print(f"daemon stopped with exit code {exit_code}")
    _print_conversations(console, messages)
    _print_summary(console, messages)
    if unexpected:
        console.print(
            f"[red]{unexpected} step(s) got an unexpected status; see {log_path}[/red]"
        )
    return 0 if exit_code == 0 and not unexpected else 1


def _demo_environment(demo_key: str) -> dict[str, str]:
    """Return the environment for the demo's daemon, without the user's PARLEY_* settings.

    The demo must never write into the user's own store or pick up their
    credentials, so every PARLEY_* variable is dropped.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith("PARLEY_")
    }
    env["PARLEY_PLUGINS"] = "sandbox,shopify"
    env[KEYS_ENV] = demo_key
    return env


def _short(response: httpx.Response) -> str:
    try:
        return json.dumps(response.json())
    except ValueError:
        return response.text


def wait_ready(
    base_url: str,
    process: subprocess.Popen[bytes],
    log_path: Path,
    timeout: float = STARTUP_TIMEOUT_SECONDS,
) -> None:
    """Wait until a ``parley run`` child process answers ``GET /readyz`` with 200.

    Raises:
        ParleyError: the process exited, or was not ready within ``timeout``
            seconds; the message ends with the tail of its log.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ParleyError(
                f"the daemon exited with code {process.returncode} before it was ready; "
                f"see {log_path}:\n{log_path.read_text()[-2000:]}"
            )
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise ParleyError(
        f"the daemon was not ready within {timeout:.0f} s; see {log_path}:\n"
        f"{log_path.read_text()[-2000:]}"
    )


def _wait_settled(store: Store) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        counts = store.counts()
        if counts["pending_events"] == 0 and counts["outbox"] == 0:
            return
        time.sleep(0.05)
    raise ParleyError("the demo daemon did not finish its work in time")


def _stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def _print_conversations(console: Console, messages: list[MessageRecord]) -> None:
    by_conversation: dict[int, list[MessageRecord]] = {}
    for message in messages:
        by_conversation.setdefault(message.conversation_id, []).append(message)

    for conversation_id, thread in by_conversation.items():
        address = thread[0].address
        lines = []
        for message in thread:
            if message.direction == "in":
                lines.append(f"[cyan]customer >[/cyan] {message.body}")
            elif message.status == "blocked":
                lines.append(
                    f"[red]not sent[/red] ({message.kind}): {message.status_reason}"
                )
            else:
                lines.append(f"[green]{'Harbor & Pine':>13} <[/green] {message.body}")
        title = f"conversation {conversation_id}: {mask_phone(address)} on {thread[0].channel}"
        console.print(Panel("\n".join(lines), title=title, title_align="left"))


def _print_summary(console: Console, messages: list[MessageRecord]) -> None:
    outbound = [m for m in messages if m.direction == "out"]
    statuses = Counter(m.status for m in outbound)
    table = Table(title="summary")
    table.add_column("outcome")
    table.add_column("messages", justify="right")
    table.add_column("why")
    table.add_row(
        "sent", str(statuses.get("sent", 0) + statuses.get("delivered", 0)), ""
    )
    reasons = Counter(m.status_reason or "" for m in outbound if m.status == "blocked")
    for reason, count in reasons.items():
        table.add_row("blocked", str(count), reason)
    for status in ("failed", "queued"):
        if statuses.get(status):
            table.add_row(status, str(statuses[status]), "")
    table.add_row(
        "received",
        str(sum(1 for m in messages if m.direction == "in")),
        "customer messages",
    )
    console.print(table)
