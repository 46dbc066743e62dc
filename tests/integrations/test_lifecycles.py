"""Alert lifecycles that follow Azure: Service Health, Resource Health, stateless signals."""

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import jobs
from incidents.choices import IncidentState, JournalKind, ResolutionCode
from incidents.models import Incident
from incidents.services import incident_close
from integrations import services
from integrations.lifecycles import HealthMove, Kind, lifecycle_of, plain_text
from integrations.models import Alert, Connection, Delivery
from integrations.parsing import parse_alert
from tests.helpers import (
    ADMIN,
    STATIC,
    TIMEOUT,
    is_postgres,
    load_fixture,
    make_token,
    with_essentials,
)
from tests.integrations.test_ingest import data_queries

SH = "azure/service-health-{}.json"
RH = "azure/resource-health-{}.json"
SH_CHAIN = ("active", "update", "resolved", "rca")


def _post(post_alert: Any, name: str, **essentials: Any) -> dict[str, Any]:
    response = post_alert(with_essentials(name, **essentials) if essentials else name)
    assert response.status_code in (200, 201), response.json()
    body = response.json()
    assert (response.status_code == 201) == (body["status"] == "created")
    return body


def _parsed(name: str, **essentials: Any) -> Any:
    return parse_alert(json.dumps(with_essentials(name, **essentials)).encode())


# --- the pure decision --------------------------------------------------------------------


def test_lifecycle_of_metric_alert_is_stateful() -> None:
    assert lifecycle_of(_parsed(STATIC)).kind == Kind.STATEFUL


def test_lifecycle_of_service_health_keys_on_subscription_and_tracking_id() -> None:
    decision = lifecycle_of(_parsed(SH.format("active")))

    assert decision.kind == Kind.SERVICE_HEALTH
    assert decision.key == "servicehealth:aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e:TEST-TTT"
    assert not decision.resolves
    assert lifecycle_of(_parsed(SH.format("resolved"))).resolves
    assert not lifecycle_of(_parsed(SH.format("rca"))).resolves
    assert lifecycle_of(_parsed(SH.format("maintenance-complete"))).resolves
    assert not lifecycle_of(_parsed(SH.format("maintenance-planned"))).resolves


@pytest.mark.parametrize(
    ("name", "move"),
    [
        ("fired", HealthMove.OPENS),
        ("degraded", HealthMove.OPENS),
        ("available", HealthMove.RESOLVES),
        ("unknown", HealthMove.JOURNAL_ONLY),
        ("updated-null", HealthMove.JOURNAL_ONLY),
    ],
)
def test_lifecycle_of_resource_health_follows_health_status(name: str, move: HealthMove) -> None:
    decision = lifecycle_of(_parsed(RH.format(name)))

    assert decision.kind == Kind.RESOURCE_HEALTH
    assert decision.health == move
    assert decision.key.endswith("/virtualmachines/test-vm")


def test_lifecycle_of_tolerates_wrong_types() -> None:
    body = load_fixture(SH.format("active"))
    body["data"]["alertContext"]["properties"] = {"trackingId": ["x"], "stage": None}
    decision = lifecycle_of(parse_alert(json.dumps(body).encode()))

    assert decision.kind == Kind.STATELESS  # no usable trackingId: its own incident


def test_plain_text_strips_html_and_shortens() -> None:
    assert plain_text("<p><strong>Update</strong>:&nbsp;fixed</p>") == "Update : fixed"
    assert len(plain_text("x" * 2000)) == 500


# --- Service Health -----------------------------------------------------------------------


@pytest.mark.django_db
def test_service_health_follow_ups_join_one_incident_and_resolve_it(
    connection: Connection, post_alert: Any
) -> None:
    answers = [_post(post_alert, SH.format(name)) for name in SH_CHAIN]

    assert [a["status"] for a in answers] == ["created", "updated", "resolved", "updated"]
    incident = Incident.objects.get()
    assert {a["incident"] for a in answers} == {incident.number}
    assert incident.state == IncidentState.RESOLVED
    assert incident.resolution_code == ResolutionCode.RESOLVED_BY_SOURCE
    assert Alert.objects.filter(incident=incident).count() == 4
    notes = list(
        incident.journal.filter(kind=JournalKind.SOURCE_UPDATE).values_list("message", flat=True)
    )
    assert len(notes) == 3
    assert all("TEST-TTT" in n for n in notes)
    assert any("stage RCA" in n and "What happened?" in n for n in notes)
    assert not any("<p>" in n for n in notes)


@pytest.mark.django_db
def test_service_health_rca_after_resolve_changes_no_state(
    connection: Connection, post_alert: Any
) -> None:
    for name in SH_CHAIN[:3]:
        _post(post_alert, SH.format(name))
    incident = Incident.objects.get()
    resolved_at = incident.resolved_at

    assert _post(post_alert, SH.format("rca"))["status"] == "updated"
    incident.refresh_from_db()
    assert incident.state == IncidentState.RESOLVED
    assert incident.resolved_at == resolved_at


