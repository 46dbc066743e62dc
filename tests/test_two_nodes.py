"""Two app nodes, one PostgreSQL database, behind HAProxy: what scaling out must not break.

Each node is `gunicorn itsm.wsgi` (2 workers, production settings, its own SPOOL_DIR)
with its own `manage.py run_worker`; HAProxy runs docs/examples/haproxy.cfg (round
robin, X-Forwarded-For added, X-Served-By telling which node answered), and the nodes
trust it (TRUSTED_PROXIES=127.0.0.1). The nodes share a database of their own,
migrated at the start, dropped at the end. Clients connect from other loopback
addresses (127.0.0.2, 127.0.0.3) to be told apart from the proxy.
"""

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection as db_connection
from django.db import connections
from rest_framework.authtoken.models import Token

from incidents.choices import IncidentState, JournalKind
from incidents.models import Incident, JournalEntry
from integrations import devtokens
from integrations.models import Alert, Connection, MaintenanceWindow
from tests.helpers import AUDIENCE, CLIENT_ID, ROOT, STATIC, TENANT_ID, make_token, vm_id
from tests.helpers import with_essentials as payload_of
from tests.nodes import HAPROXY, Answer, JwksServer, Node, Proxy, request, wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.live,
    pytest.mark.skipif(not os.access(HAPROXY, os.X_OK), reason="needs HAProxy"),
]

DB = "nodes"  # the nodes' database, as this process names it
CACHE_SECONDS = 2.0  # CONNECTION_CACHE_SECONDS on the nodes (default 15)
FAILURES_PER_MINUTE = 3  # WEBHOOK_AUTH_FAILURES_PER_MINUTE on the nodes
LOGIN_FAILURES = 3  # LOGIN_FAILURE_LIMIT on the nodes
WEBHOOK = "/api/integrations/azure-monitor/contoso/"
# What Azure Monitor retries (docs/azure-setup.md); never a 502.
AZURE_RETRIES = {408, 429, 503, 504}
CLIENT_A, CLIENT_B = "127.0.0.2", "127.0.0.3"


@dataclass
class Cluster:
    nodes: list[Node]
    proxy: Proxy
    signing_key: Any
    api_token: str

    @property
    def url(self) -> str:
        return self.proxy.url

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)


def _create_database(name: str, env: dict[str, str]) -> None:
    """A new database for the nodes, migrated as on an installation."""
    with db_connection._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=180,
    )


def _drop_database(name: str) -> None:
    connections[DB].close()
    with db_connection._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _workers_registered() -> int:
    with connections[DB].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM procrastinate_workers")
        return int(cursor.fetchone()[0])


