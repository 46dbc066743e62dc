"""What test modules share: fixture paths, the test tenant, payload names, and helpers.

Test modules import from here (`from tests.helpers import ...`), never from a conftest.py:
conftest files hold only pytest fixtures, and a constant lives here once rather than in
every file that needs it (tests/test_helpers_layout.py checks both).
"""

import copy
import importlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.apps import apps
from django.contrib import messages
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.management import create_contenttypes
from django.core.cache import cache
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from incidents.models import Incident
from integrations import devtokens
from tests.factories import UserFactory

# Paths.
ROOT = Path(__file__).resolve().parents[1]  # the repository
FIXTURES = Path(__file__).parent / "fixtures"
AZURE = FIXTURES / "azure"

# The test tenant: an Entra ID tenant, its app (v1 audience, v2 client id), its key set.
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
AUDIENCE = "api://itsm-test"
CLIENT_ID = "0b9d2a1c-5e43-4d6f-9a8b-7c6d5e4f3a21"
TEST_JWKS_URI = "https://login.example.test/keys"

# The subscription of the Azure samples in tests/fixtures/azure/.
SUBSCRIPTION = "aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e"
ALERTS_MANAGEMENT = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.AlertsManagement/alerts/"
VM_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourcegroups/test-RG/providers/"
    "microsoft.compute/virtualmachines/test-VM"
)

# Payload fixtures, by the names load_fixture() takes.
STATIC = "azure/platform-metric-static-threshold-fired.json"
RESOURCE_HEALTH = "azure/resource-health-fired.json"
BUDGET = "azure/budget-costalerts-actual-fired.json"
ADMIN = "azure/activity-log-administrative-fired.json"
LOG_V2 = "azure/log-alerts-v2-fired.json"
RESOLVED_FIRST = "azure/platform-metric-resolved.json"
ESSENTIALS_ONLY = "azure/alertcontext-fragments/essentials-platform-fired.json"

TIMEOUT = 30  # seconds; a broken barrier fails the test instead of hanging it

# API roles (tests/api): anonymous; `nobody` (signed in, no permission); `viewer` and
# `operator` (the groups of migration integrations.0003, not staff: API-only users);
# `staff` (an operator who may use the console, hence the staff-only endpoints); `superuser`.
ROLES = ("anonymous", "nobody", "viewer", "operator", "staff", "superuser")

# The roles as migration integrations.0003 creates them.
ROLE_PERMISSIONS = importlib.import_module("integrations.migrations.0003_roles").ROLE_PERMISSIONS

# Console pages.
INCIDENTS = "/admin/incidents/incident/"
CONNECTIONS = "/admin/integrations/connection/"
ALERTS = "/admin/integrations/alert/"
DELIVERIES = "/admin/integrations/delivery/"
CIS = "/admin/cmdb/configurationitem/"

# Clocks: a fixed instant for frozen-time tests, and the SLA tests' origin and unit.
FROZEN = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)
T0 = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


# Payloads and tokens.


def load_fixture(name: str) -> dict[str, Any]:
    """A payload from tests/fixtures/ (e.g. "azure/log-alerts-v2-fired.json")."""
    return json.loads((FIXTURES / name).read_text())


def with_essentials(name: str, **changes: Any) -> dict[str, Any]:
    """A fixture payload with some essentials changed (a value of ... removes the field)."""
    payload = copy.deepcopy(load_fixture(name))
    for key, value in changes.items():
        if value is ...:
            payload["data"]["essentials"].pop(key, None)
        else:
            payload["data"]["essentials"][key] = value
    return payload


def vm_id(name: str, resource_group: str = "rg-web") -> str:
    return (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{resource_group}/providers/"
        f"Microsoft.Compute/virtualMachines/{name}"
    )


def alert_id() -> str:
    return f"{ALERTS_MANAGEMENT}{uuid.uuid4()}"


def make_token(key: Any, *, kid: str | None = None, version: str = "1.0", **overrides: Any) -> str:
    audience = AUDIENCE if version == "1.0" else CLIENT_ID
    claims = devtokens.entra_claims(tenant_id=TENANT_ID, audience=audience, version=version)
    for name, value in overrides.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return devtokens.sign(claims, key, kid=kid)


class FakeKeySet:
    """The tenant's published key set, served to the code under test; counts fetches."""

    def __init__(self, *keys: Any) -> None:
        self.keys = list(keys)
        self.fetches = 0
        self.failing = False

    def fetch(self, uri: str, *, timeout: float) -> dict:
        self.fetches += 1
        if self.failing:
            raise OSError("key endpoint unreachable")
        return devtokens.jwks_document(*self.keys)