@pytest.mark.django_db
def test_service_health_maintenance_complete_resolves(
    connection: Connection, post_alert: Any
) -> None:
    assert _post(post_alert, SH.format("maintenance-planned"))["status"] == "created"
    assert _post(post_alert, SH.format("maintenance-complete"))["status"] == "resolved"
    assert Incident.objects.get().state == IncidentState.RESOLVED


@pytest.mark.django_db
def test_service_health_sample_with_stage_resolved_opens_resolved_incident(
    connection: Connection, post_alert: Any
) -> None:
    body = _post(post_alert, SH.format("fired"))

    assert body["status"] == "created"
    assert body["incident_state"] == IncidentState.RESOLVED


@pytest.mark.django_db
def test_service_health_is_per_subscription(connection: Connection, post_alert: Any) -> None:
    other = "/subscriptions/11111111-2222-3333-4444-555555555555"
    _post(post_alert, SH.format("active"))
    body = _post(post_alert, SH.format("update"), alertTargetIDs=[other])

    assert body["status"] == "created"
    assert Incident.objects.count() == 2


@pytest.mark.django_db
def test_service_health_tracking_id_is_searchable(
    connection: Connection, post_alert: Any, admin_client: Any
) -> None:
    number = _post(post_alert, SH.format("active"))["incident"]
    _post(post_alert, STATIC)

    response = admin_client.get("/api/incidents/", {"search": "test-ttt"})

    assert [i["number"] for i in response.json()["results"]] == [number]


@pytest.mark.django_db
def test_service_health_follow_up_costs_one_lookup_more_than_a_new_alert(
    connection: Connection, post_alert: Any
) -> None:
    _post(post_alert, ADMIN)  # warm up
    with CaptureQueriesContext(db) as ordinary:
        _post(post_alert, STATIC)
    with CaptureQueriesContext(db) as first:
        _post(post_alert, SH.format("active"))

    # The event lookup; everything else as for an ordinary new alert.
    assert len(data_queries(first)) == len(data_queries(ordinary)) + 1


# --- Resource Health ----------------------------------------------------------------------


@pytest.mark.django_db
def test_resource_health_unavailable_degraded_available_is_one_resolved_incident(
    connection: Connection, post_alert: Any
) -> None:
    answers = [_post(post_alert, RH.format(n)) for n in ("fired", "degraded", "available")]

    assert [a["status"] for a in answers] == ["created", "updated", "resolved"]
    incident = Incident.objects.get()
    assert incident.state == IncidentState.RESOLVED


@pytest.mark.django_db
def test_resource_health_matches_resource_case_insensitively(
    connection: Connection, post_alert: Any
) -> None:
    target = load_fixture(RH.format("fired"))["data"]["essentials"]["alertTargetIDs"][0]
    _post(post_alert, RH.format("fired"))

    body = _post(post_alert, RH.format("degraded"), alertTargetIDs=[target.upper()])

    assert body["status"] == "updated"


@pytest.mark.django_db
def test_resource_health_recovery_without_open_incident_is_ignored(
    connection: Connection, post_alert: Any
) -> None:
    body = _post(post_alert, RH.format("available"))

    assert body == {"status": "ignored", "incident": None, "alert_id": body["alert_id"]}
    assert not Incident.objects.exists()
    assert Delivery.objects.get().outcome == "ignored"


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["unknown", "updated-null"])
def test_resource_health_unknown_is_journaled_only(
    connection: Connection, post_alert: Any, name: str
) -> None:
    assert _post(post_alert, RH.format(name))["status"] == "ignored"
    _post(post_alert, RH.format("fired"))

    assert _post(post_alert, RH.format(name), alertId=f"again-{name}")["status"] == "updated"
    assert Incident.objects.get().state == IncidentState.NEW


@pytest.mark.django_db
def test_resource_health_after_resolve_opens_a_new_incident(
    connection: Connection, post_alert: Any
) -> None:
    for name in ("fired", "available"):
        _post(post_alert, RH.format(name))

    assert _post(post_alert, RH.format("degraded"))["status"] == "created"
    assert Incident.objects.count() == 2


# --- azure_resolves -----------------------------------------------------------------------


@pytest.mark.django_db
def test_alerts_say_whether_azure_resolves_them(
    connection: Connection, post_alert: Any, admin_client: Any
) -> None:
    _post(post_alert, STATIC)
    _post(post_alert, ADMIN)

    alerts = admin_client.get("/api/alerts/").json()["results"]
    incidents = admin_client.get("/api/incidents/").json()["results"]

    assert {a["monitoring_service"]: a["azure_resolves"] for a in alerts} == {
        "Platform": True,
        "Activity Log - Administrative": False,
    }
    assert sorted(i["alerts"][0]["azure_resolves"] for i in incidents) == [False, True]


# --- auto-resolve of stateless signals ----------------------------------------------------


def _auto_resolving(connection: Connection, minutes: int = 30) -> Connection:
    connection.auto_resolve_after_minutes = minutes
    connection.save()
    return connection


