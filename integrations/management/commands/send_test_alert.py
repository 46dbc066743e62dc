"""`manage.py send_test_alert`: sign a token like Entra ID and POST alerts over HTTP.

The server validates the token with the production code, against the demo connection's
key set (the development key, served by the app in DEBUG). Nothing here goes around it.
One sample (`--sample`), any file (`--file`), the Resolved message of an alert sent
before (`--resolve`), or one metric rule firing on many machines at once (`--storm`).
"""

import copy
import json
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.choices import Severity
from integrations import devtokens
from integrations.demo import (
    DEMO_SLUG,
    DEMO_STORM_RULE,
    fired_payload,
    resolved_payload,
    sample_names,
    sample_payload,
)
from integrations.models import Alert, Connection
from integrations.parsing import AlertParseError, parse_alert
from integrations.summaries import incident_title

LAST = "__last__"
MAX_STORM = 10_000
STORM_SAMPLE = "metric"
STORM_RULE = DEMO_STORM_RULE
# Samples that continue an event another sample started (integrations/samples/README.md).
FOLLOW_UPS = {
    "service-health-update": "after service-health-active: same trackingId, an update",
    "service-health-resolved": "after service-health-update: same trackingId, stage Resolved",
    "service-health-rca": "after service-health-resolved: same trackingId, the RCA",
    "service-health-maintenance-complete": "after service-health-maintenance-planned",
    "resource-health-degraded": "after resource-health: the same VM, Degraded",
    "resource-health-available": "after resource-health-degraded: the same VM, Available",
    "resource-health-unknown": "after resource-health: the same VM, Unknown",
    "resource-health-updated-null": "after resource-health: Updated, health fields null",
}


NOTES = {
    "service-health": "Microsoft's test payload: trackingId TEST-TTT, already stage Resolved",
    "service-health-active": "the first notice of TEST-TTT; then -update, -resolved, -rca",
    "service-health-maintenance-planned": "maintenance TEST-MMM; then -maintenance-complete",
}


def _new_alert_id(alert_id: Any) -> str:
    """A new Alerts Management alert ID in the subscription the old one names."""
    parts = alert_id.split("/") if isinstance(alert_id, str) else []
    subscription = parts[2] if len(parts) > 2 and parts[1].lower() == "subscriptions" else ""
    subscription = subscription or "00000000-0000-0000-0000-000000000000"
    return (
        f"/subscriptions/{subscription}/providers/Microsoft.AlertsManagement/alerts/{uuid.uuid4()}"
    )


def _essentials(payload: Any) -> dict[str, Any]:
    data = payload.get("data") if isinstance(payload, dict) else None
    essentials = data.get("essentials") if isinstance(data, dict) else None
    if not isinstance(essentials, dict):
        raise CommandError("--fresh-id needs a JSON object with data.essentials.")
    return essentials


def sample_description(name: str) -> str:
    """What a sample is: its monitoring service and the title it gives its incident."""
    try:
        raw = json.dumps(sample_payload(name)).encode()
        alert = parse_alert(raw)
    except (AlertParseError, ValueError) as exc:
        return f"(does not parse: {exc})"
    line = f"{alert.monitoring_service or 'unknown service'}: {incident_title(alert)}"
    note = FOLLOW_UPS.get(name) or NOTES.get(name)
    return f"{line} [{note}]" if note else line


def _with_rule_id(payload: dict[str, Any]) -> None:
    """Give a sample whose rule has no ID (Microsoft's metric sample) the ID Azure sends.

    Real alerts always name their rule's ID; flapping (a rule firing again on the same
    resource) is recognised by it, so the demo needs one to show it.
    """
    essentials = payload["data"]["essentials"]
    rule = essentials.get("alertRule")
    if rule and not (essentials.get("alertRuleID") or essentials.get("alertRuleId")):
        subscription = essentials["alertId"].split("/")[2]
        kind = "scheduledQueryRules" if essentials.get("signalType") == "Log" else "metricAlerts"
        essentials["alertRuleID"] = (
            f"/subscriptions/{subscription}/resourceGroups/test-RG/providers/"
            f"microsoft.insights/{kind}/{rule}"
        )


