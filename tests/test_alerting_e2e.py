"""End to end: exporter, Prometheus with rules/, Alertmanager with the shipped config, receivers.

Real servers on loopback: the exporter on tests/fixtures/alerting/exporter.yml, the Debian
``prometheus`` and ``prometheus-alertmanager``, and local capture servers standing in for Slack,
a generic webhook, PagerDuty Events v2 and an SMTP relay. Test-only settings are derived from the
shipped files: second-scale intervals, ``for: 2s``, receiver URLs and secret files pointed at
the capture servers. Run it alone with ``scripts/alerting-e2e``.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import socketserver
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT, free_port, require_binary, wait_for_http
from exporterproc import serve_command

pytestmark = pytest.mark.integration

FIXTURES = ROOT / "tests" / "fixtures" / "alerting"
GENERATED_RULES = ROOT / "rules" / "generated"
ALERTMANAGER_DIR = ROOT / "alertmanager"
PROMETHEUS_CONFIG = ROOT / "prometheus" / "prometheus.yml"

# The alerts this test drives with real data; forecast, burn-rate and SLO alerts are covered by
# the promtool unit tests in rules/tests/ (their inputs depend on the date and on history).
E2E_ALERTS = {"BudgetThresholdReached", "BudgetExporterBadRows", "BudgetExporterDown"}
# The shipped delays, scaled down alike: `for` 2s, data alerts held 4s without data, the down
# alert held 4s after the exporter is back (the test's group_interval is 2s).
KEEP_FIRING_FOR = {"BudgetExporterDown": "4s"}
DATA_KEEP_FIRING_FOR = "4s"
# Longer than the down alert's delay plus the data alerts' hold: both mechanisms are used.
OUTAGE = 12.0
ROUTING_KEY = "e2e-routing-key"
WEBHOOK_TOKEN = "e2e-webhook-token"
WAIT = 60.0

# One hour of spend per team (budgets of 1000 USD, ops 10000 USD).
FIRING_COSTS = {"ml": 1250.0, "web": 850.0, "data": 600.0, "ops": 100.0}
RECOVERED_COSTS = {"ml": 100.0, "web": 850.0, "data": 600.0, "ops": 100.0}


# ------------------------------------------------------------------------------ capture servers


class Capture:
    """Thread-safe record of what a fake receiver got, with a bounded wait."""

    def __init__(self, name: str):
        self.name = name
        self._items: list[Any] = []
        self._changed = threading.Condition()

    def add(self, item: Any) -> None:
        with self._changed:
            self._items.append(item)
            self._changed.notify_all()

    @property
    def items(self) -> list[Any]:
        with self._changed:
            return list(self._items)

    def wait_for(self, predicate: Callable[[Any], bool], what: str, timeout: float = WAIT) -> Any:
        """The first item matching ``predicate``; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for item in self._items:
                    if predicate(item):
                        return item
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{self.name} never received {what} within {timeout}s; got "
                        f"{json.dumps(self._items, default=str)[:3000]}"
                    )
                self._changed.wait(min(left, 1.0))


