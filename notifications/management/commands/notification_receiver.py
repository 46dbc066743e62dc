"""A local receiver for the demo: prints each notification POSTed to it.

Point a webhook, Teams or Slack channel at http://127.0.0.1:8025/ (plain http is allowed
on loopback). Not for production: it listens on loopback only and keeps nothing.
"""

import hashlib
import hmac
import http.server
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


def describe(body: bytes) -> str:
    """One readable line for a notification in any of the three HTTP formats."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return f"(not JSON, {len(body)} bytes)"
    if isinstance(data, dict) and data.get("type") == "message":
        card = data["attachments"][0]["content"]
        texts = [b.get("text", "") for b in card.get("body", []) if b.get("type") == "TextBlock"]
        return "Teams card: " + " | ".join(texts)
    if isinstance(data, dict) and "blocks" in data:
        return f"Slack: {data.get('text', '')}"
    if isinstance(data, dict) and "event" in data:
        incident = data.get("incident") or {}
        return f"webhook: {data['event']} {incident.get('number', '')} {data.get('url', '')}"
    return json.dumps(data)[:300]


class Command(BaseCommand):
    help = "Listen on 127.0.0.1 and print the notifications received (the demo's receiver)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8025)
        parser.add_argument("--secret", default="", help="check X-ITSM-Signature with it")

    def handle(self, *args: Any, port: int, secret: str, **options: Any) -> None:
        out = self.stdout

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                line = describe(body)
                if secret:
                    expected = (
                        "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
                    )
                    ok = hmac.compare_digest(expected, self.headers.get("X-ITSM-Signature", ""))
                    line += " [signature ok]" if ok else " [BAD SIGNATURE]"
                out.write(line)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        out.write(f"Listening on http://127.0.0.1:{port}/ (Ctrl+C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