def storm_payloads(count: int) -> list[dict[str, Any]]:
    """One CPU rule firing on `count` different VMs, each alert with a fresh alertId."""
    base = fired_payload(STORM_SAMPLE)
    essentials = base["data"]["essentials"]
    subscription = essentials["alertId"].split("/")[2]
    essentials["alertRule"] = STORM_RULE
    essentials["alertRuleID"] = (
        f"/subscriptions/{subscription}/resourceGroups/rg-storm/providers/"
        f"microsoft.insights/metricAlerts/{STORM_RULE}"
    )
    criterion = base["data"]["alertContext"]["condition"]["allOf"][0]
    criterion.update(
        metricName="Percentage CPU",
        metricNamespace="Microsoft.Compute/virtualMachines",
        timeAggregation="Average",
        operator="GreaterThan",
        threshold="80",
        dimensions=[],
    )
    payloads = []
    for i in range(1, count + 1):
        payload = copy.deepcopy(base)
        name = f"vm-storm-{i:03d}"
        payload["data"]["essentials"].update(
            alertId=_new_alert_id(essentials["alertId"]),
            alertTargetIDs=[
                f"/subscriptions/{subscription}/resourceGroups/rg-storm/providers/"
                f"Microsoft.Compute/virtualMachines/{name}"
            ],
            configurationItems=[name],
        )
        condition = payload["data"]["alertContext"]["condition"]
        condition["allOf"][0]["metricValue"] = round(80.5 + (i * 7) % 19, 1)
        payloads.append(payload)
    return payloads