@pytest.fixture(scope="module")
def cluster(django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if db_connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: the nodes share one database server")
    folder = tmp_path_factory.mktemp("two-nodes")
    signing_key = devtokens.generate_key()
    jwks = JwksServer(devtokens.jwks_document(signing_key))
    nodes: list[Node] = []
    proxy: Proxy | None = None
    with django_db_blocker.unblock():
        settings_dict = db_connection.settings_dict
        name = f"test_{settings_dict['NAME'].removeprefix('test_')}_nodes"
        connections.settings[DB] = {**settings_dict, "NAME": name}
        try:
            env = {
                **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")},
                "DJANGO_SETTINGS_MODULE": "tests.node_settings",
                "ITSM_DOTENV_PATH": "",
                "DJANGO_SECRET_KEY": "two-nodes-test-secret-0123456789-abcdefghijklmnopq",
                "DJANGO_DEBUG": "0",
                "DJANGO_SECURE_COOKIES": "0",
                "DATABASE_URL": (
                    f"postgres://{settings_dict['USER']}:{settings_dict['PASSWORD'] or ''}@"
                    f"{settings_dict['HOST']}:{settings_dict['PORT']}/{name}"
                ),
                "TRUSTED_PROXIES": "127.0.0.1",
                "CONNECTION_CACHE_SECONDS": str(CACHE_SECONDS),
                "WEBHOOK_AUTH_FAILURES_PER_MINUTE": str(FAILURES_PER_MINUTE),
                "LOGIN_FAILURE_LIMIT": str(LOGIN_FAILURES),
                "JOBS_POLL_SECONDS": "0.5",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
            _create_database(name, env)
            Connection.objects.using(DB).create(
                slug="contoso",
                name="Contoso production",
                tenant_id=TENANT_ID,
                audiences=[AUDIENCE, CLIENT_ID],
                jwks_uri=jwks.uri,
            )
            users = get_user_model().objects.db_manager(DB)
            admin = users.create_superuser("root", password="root-password-123")
            # Hashed as the nodes hash (the tests' own settings use a fast hasher).
            users.create(
                username="olga",
                password=PBKDF2PasswordHasher().encode("right-password-123", "two-nodes-salt"),
                is_staff=True,
            )
            api_token = Token.objects.using(DB).create(user=admin).key
            for n in (1, 2):
                node_folder = folder / f"node{n}"
                node_folder.mkdir()
                nodes.append(Node(f"node{n}", env, node_folder))
            for node in nodes:
                node.start()
            for node in nodes:
                wait_for(node.ready, 90, f"{node.name} to answer /healthz and /readyz")
            wait_for(lambda: _workers_registered() >= 2, 60, "both job workers")
            proxy = Proxy(nodes, folder)
            proxy.start()
            wait_for(proxy.serves_all, 30, "HAProxy to send requests to both nodes")
            yield Cluster(nodes, proxy, signing_key, api_token)
        finally:
            if proxy is not None:
                proxy.stop()
            for node in nodes:
                node.stop()
            jwks.close()
            _drop_database(name)
            del connections.settings[DB]


@pytest.fixture
def nodes_db(django_db_blocker: Any) -> Iterator[None]:
    """Lets the test read the nodes' database through the ORM (`.using(DB)`)."""
    with django_db_blocker.unblock():
        yield


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _alert(n: int, *, rule: str, resource_group: str, **changes: Any) -> dict:
    """Alert `n` of `rule`, firing now on a VM of its own (one target: no flapping)."""
    return payload_of(
        STATIC,
        alertId=f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{rule}-{n}",
        alertRule=rule,
        alertTargetIDs=[vm_id(f"vm-{rule}-{n}", resource_group)],
        firedDateTime=_now(),
        **changes,
    )


def _resolved(payload: dict) -> dict:
    resolved = json.loads(json.dumps(payload))
    resolved["data"]["essentials"].update(monitorCondition="Resolved", resolvedDateTime=_now())
    return resolved


def _webhook(
    cluster: Cluster, payload: dict, *, base: str | None = None, source: str = "127.0.0.1"
) -> Answer:
    token = make_token(cluster.signing_key)
    return request(
        base or cluster.url,
        "POST",
        WEBHOOK,
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        source=source,
    )


def _deliver(cluster: Cluster, payload: dict, *, attempts: int = 8) -> tuple[Answer, int]:
    """Deliver as Azure does: again after network errors and 408/429/503/504, not after 502."""
    for attempt in range(1, attempts + 1):
        try:
            answer = _webhook(cluster, payload)
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, no status line
            if attempt == attempts:
                raise AssertionError(f"no answer after {attempts} attempts: {exc!r}") from exc
        else:
            if answer.status not in AZURE_RETRIES or attempt == attempts:
                return answer, attempt
        time.sleep(0.5)
    raise AssertionError("unreachable")


def _storm(
    cluster: Cluster, payloads: list[dict], *, during: Callable[[int], None] | None = None
) -> list[tuple[Answer, int]]:
    """Deliver `payloads` 8 at a time; `during(done)` runs after each answer."""
    answers: list[tuple[Answer, int]] = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(_deliver, cluster, payload) for payload in payloads]
        for future in as_completed(futures):
            answers.append(future.result())
            if during is not None:
                during(len(answers))
    return answers


def _api(cluster: Cluster, method: str, path: str, body: dict, *, base: str) -> Answer:
    return request(
        base,
        method,
        path,
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {cluster.api_token}"},
    )


def _incidents_of(rule: str) -> list[int | None]:
    return list(
        Alert.objects.using(DB).filter(alert_rule=rule).values_list("incident_id", flat=True)
    )


def test_two_nodes_storm_and_resolutions_give_one_incident_per_alert(
    cluster: Cluster, nodes_db: None
) -> None:
    fired = [_alert(n, rule="storm", resource_group="rg-storm") for n in range(40)]
    opened = _storm(cluster, fired)
    resolved = _storm(cluster, [_resolved(p) for p in fired])

    for answers in (opened, resolved):
        assert all(a.status in (200, 201) for a, _ in answers), [a.body for a, _ in answers]
        assert Counter(a.node for a, _ in answers).keys() == {"node1", "node2"}
    assert Counter(a.json()["status"] for a, _ in opened) == {"created": 40}
    incident_ids = _incidents_of("storm")
    assert len(incident_ids) == len(set(incident_ids)) == 40  # none missing, none shared
    states = Incident.objects.using(DB).filter(pk__in=incident_ids).values_list("state", flat=True)
    assert Counter(states) == {IncidentState.RESOLVED: 40}


def test_two_nodes_correlation_rule_made_on_one_node_groups_on_the_other_within_the_cache_delay(
    cluster: Cluster, nodes_db: None
) -> None:
    node1, node2 = cluster.node("node1"), cluster.node("node2")
    # node2 has read the (absent) rules: the first alert opens its own incident.
    first = _webhook(cluster, _alert(0, rule="grouped", resource_group="rg-a"), base=node2.url)
    assert first.status == 201, first.body

    rule = {
        "name": "grouped per resource group",
        "connection": "contoso",
        "match": {"alert_rules": ["grouped"]},
        "group_by": ["alert_rule", "resource_group"],
    }
    created = _api(cluster, "POST", "/api/correlation-rules/", rule, base=node1.url)
    assert created.status == 201, created.body
    made_at = time.monotonic()
    answers = []
    for n in range(1, 60):
        answer = _webhook(cluster, _alert(n, rule="grouped", resource_group="rg-a"), base=node2.url)
        answers.append((time.monotonic() - made_at, answer.json()["incident"]))
        if len(answers) >= 2 and answers[-1][1] == answers[-2][1]:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"node2 never applied the rule: {answers}")
    seen_after = answers[-2][0]
    assert seen_after <= CACHE_SECONDS + 3.0, answers  # the documented delay, and slack

    # Past the delay every process of both nodes has the rule: a storm over both nodes
    # groups, one incident per resource group, none duplicated.
    time.sleep(max(0.0, made_at + CACHE_SECONDS + 0.5 - time.monotonic()))
    storm = [_alert(n, rule="grouped", resource_group=f"rg-{'bc'[n % 2]}") for n in range(100, 140)]
    answers_storm = _storm(cluster, storm)
    assert all(a.status in (200, 201) for a, _ in answers_storm)
    assert Counter(a.node for a, _ in answers_storm).keys() == {"node1", "node2"}
    assert Counter(a.json()["status"] for a, _ in answers_storm)["created"] == 2
    grouped = Alert.objects.using(DB).filter(alert_rule="grouped", alert_id__regex=r"-1\d\d$")
    assert grouped.count() == 40
    assert grouped.values("incident_id").distinct().count() == 2