class _HttpCapture(BaseHTTPRequestHandler):
    """Slack-compatible webhook, generic webhook and PagerDuty Events v2 endpoint."""

    captures: dict[str, Capture]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        capture = self.captures.get(self.path)
        if capture is None:
            self.send_error(404)
            return
        capture.add({"headers": dict(self.headers), "body": json.loads(body)})
        if self.path == "/v2/enqueue":
            reply = {"status": "success", "message": "Event processed", "dedup_key": "x"}
            self._answer(202, json.dumps(reply).encode(), "application/json")
        else:
            self._answer(200, b"ok", "text/plain")

    def _answer(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for Alertmanager's client: EHLO, MAIL, RCPT, DATA, QUIT."""

    capture: Capture

    def _reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self._reply("220 sink.test ESMTP")
        envelope: dict[str, Any] = {"to": []}
        while line := self.rfile.readline():
            command = line.decode(errors="replace").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self._reply("250-sink.test")
                self._reply("250 8BITMIME")
            elif verb == "HELO":
                self._reply("250 sink.test")
            elif verb == "MAIL":
                envelope = {"from": command[10:].strip("<> "), "to": []}
                self._reply("250 OK")
            elif verb == "RCPT":
                envelope["to"].append(command[8:].strip("<> "))
                self._reply("250 OK")
            elif verb == "DATA":
                self._reply("354 End data with <CR><LF>.<CR><LF>")
                data = bytearray()
                while (chunk := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                message = email.message_from_bytes(bytes(data), policy=email.policy.default)
                self.capture.add({**envelope, "message": message})
                self._reply("250 OK queued")
            elif verb == "QUIT":
                self._reply("221 Bye")
                return
            elif verb in ("RSET", "NOOP"):
                self._reply("250 OK")
            else:
                self._reply("502 Command not implemented")


@contextmanager
def capture_servers() -> Iterator[tuple[int, int, dict[str, Capture]]]:
    """HTTP and SMTP capture servers on free loopback ports; yields (http, smtp, captures)."""
    captures = {
        "/slack": Capture("Slack"),
        "/webhook": Capture("generic webhook"),
        "/v2/enqueue": Capture("PagerDuty"),
        "smtp": Capture("SMTP sink"),
    }
    handler = type("Handler", (_HttpCapture,), {"captures": captures})
    http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler_class = type("Smtp", (_SmtpHandler,), {"capture": captures["smtp"]})
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    smtp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler_class)
    smtp.daemon_threads = True
    threads = [
        threading.Thread(target=server.serve_forever, daemon=True) for server in (http, smtp)
    ]
    for thread in threads:
        thread.start()
    try:
        yield http.server_address[1], smtp.server_address[1], captures
    finally:
        for server in (http, smtp):
            server.shutdown()
            server.server_close()


# ------------------------------------------------------------------------- derived test configs


def write_costs(path: Path, hour: datetime, costs: dict[str, float], bad_row: bool) -> None:
    """One hourly row per team at ``hour`` (UTC); optionally a row the exporter must reject."""
    lines = ["date,cost,team"]
    lines += [f"{hour.isoformat()},{cost},{team}" for team, cost in costs.items()]
    if bad_row:
        lines.append("yesterday-ish,5,ml")
    temporary = path.with_suffix(".tmp")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def spend_hour(now: datetime) -> tuple[datetime, str]:
    """A whole hour of the current month that has passed, and the time zone that makes it so.

    In the first hours of a UTC month no whole hour has passed yet; a zone 14 hours ahead
    started its month earlier.
    """
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return hour, ("UTC" if hour >= month_start else "Pacific/Kiritimati")


def derive_rules(folder: Path) -> str:
    """The shipped alert rules the test drives, with `for` shortened to 2s; returns a glob."""
    folder.mkdir()
    for path in sorted(GENERATED_RULES.glob("*.rules.yml")):
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in content["groups"]:
            group["rules"] = [rule for rule in group["rules"] if rule.get("alert") in E2E_ALERTS]
            for rule in group["rules"]:
                rule["for"] = "2s"
                rule["keep_firing_for"] = KEEP_FIRING_FOR.get(rule["alert"], DATA_KEEP_FIRING_FOR)
        content["groups"] = [group for group in content["groups"] if group["rules"]]
        if content["groups"]:
            (folder / path.name).write_text(yaml.safe_dump(content), encoding="utf-8")
    return str(folder / "*.rules.yml")


def derive_prometheus_config(path: Path, rules_glob: str, exporter: str, alertmanager: str) -> None:
    """The shipped prometheus.yml with loopback targets and second-scale intervals."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    config["global"].update(
        {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
    )
    config["rule_files"] = [rules_glob]
    config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [alertmanager]}]
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "budget-exporter"]
    job["static_configs"] = [{"targets": [exporter]}]
    path.write_text(yaml.safe_dump(config), encoding="utf-8")


def derive_alertmanager_config(path: Path, secrets: Path, http_port: int, smtp_port: int) -> None:
    """The shipped alertmanager.yml with receivers and secret files pointed at the captures."""
    config = yaml.safe_load((ALERTMANAGER_DIR / "alertmanager.yml").read_text(encoding="utf-8"))
    base = f"http://127.0.0.1:{http_port}"
    secrets.mkdir()
    contents = {
        "slack_api_url_file": f"{base}/slack",
        "smtp_auth_password_file": "e2e-smtp-password",
        "routing_key_file": ROUTING_KEY,
        "credentials_file": WEBHOOK_TOKEN,
    }

    def redirect(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in contents:
                    secret = secrets / key
                    secret.write_text(contents[key], encoding="utf-8")
                    node[key] = str(secret)
                elif key.endswith("_file") and isinstance(value, str):
                    raise AssertionError(f"unexpected secret file setting {key}")
                else:
                    redirect(value)
        elif isinstance(node, list):
            for item in node:
                redirect(item)

    redirect(config)
    config["global"].update(
        {
            "smtp_smarthost": f"127.0.0.1:{smtp_port}",
            "smtp_require_tls": False,
            "pagerduty_url": f"{base}/v2/enqueue",
        }
    )
    config["templates"] = [str(ALERTMANAGER_DIR / pattern) for pattern in config["templates"]]
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = f"{base}/webhook"

    def fast(route: dict[str, Any]) -> None:
        for key, value in (("group_wait", "1s"), ("group_interval", "2s")):
            if key in route or route is config["route"]:
                route[key] = value
        if "repeat_interval" in route:
            route["repeat_interval"] = "1h"
        for child in route.get("routes", []):
            fast(child)

    fast(config["route"])
    path.write_text(yaml.safe_dump(config), encoding="utf-8")


@contextmanager
def running(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server process until the block ends."""
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def running_alertmanager(
    binary: str, folder: Path, http_port: int, smtp_port: int
) -> Iterator[str]:
    """Alertmanager with the derived config on a free port; yields its HOST:PORT, once ready."""
    port = free_port()
    derive_alertmanager_config(folder / "am.yml", folder / "secrets", http_port, smtp_port)
    command = [
        binary,
        f"--config.file={folder / 'am.yml'}",
        f"--storage.path={folder / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with running(command, folder / "alertmanager.log"):
        wait_for_http(f"http://127.0.0.1:{port}/-/ready")
        yield f"127.0.0.1:{port}"


# ----------------------------------------------------------------------------- message helpers


def slack_text(item: dict[str, Any]) -> str:
    attachment = item["body"]["attachments"][0]
    return f"{attachment['title']}\n{attachment['text']}"


def slack_titled(prefix: str) -> Callable[[dict[str, Any]], bool]:
    return lambda item: item["body"]["attachments"][0]["title"].startswith(prefix)


def webhook_alerts(capture: Capture) -> set[tuple[str, str, str, str]]:
    """(status, alertname, budget, severity) of every alert the webhook received."""
    return {
        (
            alert["status"],
            alert["labels"]["alertname"],
            alert["labels"].get("budget", ""),
            alert["labels"].get("severity", ""),
        )
        for item in capture.items
        for alert in item["body"]["alerts"]
    }


def plain_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "the email has no text part"
    return str(part.get_content())


# ------------------------------------------------------------------------------------- the test


def test_alerts_reach_their_receivers_hold_through_an_outage_and_resolve(tmp_path: Path):
    prometheus = require_binary("prometheus")
    alertmanager = require_binary("prometheus-alertmanager")

    now = datetime.now(UTC)
    hour, zone = spend_hour(now)
    exporter_config = yaml.safe_load((FIXTURES / "exporter.yml").read_text(encoding="utf-8"))
    exporter_config["timezone"] = zone
    (tmp_path / "exporter.yml").write_text(yaml.safe_dump(exporter_config), encoding="utf-8")
    costs = tmp_path / "costs.csv"
    write_costs(costs, hour, FIRING_COSTS, bad_row=True)
    exporter_port = free_port()
    exporter_url = f"http://127.0.0.1:{exporter_port}"
    exporter_command = serve_command(tmp_path / "exporter.yml", tmp_path / "state", exporter_port)

    with ExitStack() as stack:
        http_port, smtp_port, captures = stack.enter_context(capture_servers())
        slack, webhook = captures["/slack"], captures["/webhook"]
        pagerduty, smtp = captures["/v2/enqueue"], captures["smtp"]

        am_address = stack.enter_context(
            running_alertmanager(alertmanager, tmp_path, http_port, smtp_port)
        )

        exporter_stack = stack.enter_context(ExitStack())
        exporter_stack.enter_context(running(exporter_command, tmp_path / "exporter-1.log"))
        wait_for_http(f"{exporter_url}/-/ready")

        prometheus_port = free_port()
        rules = derive_rules(tmp_path / "rules")
        derive_prometheus_config(
            tmp_path / "prometheus.yml",
            rules,
            exporter_url.removeprefix("http://"),
            am_address,
        )
        stack.enter_context(
            running(
                [
                    prometheus,
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
                    f"--web.listen-address=127.0.0.1:{prometheus_port}",
                ],
                tmp_path / "prometheus.log",
            )
        )
        wait_for_http(f"http://127.0.0.1:{prometheus_port}/-/ready")

        # Firing: Slack gets the emergency, warning and notice of three different budgets,
        # with the figures; the exporter's own notice goes to its operators' channel.
        emergency = slack.wait_for(
            slack_titled("[FIRING:1] BudgetThresholdReached (emergency) budget ml-platform"),
            "ml-platform's emergency threshold",
        )
        text = slack_text(emergency)
        assert emergency["body"]["channel"] == "#budgets"
        assert emergency["body"]["attachments"][0]["fallback"] == (
            "[FIRING:1] BudgetThresholdReached (emergency) budget ml-platform"
        )
        assert "reached its emergency threshold, 120% of its limit." in text
        assert "• *Spent:* 1,250.00 USD of 1,000.00 USD (125%) this monthly period" in text
        assert "• *Over the limit by:* 250.00 USD" in text
        assert "• *Limit reached:* " in text
        assert "• *Scope:* cost_center=cc-240 team=ml" in text
        assert (
            "<http://localhost:3000/d/budget-detail/budget-detail?var-budget=ml-platform"
            "|open the dashboard>" in text
        )
        assert "runbooks.md#budgetthresholdreached|runbook>" in text

        warning = slack.wait_for(
            slack_titled("[FIRING:1] BudgetThresholdReached (warning) budget web"), "web's warning"
        )
        assert "• *Spent:* 850.00 USD of 1,000.00 USD (85%) this monthly period" in slack_text(
            warning
        )
        assert "reached its warning threshold, 80% of its limit." in slack_text(warning)
        notice = slack.wait_for(
            slack_titled("[FIRING:1] BudgetThresholdReached (notice) budget data"), "data's notice"
        )
        assert "• *Spent:* 600.00 USD of 1,000.00 USD (60%)" in slack_text(notice)
        bad_rows = slack.wait_for(
            slack_titled("[FIRING:1] BudgetExporterBadRows (notice) provider billing"),
            "the bad rows notice",
        )
        assert bad_rows["body"]["channel"] == "#budget-exporter-ops"
        assert "rejected 1 row(s) in its last refresh" in slack_text(bad_rows)

        # Email: warning and up, to the escalation list as well for the emergency.
        mail = smtp.wait_for(
            lambda m: "(emergency): budget ml-platform" in m["message"]["Subject"],
            "the emergency mail",
        )
        assert mail["message"]["Subject"] == (
            "[FIRING] BudgetThresholdReached (emergency): budget ml-platform"
        )
        assert mail["to"] == ["finops@example.com", "finance-leadership@example.com"]
        body = plain_body(mail["message"])
        assert "Spent: 1,250.00 USD of 1,000.00 USD (125%) this monthly period" in body
        assert "Over the limit by: 250.00 USD" in body
        assert "Dashboard: http://localhost:3000/d/budget-detail/" in body
        html = mail["message"].get_body(preferencelist=("html",))
        assert html is not None, "the email has no HTML part"
        assert "Spent: 1,250.00 USD of 1,000.00 USD (125%)" in html.get_content()
        smtp.wait_for(lambda m: "(warning): budget web" in m["message"]["Subject"], "web's mail")

        # PagerDuty: the emergency only, as an Events v2 trigger of severity critical.
        trigger = pagerduty.wait_for(
            lambda e: e["body"]["event_action"] == "trigger", "a PagerDuty trigger"
        )["body"]
        assert trigger["routing_key"] == ROUTING_KEY
        assert trigger["payload"]["severity"] == "critical"
        assert trigger["payload"]["source"] == "budget-exporter"
        assert trigger["payload"]["component"] == "ml-platform"
        assert trigger["payload"]["summary"] == (
            "BudgetThresholdReached (emergency) budget ml-platform: Budget ml-platform reached "
            "its emergency threshold, 120% of its limit."
        )
        assert "Over the limit by: 250.00 USD" in trigger["payload"]["custom_details"]["facts"]
        assert {link["text"] for link in trigger["links"]} == {"Dashboard", "Runbook"}

        # The generic webhook gets every alert not inhibited, with the bearer token.
        webhook.wait_for(
            lambda item: any(
                alert["labels"]["alertname"] == "BudgetExporterBadRows"
                for alert in item["body"]["alerts"]
            ),
            "the bad rows alert",
        )
        for budget, severity in (("ml-platform", "emergency"), ("web", "warning")):
            webhook.wait_for(
                lambda item, b=budget, s=severity: any(
                    (a["labels"].get("budget"), a["labels"]["severity"]) == (b, s)
                    for a in item["body"]["alerts"]
                ),
                f"{budget}'s {severity}",
            )
        assert {item["headers"]["Authorization"] for item in webhook.items} == {
            f"Bearer {WEBHOOK_TOKEN}"
        }

        # Outage: the exporter stops for longer than BudgetExporterDown's delay and the data
        # alerts' hold, then comes back on the same address. Its operators hear of it; nothing
        # else resolves or pages again.
        before = len(slack.items), len(pagerduty.items), len(smtp.items)
        exporter_stack.close()
        stopped = time.monotonic()
        down = slack.wait_for(
            slack_titled("[FIRING:1] BudgetExporterDown (warning)"), "the exporter down alert"
        )
        assert down["body"]["channel"] == "#budget-exporter-ops"
        assert "none resolves and none newly fires" in slack_text(down)
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped)))
        exporter_stack.enter_context(running(exporter_command, tmp_path / "exporter-2.log"))
        wait_for_http(f"{exporter_url}/-/ready")
        slack.wait_for(slack_titled("[RESOLVED] BudgetExporterDown (warning)"), "the exporter back")
        # Settled: Prometheus fires ml-platform's emergency again, and Alertmanager has had
        # two group intervals to send whatever it would send about it.
        wait_for_prometheus_alert(prometheus_port, "ml-platform", "emergency")
        time.sleep(4 * 2.0)
        during = slack.items[before[0] :]
        assert [slack_text(i) for i in during if "BudgetExporter" not in slack_text(i)] == []
        assert pagerduty.items[before[1] :] == []
        assert smtp.items[before[2] :] == []

        # Recovery: ml-platform back to 10% and no bad row; resolved notifications follow.
        write_costs(costs, hour, RECOVERED_COSTS, bad_row=False)
        resolved = slack.wait_for(
            slack_titled("[RESOLVED] BudgetThresholdReached (emergency) budget ml-platform"),
            "ml-platform resolved",
        )
        assert "Back to normal. Last figures:" in slack_text(resolved)
        assert "• *Spent:*" in slack_text(resolved)
        slack.wait_for(
            slack_titled("[RESOLVED] BudgetExporterBadRows (notice) provider billing"),
            "bad rows resolved",
        )
        resolve = pagerduty.wait_for(
            lambda e: e["body"]["event_action"] == "resolve", "a PagerDuty resolve"
        )["body"]
        assert resolve["dedup_key"] == trigger["dedup_key"]
        smtp.wait_for(
            lambda m: m["message"]["Subject"].startswith("[RESOLVED] BudgetThresholdReached"),
            "the resolved mail",
        )
        webhook.wait_for(
            lambda item: (
                item["body"]["status"] == "resolved"
                and item["body"]["commonLabels"].get("budget") == "ml-platform"
            ),
            "ml-platform resolved",
        )

        # Inhibited alerts never reached anyone: ml-platform's critical, warning and notice
        # (under its emergency) and web's notice (under its warning).
        delivered = webhook_alerts(webhook)
        inhibited = {
            ("BudgetThresholdReached", "ml-platform", "critical"),
            ("BudgetThresholdReached", "ml-platform", "warning"),
            ("BudgetThresholdReached", "ml-platform", "notice"),
            ("BudgetThresholdReached", "web", "notice"),
        }
        assert {alert[1:] for alert in delivered} & inhibited == set()
        assert ("firing", "BudgetThresholdReached", "data", "notice") in delivered
        slack_titles = {item["body"]["attachments"][0]["title"] for item in slack.items}
        for muted in ("(critical) budget ml-platform", "(warning) budget ml-platform"):
            assert not [t for t in slack_titles if muted in t]
        assert not [t for t in slack_titles if "(notice) budget ml-platform" in t]
        assert not [t for t in slack_titles if "(notice) budget web" in t]
        assert "ops" not in {alert[2] for alert in delivered}
        assert len([e for e in pagerduty.items if e["body"]["event_action"] == "trigger"]) == 1
        subjects = {m["message"]["Subject"] for m in smtp.items}
        assert not [s for s in subjects if "budget data" in s], subjects

        # Every rendered notification reads like a person wrote it.
        rendered = [slack_text(item) for item in slack.items]
        rendered += [plain_body(m["message"]) for m in smtp.items]
        rendered += [
            e["body"]["payload"]["summary"] + "\n" + e["body"]["payload"]["custom_details"]["facts"]
            for e in pagerduty.items
            if e["body"]["event_action"] == "trigger"
        ]
        rendered += [
            alert["annotations"]["description"] + "\n" + alert["annotations"].get("facts", "")
            for item in webhook.items
            for alert in item["body"]["alerts"]
        ]
        for message in rendered:
            assert_reads_well(message)


SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")
FIGURE = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?: (?!UTC)[A-Z]{3}|%|x)")


def assert_reads_well(message: str) -> None:
    """No number in scientific notation, no "n/a", no empty line, no figure twice."""
    assert not SCIENTIFIC.search(message), message
    assert "n/a" not in message, message
    lines = message.strip().split("\n")
    assert "" not in [line.strip() for line in lines], message
    # Per alert of a notification (each starts with its status), each figure once.
    for block in re.split(r"\n(?=\*?(?:FIRING|RESOLVED): )", message):
        figures = FIGURE.findall(block)
        assert len(figures) == len(set(figures)), (figures, block)


def wait_for_prometheus_alert(port: int, budget: str, severity: str) -> None:
    """Until Prometheus has the budget's alert of that severity firing."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=5) as r:
            alerts = json.loads(r.read())["data"]["alerts"]
        if any(
            a["labels"].get("budget") == budget
            and a["labels"].get("severity") == severity
            and a["state"] == "firing"
            for a in alerts
        ):
            return
        time.sleep(0.5)
    raise AssertionError(f"Prometheus never fired {budget}'s {severity} again")


def _alert(name: str, kind: str, severity: str, **labels: str) -> dict[str, Any]:
    """An alert as the rules would send it, with the annotations the templates read."""
    return {
        "labels": {"alertname": name, "kind": kind, "severity": severity, **labels},
        "annotations": {
            "summary": f"{name} summary",
            "description": f"{name} description",
            "runbook_url": f"https://example.com/runbooks.md#{name.lower()}",
            "dashboard_url": "http://localhost:3000/d/x",
        },
    }


def _post_alerts(address: str, alerts: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(
        f"http://{address}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def identity(alert: dict[str, Any]) -> tuple[str, ...]:
    """Alert name, severity and what it is about: enough to tell the test's alerts apart."""
    labels = alert["labels"]
    keys = ("alertname", "severity", "budget", "slo", "provider", "instance")
    return tuple(labels.get(key, "") for key in keys)