class Command(BaseCommand):
    help = "Send signed Azure Monitor alerts to the running server (offline demo)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server's base URL")
        parser.add_argument("--connection", default=DEMO_SLUG, help="connection slug")
        what = parser.add_mutually_exclusive_group()
        what.add_argument("--sample", help="a sample by name (default: metric; --list-samples)")
        what.add_argument(
            "--file",
            type=Path,
            metavar="PATH",
            help="send this file's bytes as they are (its alert ID kept unless --fresh-id)",
        )
        what.add_argument(
            "--resolve",
            nargs="?",
            const=LAST,
            metavar="ALERT_ID",
            help="send the Resolved message for ALERT_ID (default: the alert fired last)",
        )
        what.add_argument(
            "--storm",
            type=int,
            metavar="N",
            help="one metric rule firing on N different VMs (fresh alert IDs), in parallel",
        )
        what.add_argument("--list-samples", action="store_true", help="say what each sample is")
        ids = parser.add_mutually_exclusive_group()
        ids.add_argument(
            "--fresh-id",
            action="store_true",
            help="give the alert a new alertId (the default for samples)",
        )
        ids.add_argument(
            "--keep-id",
            action="store_true",
            help="keep the alertId as written (the default for --file)",
        )
        parser.add_argument(
            "--concurrency", type=int, default=4, help="deliveries in flight with --storm"
        )
        parser.add_argument(
            "--severity",
            choices=Severity.values,
            help="send the sample with this severity (Sev0 opens a priority 1 incident)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list_samples"]:
            names = sample_names()
            width = max(len(n) for n in names)
            for name in names:
                self.stdout.write(f"{name:<{width}}  {sample_description(name)}")
            return
        connection = Connection.objects.filter(slug=options["connection"]).first()
        if connection is None:
            raise CommandError(
                f"No connection {options['connection']!r}: run `make run` (or "
                "`manage.py prepare_demo`) first."
            )
        if not settings.DEV_SIGNING_KEY_PATH.exists():
            raise CommandError("No development signing key: run `manage.py prepare_demo` first.")
        key = devtokens.load_or_create_key(settings.DEV_SIGNING_KEY_PATH)
        claims = devtokens.entra_claims(
            tenant_id=connection.tenant_id, audience=connection.audiences[0]
        )
        token = devtokens.sign(claims, key)
        url = f"{options['url'].rstrip('/')}{connection.webhook_path}"
        if options["storm"] is not None:
            self._storm(url, token, options["storm"], options["concurrency"])
            return
        body, alert_id = self._body(connection, options)
        status, answer = self._post(url, body, token)
        if 200 <= status < 300:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{status} {answer.get('status')}: incident {answer.get('incident')} "
                    f"({answer.get('incident_state')})"
                )
            )
            self.stdout.write(f"alert ID: {alert_id or answer.get('alert_id', '?')}")
            return
        raise CommandError(f"{status}: {answer.get('detail', answer)} ({answer.get('code', '')})")

    def _body(self, connection: Connection, options: dict[str, Any]) -> tuple[bytes, str]:
        """The bytes to send and the alertId they name ("" if they name none)."""
        if options["resolve"]:
            payload = resolved_payload(self._fired_body(connection, options["resolve"]))
        elif options["file"] is not None:
            try:
                raw = options["file"].read_bytes()
            except OSError as exc:
                raise CommandError(f"Cannot read {options['file']}: {exc.strerror}.") from None
            if not options["fresh_id"]:
                return raw, self._alert_id_of(raw)  # as written, valid or not
            try:
                payload = json.loads(raw)
            except ValueError:
                raise CommandError(f"{options['file']} is not JSON: --fresh-id needs it.") from None
            essentials = _essentials(payload)
            essentials["alertId"] = _new_alert_id(essentials.get("alertId"))
        else:
            name = options["sample"] or "metric"
            if name not in sample_names():
                raise CommandError(
                    f"No sample {name!r}; choose one of: {', '.join(sample_names())}."
                )
            payload = fired_payload(name)
            _with_rule_id(payload)
            if options["severity"]:
                payload["data"]["essentials"]["severity"] = options["severity"]
            if options["keep_id"]:
                payload["data"]["essentials"]["alertId"] = sample_payload(name)["data"][
                    "essentials"
                ]["alertId"]
        return json.dumps(payload).encode(), payload["data"]["essentials"]["alertId"]

    @staticmethod
    def _alert_id_of(raw: bytes) -> str:
        try:
            alert_id = json.loads(raw)["data"]["essentials"]["alertId"]
        except (ValueError, TypeError, KeyError):
            return ""
        return alert_id if isinstance(alert_id, str) else ""

    def _storm(self, url: str, token: str, count: int, concurrency: int) -> None:
        if not 1 <= count <= MAX_STORM:
            raise CommandError(f"--storm takes 1 to {MAX_STORM} alerts, not {count}.")
        if not 1 <= concurrency <= 64:
            raise CommandError(f"--concurrency takes 1 to 64, not {concurrency}.")
        payloads = storm_payloads(count)

        def send(payload: dict[str, Any]) -> tuple[str, str | None]:
            try:
                status, answer = self._post(url, json.dumps(payload).encode(), token)
            except CommandError:
                return "unreachable", None
            return f"{status} {answer.get('status') or answer.get('code', '')}", answer.get(
                "incident"
            )

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            results = list(pool.map(send, payloads))
        elapsed = time.monotonic() - started
        answers = Counter(answer for answer, _ in results)
        incidents = {number for _, number in results if number}
        self.stdout.write(
            f"Storm: {count} alerts of rule {STORM_RULE} on {count} VMs "
            f"in {elapsed:.1f} s, {concurrency} at a time"
        )
        for answer, n in sorted(answers.items()):
            self.stdout.write(f"  {answer}: {n}")
        self.stdout.write(f"incidents: {len(incidents)}")
        failed = sum(n for answer, n in answers.items() if not answer.startswith("2"))
        if failed:
            raise CommandError(f"{failed} of {count} deliveries were not accepted.")

    def _fired_body(self, connection: Connection, alert_id: str) -> dict[str, Any]:
        """The body that fired the alert, from the delivery log."""
        alerts = Alert.objects.filter(connection=connection)
        alert = (
            alerts.order_by("-created_at", "-pk").first()
            if alert_id == LAST
            else alerts.filter(alert_id=alert_id).first()
        )
        if alert is None:
            raise CommandError(
                "No alert to resolve: send one first."
                if alert_id == LAST
                else f"No alert {alert_id!r} on connection {connection.slug!r}."
            )
        delivery = alert.deliveries.order_by("received_at", "pk").first()
        if delivery is None:
            raise CommandError(f"The delivery of alert {alert.alert_id!r} was purged.")
        return json.loads(delivery.body_text)

    def _post(self, url: str, body: bytes, token: str) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(  # noqa: S310 - the URL is the operator's own server
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, json.loads(exc.read() or b"{}")
            except json.JSONDecodeError:
                return exc.code, {"detail": exc.reason}
        except urllib.error.URLError as exc:
            raise CommandError(
                f"Cannot reach {url}: {exc.reason}. Is the server running (`make run`)?"
            ) from None