def test_two_nodes_run_a_window_release_once_with_both_workers(
    cluster: Cluster, nodes_db: None
) -> None:
    assert _workers_registered() >= 2
    now = datetime.now(UTC)
    window = _api(
        cluster,
        "POST",
        "/api/maintenance-windows/",
        {
            "name": "patching",
            "reason": "two nodes test",
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(seconds=CACHE_SECONDS + 5)).isoformat(),
            "connection": None,
            "scope": {"resource_groups": ["rg-maint"]},
        },
        base=cluster.url,
    )
    assert window.status == 201, window.body
    window_id = window.json()["id"]
    time.sleep(CACHE_SECONDS + 0.5)  # every node's worker processes have seen the window
    held = [_webhook(cluster, _alert(n, rule="maint", resource_group="rg-maint")) for n in (1, 2)]
    assert [a.json()["status"] for a in held] == ["suppressed", "suppressed"]
    assert {a.node for a in held} == {"node1", "node2"}

    released = MaintenanceWindow.objects.using(DB).filter(pk=window_id, released_at__isnull=False)
    wait_for(released.exists, 40, "the window's release job")
    time.sleep(2)  # time for a second run, were there one
    incident_ids = set(_incidents_of("maint"))
    assert len(incident_ids) == 2
    assert None not in incident_ids
    for kind in (JournalKind.OPENED, JournalKind.MAINTENANCE):
        journal = JournalEntry.objects.using(DB).filter(incident_id__in=incident_ids, kind=kind)
        assert Counter(journal.values_list("incident_id", flat=True)) == dict.fromkeys(
            incident_ids, 1
        ), kind
    logs = "".join(node.worker_log.read_text() for node in cluster.nodes)
    assert logs.count(f"maintenance.window_released id={window_id} ") == 1


