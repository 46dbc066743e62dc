"""`manage.py send_test_alert`: sign a token like Entra ID and POST a sample alert over HTTP.

The server validates the token with the production code, against the demo connection's
key set (the development key, served by the app in DEBUG). Nothing here goes around it.
"""

import json
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations import devtokens
from integrations.demo import DEMO_SLUG, fired_payload, resolved_payload, sample_names
from integrations.models import Alert, Connection

LAST = "__last__"


class Command(BaseCommand):
    help = "Send a signed sample Azure Monitor alert to the running server (offline demo)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server's base URL")
        parser.add_argument("--connection", default=DEMO_SLUG, help="connection slug")
        parser.add_argument("--sample", default="metric", help="monitoring service sample")
        parser.add_argument(
            "--resolve",
            nargs="?",
            const=LAST,
            metavar="ALERT_ID",
            help="send the Resolved message for ALERT_ID (default: the alert fired last)",
        )
        parser.add_argument("--list-samples", action="store_true", help="list the samples")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list_samples"]:
            self.stdout.write("\n".join(sample_names()))
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
        if options["resolve"]:
            payload = resolved_payload(self._fired_body(connection, options["resolve"]))
        else:
            if options["sample"] not in sample_names():
                raise CommandError(
                    f"No sample {options['sample']!r}; choose one of: {', '.join(sample_names())}."
                )
            payload = fired_payload(options["sample"])
        claims = devtokens.entra_claims(
            tenant_id=connection.tenant_id, audience=connection.audiences[0]
        )
        token = devtokens.sign(claims, key)
        url = f"{options['url'].rstrip('/')}{connection.webhook_path}"
        status, answer = self._post(url, payload, token)
        alert_id = payload["data"]["essentials"]["alertId"]
        if 200 <= status < 300:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{status} {answer.get('status')}: incident {answer.get('incident')} "
                    f"({answer.get('incident_state')})"
                )
            )
            self.stdout.write(f"alert ID: {alert_id}")
            return
        raise CommandError(f"{status}: {answer.get('detail', answer)} ({answer.get('code', '')})")

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

    def _post(self, url: str, payload: dict[str, Any], token: str) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(  # noqa: S310 - the URL is the operator's own server
            url,
            data=json.dumps(payload).encode(),
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