class AlertPoster:
    """Posts payloads to the webhook as Azure does, signed by the test tenant's key."""

    def __init__(self, client: APIClient, key: Any) -> None:
        self.client = client
        self.key = key

    def __call__(
        self,
        payload: dict | str | bytes,
        *,
        slug: str = "contoso",
        token: str | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        **claims: Any,
    ) -> Any:
        if isinstance(payload, str) and payload.endswith(".json"):
            payload = load_fixture(payload)
        body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
        token = token if token is not None else make_token(self.key, **claims)
        headers = dict(headers or {})
        if token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return self.client.generic(
            "POST",
            f"/api/integrations/azure-monitor/{slug}/",
            body,
            content_type=content_type,
            **headers,
        )


def fire(post_alert: Any, name: str, alert_id: str, **essentials: Any) -> str:
    """Post a fixture as a new alert (its own alertId); return the incident number."""
    response = post_alert(with_essentials(name, alertId=alert_id, **essentials))
    assert response.status_code == 201, response.json()
    return response.json()["incident"]


# The console's `fire` fixture (tests/admin/conftest.py): opens an incident, returns it.
Fire = Callable[..., Incident]


def is_postgres() -> bool:
    return db_connection.vendor == "postgresql"


# Users and clients.


def role_group(name: str) -> Group:
    """The `operators` or `viewers` group; made again as the migration makes it when a
    transactional test flushed the database."""
    group, created = Group.objects.get_or_create(name=name)
    if created:
        # A flush without post_migrate (after a serialized-rollback test) also removes
        # content types and permissions: make them as `migrate` does (idempotent).
        for app_config in apps.get_app_configs():
            create_contenttypes(app_config, verbosity=0)
            create_permissions(app_config, verbosity=0)
        for dotted in ROLE_PERMISSIONS[name]:
            app_label, codename = dotted.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
    return group


def make_user(role: str, username: str | None = None) -> Any:
    """A user in one of ROLES (see the comment there); None for anonymous."""
    if role == "anonymous":
        return None
    user = UserFactory(username=username or role)
    if role in ("viewer", "operator", "staff"):
        user.groups.add(role_group("viewers" if role == "viewer" else "operators"))
    if role == "staff":
        user.is_staff = True
    if role == "superuser":
        user.is_staff = user.is_superuser = True
    user.save()
    return user


def client_for(user: Any) -> APIClient:
    """An API client that authenticates as `user` with a DRF token, as scripts do."""
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def client_as(role: str, username: str | None = None) -> APIClient:
    user = make_user(role, username)
    return APIClient() if user is None else client_for(user)


def make_staff(username: str, role: str | None = None, **extra: Any) -> Any:
    """A console user: staff, in the group `role` (`operators`, `viewers`) if given."""
    user = UserFactory(username=username, is_staff=True, **extra)
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    return user


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# Responses.


def count_queries(client: Client, url: str) -> int:
    """How many SQL queries one GET of `url` takes (it must answer 200).

    What a process keeps for a minute (filter values, the dashboard's trends) is read
    afresh, so two counts compare the same work.
    """
    cache.clear()
    with CaptureQueriesContext(db_connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.content)
    return len(ctx.captured_queries)


def assert_constant_queries(client: APIClient, url: str, add_rows: Callable[[], None]) -> None:
    """The query count of `url` does not grow with the rows `add_rows` adds."""
    before = count_queries(client, url)
    add_rows()
    assert count_queries(client, url) == before


def results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def errors_of(response: Any) -> list[str]:
    if not response.context:
        return []
    return [str(m) for m in response.context["messages"] if m.level == messages.ERROR]


# Notifications: real local receivers (tests/notifications).


class HttpReceiver:
    """A loopback HTTP server that records each POST and answers from a script.

    `answers` are status codes (with an optional Retry-After: `(429, "0")`), used in turn;
    the last one repeats. `.requests` holds (path, headers, body) as received.
    """

    def __init__(self, *answers: int | tuple[int, str]) -> None:
        import http.server
        import threading

        self.answers = list(answers) or [200]
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append((self.path, dict(self.headers.items()), body))
                index = min(len(receiver.requests) - 1, len(receiver.answers) - 1)
                answer = receiver.answers[index]
                code, retry_after = answer if isinstance(answer, tuple) else (answer, "")
                self.send_response(code)
                if retry_after:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook?sig=abc"

    def json_bodies(self) -> list[Any]:
        return [json.loads(body) for _, _, body in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SilentReceiver:
    """A loopback port that takes connections and never answers (client timeouts)."""

    def __init__(self) -> None:
        import socket

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)  # the kernel completes connections; nobody reads them

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/never"

    def close(self) -> None:
        self.sock.close()


class SmtpReceiver:
    """A real SMTP server on loopback (aiosmtpd) that keeps the messages it receives."""

    def __init__(self) -> None:
        import socket

        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                import email

                message = email.message_from_bytes(envelope.original_content or envelope.content)
                receiver.messages.append((list(envelope.rcpt_tos), message))
                return "250 OK"

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()