@pytest.mark.django_db
def test_auto_resolve_is_scheduled_only_for_stateless_alerts_of_a_connection_with_it(
    connection: Connection, post_alert: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheduled: list[Any] = []
    monkeypatch.setattr(
        services, "auto_resolve_schedule", lambda **kw: scheduled.append(kw["incident"].pk)
    )
    _post(post_alert, ADMIN)  # setting off: nothing
    _auto_resolving(connection)
    _post(post_alert, STATIC)  # Azure resolves it: nothing
    number = _post(post_alert, ADMIN, alertId="admin-2")["incident"]

    assert scheduled == [Incident.objects.get(number=number).pk]


@pytest.mark.django_db
def test_incident_auto_resolve_resolves_a_quiet_incident_and_journals_why(
    connection: Connection, post_alert: Any
) -> None:
    _auto_resolving(connection)
    incident = Incident.objects.get(number=_post(post_alert, ADMIN)["incident"])

    assert services.incident_auto_resolve(incident_id=incident.pk) == "rescheduled"
    later = timezone.now() + timedelta(minutes=31)
    assert services.incident_auto_resolve(incident_id=incident.pk, now=later) == "resolved"
    incident.refresh_from_db()
    assert incident.state == IncidentState.RESOLVED
    assert "30 minutes" in incident.resolution_notes
    assert incident.journal.filter(to_state=IncidentState.RESOLVED).exists()


@pytest.mark.django_db
def test_incident_auto_resolve_waits_for_a_newer_message(
    connection: Connection, post_alert: Any
) -> None:
    _auto_resolving(connection)
    incident = Incident.objects.get(number=_post(post_alert, ADMIN)["incident"])
    Delivery.objects.update(received_at=timezone.now() - timedelta(minutes=40))
    _post(post_alert, ADMIN)  # a repeat: a newer message

    assert services.incident_auto_resolve(incident_id=incident.pk) == "rescheduled"
    incident.refresh_from_db()
    assert incident.state == IncidentState.NEW


@pytest.mark.django_db
def test_incident_auto_resolve_leaves_operator_decision_alone(
    connection: Connection, post_alert: Any, admin_user: Any
) -> None:
    _auto_resolving(connection)
    incident = Incident.objects.get(number=_post(post_alert, ADMIN)["incident"])
    incident_close_or_cancel = Incident.objects.get(pk=incident.pk)
    services.incident_auto_resolve(
        incident_id=incident.pk, now=timezone.now() + timedelta(minutes=31)
    )
    incident_close(incident=Incident.objects.get(pk=incident.pk), actor=admin_user)

    assert services.incident_auto_resolve(incident_id=incident_close_or_cancel.pk) == "unchanged"
    assert Incident.objects.get(pk=incident.pk).state == IncidentState.CLOSED


@pytest.mark.django_db(transaction=True)
def test_auto_resolve_job_runs_through_the_job_engine(
    connection: Connection, post_alert: Any
) -> None:
    _auto_resolving(connection, minutes=1)
    number = _post(post_alert, ADMIN)["incident"]
    incident = Incident.objects.get(number=number)
    [job] = [j for j in jobs.jobs_for(services.AUTO_RESOLVE_JOB) if j.kwargs]
    assert job.kwargs == {"incident_id": incident.pk}
    assert job.run_after is not None
    assert job.run_after > timezone.now()
    # A message long ago: when the job runs it finds the incident quiet.
    Delivery.objects.update(received_at=timezone.now() - timedelta(minutes=5))

    from integrations.tasks import auto_resolve

    auto_resolve(incident_id=incident.pk)

    assert Incident.objects.get(pk=incident.pk).state == IncidentState.RESOLVED


# --- concurrency (PostgreSQL) -------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_service_health_concurrent_first_messages_open_one_incident(
    connection: Connection, key_set: Any, signing_key: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not is_postgres():
        pytest.skip("needs PostgreSQL: SQLite serialises writers")
    barrier = threading.Barrier(2)
    seen = threading.local()
    real = services._event_incident

    def lookup_then_wait(**kwargs: Any) -> Any:
        found = real(**kwargs)
        if not getattr(seen, "waited", False):
            seen.waited = True
            barrier.wait(timeout=TIMEOUT)  # both looked and found nothing: both insert
        return found

    monkeypatch.setattr(services, "_event_incident", lookup_then_wait)
    token = make_token(signing_key)
    bodies = [json.dumps(load_fixture(SH.format(name))).encode() for name in ("active", "update")]
    answers: list[Any] = []
    errors: list[BaseException] = []

    def deliver(body: bytes) -> None:
        from rest_framework.test import APIClient

        try:
            answers.append(
                APIClient().generic(
                    "POST",
                    connection.webhook_path,
                    body,
                    content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {token}",
                )
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=deliver, args=(b,)) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT * 2)

    assert not errors, errors
    assert sorted(a.json()["status"] for a in answers) == ["created", "updated"]
    assert Incident.objects.count() == 1
    assert Alert.objects.count() == 2