def test_two_nodes_failed_auth_limiter_counts_the_client_behind_the_proxy(
    cluster: Cluster, nodes_db: None
) -> None:
    bad = {"Content-Type": "application/json", "Authorization": "Bearer not-a-token"}
    limited: set[str] = set()
    for _ in range(80):
        answer = request(cluster.url, "POST", WEBHOOK, body=b"{}", headers=bad, source=CLIENT_A)
        assert answer.status in (401, 429), answer.body
        if answer.status == 429:
            limited.add(answer.node)
        if limited == {"node1", "node2"}:
            break
    assert limited == {"node1", "node2"}  # A is limited on both nodes...
    other = [
        request(cluster.url, "POST", WEBHOOK, body=b"{}", headers=bad, source=CLIENT_B)
        for _ in range(2)
    ]
    # ...B, behind the same proxy, is not: the proxy's address is not what is counted.
    assert [(a.status, a.node) for a in other] in (
        [(401, "node1"), (401, "node2")],
        [(401, "node2"), (401, "node1")],
    )
    # Only failures are limited: A's valid delivery goes through.
    valid = _webhook(cluster, _alert(1, rule="limiter", resource_group="rg-l"), source=CLIENT_A)
    assert valid.status == 201, valid.body


def _sign_in(cluster: Cluster, password: str, *, source: str) -> Answer:
    csrf = "k" * 32  # the client's own CSRF cookie, as a browser holds one from the form
    form = {"username": "olga", "password": password, "csrfmiddlewaretoken": csrf}
    return request(
        cluster.url,
        "POST",
        "/admin/login/",
        body=urllib.parse.urlencode(form).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf}",
        },
        source=source,
    )


def test_two_nodes_console_lockout_holds_on_both_nodes_for_the_client_address(
    cluster: Cluster, nodes_db: None
) -> None:
    failures = [_sign_in(cluster, "wrong", source=CLIENT_A) for _ in range(LOGIN_FAILURES)]
    assert [a.status for a in failures] == [200] * (LOGIN_FAILURES - 1) + [429]
    assert {a.node for a in failures} == {"node1", "node2"}  # counted across nodes
    locked = [_sign_in(cluster, "right-password-123", source=CLIENT_A) for _ in range(2)]
    assert [a.status for a in locked] == [429, 429]
    assert {a.node for a in locked} == {"node1", "node2"}
    # Another client behind the same proxy signs in: the proxy's address is not locked out.
    assert _sign_in(cluster, "right-password-123", source=CLIENT_B).status == 302
    attempts = AccessAttempt.objects.using(DB).values_list("ip_address", flat=True)
    assert set(attempts) == {CLIENT_A}


def test_two_nodes_node_killed_mid_storm_loses_no_alert(cluster: Cluster, nodes_db: None) -> None:
    node1 = cluster.node("node1")
    killed_after: list[int] = []

    def kill_node1(done: int) -> None:
        if done == 15 and not killed_after:
            node1.kill()
            killed_after.append(done)

    payloads = [_alert(n, rule="killed", resource_group="rg-k") for n in range(60)]
    answers = _storm(cluster, payloads, during=kill_node1)

    assert killed_after == [15]
    assert all(a.status in (200, 201) for a, _ in answers), [(a.status, a.body) for a, _ in answers]
    assert Counter(a.node for a, _ in answers).keys() == {"node1", "node2"}
    alert_ids = list(
        Alert.objects.using(DB).filter(alert_rule="killed").values_list("alert_id", flat=True)
    )
    assert len(alert_ids) == len(set(alert_ids)) == 60  # every alert stored, once
    assert len(set(_incidents_of("killed"))) == 60