def _carries(wanted: tuple[str, ...]) -> Callable[[dict[str, Any]], bool]:
    """A webhook notification that carries the alert identified by ``wanted``."""
    return lambda item: any(identity(got) == wanted for got in item["body"]["alerts"])


def test_inhibition_rules_silence_what_they_should_and_nothing_else(tmp_path: Path):
    alertmanager = require_binary("prometheus-alertmanager")
    exporter_a = {"job": "budget-exporter", "instance": "exporter-a:10098"}
    exporter_b = {"job": "budget-exporter", "instance": "exporter-b:10098"}
    sources = [
        _alert("BudgetExporterDown", "exporter", "warning", **exporter_a),
        _alert("BudgetThresholdReached", "money", "critical", budget="b1", **exporter_b),
        _alert("SLOErrorBudgetBurn", "error_budget", "critical", slo="s1", long="1h", short="5m"),
        _alert("BudgetExporterProviderFailing", "exporter", "warning", provider="p1", **exporter_b),
    ]
    silenced = [
        *(
            _alert("BudgetThresholdReached", "money", rung, budget="b4", **exporter_b)
            for rung in ("notice", "warning", "critical")
        ),
        # Computed from the data of an exporter that is down, even a critical one.
        _alert("BudgetThresholdReached", "money", "critical", budget="b0", **exporter_a),
        _alert("BudgetExporterBadRows", "exporter", "notice", provider="p0", **exporter_a),
        # Confirmed by b1's spend reaching its limit.
        _alert("BudgetForecastOverrun", "money", "warning", budget="b1", **exporter_b),
        _alert("BudgetExhaustionProjected", "money", "warning", budget="b1", **exporter_b),
        # A ticket under the page of the same SLO.
        _alert("SLOErrorBudgetBurn", "error_budget", "warning", slo="s1", long="1d", short="2h"),
        # Explained by its failing provider.
        _alert("BudgetExporterDataStale", "exporter", "warning", provider="p1", **exporter_b),
    ]
    delivered = [
        # Another family of b1: its critical threshold does not hide an unusual day.
        _alert("BudgetCostAnomaly", "money", "notice", budget="b1", **exporter_b),
        # The top rung of a four-level ladder gets through; the three below it do not.
        _alert("BudgetThresholdReached", "money", "emergency", budget="b4", **exporter_b),
        _alert("BudgetForecastOverrun", "money", "warning", budget="b2", **exporter_b),
        _alert("SLOErrorBudgetBurn", "error_budget", "warning", slo="s2", long="1d", short="2h"),
        _alert("BudgetExporterDataStale", "exporter", "warning", provider="p2", **exporter_b),
        # No budget label on either side: the budget inhibitions must not match on "" == "".
        _alert("SLOErrorBudgetExhausted", "error_budget", "warning", slo="s3"),
    ]

    with ExitStack() as stack:
        http_port, smtp_port, captures = stack.enter_context(capture_servers())
        webhook = captures["/webhook"]
        address = stack.enter_context(
            running_alertmanager(alertmanager, tmp_path, http_port, smtp_port)
        )
        _post_alerts(address, sources + silenced + delivered)
        for alert in sources + delivered:
            webhook.wait_for(_carries(identity(alert)), f"{identity(alert)}")
        # Every group of the first batch has been flushed once a later alert got through.
        sentinel = _alert("BudgetCostAnomaly", "money", "notice", budget="sentinel")
        _post_alerts(address, [sentinel])
        webhook.wait_for(
            lambda item: item["body"]["commonLabels"].get("budget") == "sentinel", "the sentinel"
        )
        received = {identity(got) for item in webhook.items for got in item["body"]["alerts"]}
        assert received & {identity(alert) for alert in silenced} == set()
