"""Maintenance windows in the ingest: matching, holding back, the release at the end."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.exceptions import ApplicationError
from incidents.choices import IncidentState, JournalKind
from incidents.models import Incident
from integrations import maintenance
from integrations.maintenance import (
    covers,
    maintenance_window_create,
    maintenance_window_delete,
    maintenance_window_end,
    maintenance_window_release,
    maintenance_window_update,
    scope_clean,
    window_spec,
)
from integrations.models import Alert, Connection, MaintenanceWindow
from tests.helpers import (
    RESOURCE_HEALTH,
    STATIC,
    SUBSCRIPTION,
    alert_id,
    load_fixture,
    vm_id,
    with_essentials,
)

T0 = datetime(2026, 12, 8, 20, 0, tzinfo=UTC)
WEB_01 = vm_id("vm-web-01", "rg-web")
DB_01 = vm_id("vm-db-01", "rg-db")


def _spec(scope: dict[str, list[str]] | None = None, connection_id: int | None = None) -> Any:
    window = MaintenanceWindow(
        pk=1,
        name="patch",
        starts_at=T0,
        ends_at=T0 + timedelta(hours=3),
        connection_id=connection_id,
        scope=scope_clean(scope or {}),
    )
    return window_spec(window)


def _covers(spec: Any, *, targets: tuple[str, ...] = (WEB_01,), **facts: Any) -> bool:
    facts = {
        "connection_id": 7,
        "fired_at": T0 + timedelta(minutes=5),
        "alert_rule": "cpu-high",
        "configuration_items": (),
        **facts,
    }
    return covers(spec, target_ids=targets, **facts)


# --- scope and matching (pure) ------------------------------------------------------------------


def test_scope_clean_fills_every_key_and_strips() -> None:
    assert scope_clean({"resource_groups": [" rg-web ", "rg-web"]}) == {
        "subscriptions": [],
        "resource_groups": ["rg-web"],
        "resource_ids": [],
        "configuration_items": [],
        "alert_rules": [],
    }
    assert scope_clean(None)["alert_rules"] == []


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        ([], "must be an object"),
        ({"resource_group": ["rg"]}, "Unknown scope key 'resource_group'"),
        ({"resource_groups": "rg-web"}, "list of strings"),
        ({"resource_groups": [1]}, "list of strings"),
        ({"alert_rules": [" "]}, "empty string"),
    ],
)
def test_scope_clean_refuses_what_is_not_lists_of_strings(scope: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        scope_clean(scope)


def test_covers_empty_scope_covers_everything_inside_the_window() -> None:
    spec = _spec()
    assert _covers(spec)
    assert _covers(spec, targets=())
    assert _covers(spec, fired_at=T0)
    assert not _covers(spec, fired_at=T0 - timedelta(seconds=1))
    assert not _covers(spec, fired_at=T0 + timedelta(hours=3))  # the end is outside


def test_covers_connection_null_is_every_connection() -> None:
    assert _covers(_spec(connection_id=None), connection_id=99)
    assert _covers(_spec(connection_id=7))
    assert not _covers(_spec(connection_id=8))


def test_covers_resource_ids_match_the_resource_or_anything_under_it() -> None:
    group = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/RG-WEB"
    spec = _spec({"resource_ids": [group]})
    assert _covers(spec)  # case-insensitive, a resource under the group
    assert _covers(spec, targets=(group.lower() + "/",))
    assert not _covers(spec, targets=(DB_01,))
    # A prefix only at a '/' boundary: rg-web does not cover rg-web2.
    assert not _covers(spec, targets=(vm_id("vm-1", "rg-web2"),))
    assert _covers(_spec({"resource_ids": [WEB_01.upper()]}))
    assert not _covers(_spec({"resource_ids": [WEB_01[:-1]]}))


def test_covers_subscriptions_and_resource_groups_from_the_targets() -> None:
    assert _covers(_spec({"subscriptions": [SUBSCRIPTION.upper()]}))
    assert not _covers(_spec({"subscriptions": ["0000"]}))
    assert _covers(_spec({"resource_groups": ["RG-Web"]}))
    assert not _covers(_spec({"resource_groups": ["rg-web"]}), targets=(DB_01,))
    # One target matching is enough; every non-empty list must match that one target.
    assert _covers(_spec({"resource_groups": ["rg-db"]}), targets=(WEB_01, DB_01))
    assert not _covers(
        _spec({"resource_groups": ["rg-web"], "resource_ids": [DB_01]}), targets=(WEB_01, DB_01)
    )


def test_covers_configuration_items_by_target_name_or_azures_names() -> None:
    spec = _spec({"configuration_items": ["VM-WEB-01", "srv-app-7"]})
    assert _covers(spec)
    assert not _covers(spec, targets=(DB_01,))
    assert _covers(spec, targets=(DB_01,), configuration_items=("srv-app-7",))
    assert _covers(spec, targets=(), configuration_items=("srv-app-7",))


def test_covers_alert_rules_by_name() -> None:
    assert _covers(_spec({"alert_rules": ["CPU-High"]}))
    assert not _covers(_spec({"alert_rules": ["disk-full"]}))
    assert not _covers(_spec({"alert_rules": ["cpu-high"]}), alert_rule=None)


def test_covers_alert_without_target_only_when_no_resource_scope() -> None:
    assert not _covers(_spec({"resource_groups": ["rg-web"]}), targets=())
    assert not _covers(_spec({"subscriptions": [SUBSCRIPTION]}), targets=())
    assert _covers(_spec({"alert_rules": ["cpu-high"]}), targets=())


# --- holding back in the ingest -----------------------------------------------------------------


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _payload(
    *,
    aid: str | None = None,
    target: str = WEB_01,
    fired: datetime | None = None,
    name: str = STATIC,
    **essentials: Any,
) -> dict[str, Any]:
    return with_essentials(
        name,
        alertId=aid or alert_id(),
        alertTargetIDs=[target],
        configurationItems=[target.rsplit("/", 1)[-1]],
        firedDateTime=_iso(fired or timezone.now() - timedelta(minutes=1)),
        **essentials,
    )


def _window(connection: Connection | None = None, **fields: Any) -> MaintenanceWindow:
    now = timezone.now()
    values: dict[str, Any] = {
        "name": "patch Tuesday",
        "starts_at": now - timedelta(hours=1),
        "ends_at": now + timedelta(hours=1),
        "scope": {"resource_groups": ["rg-web"]},
        "connection": connection,
        **fields,
    }
    return maintenance_window_create(**values)


def _post(post_alert: Any, payload: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = post_alert(payload)
    assert response.status_code == status, response.json()
    return response.json()


@pytest.mark.django_db
def test_ingest_holds_back_an_alert_a_window_covers(
    connection: Connection, post_alert: Any
) -> None:
    window = _window(connection)
    payload = _payload()

    body = _post(post_alert, payload)

    assert body == {
        "status": "suppressed",
        "incident": None,
        "alert_id": payload["data"]["essentials"]["alertId"],
    }
    alert = Alert.objects.get()
    assert (alert.incident, alert.maintenance_window) == (None, window)
    assert alert.deliveries.get().outcome == "suppressed"
    assert not Incident.objects.exists()
    # A repeat changes nothing.
    assert _post(post_alert, payload)["status"] == "duplicate"
    assert Alert.objects.count() == 1


@pytest.mark.django_db
def test_ingest_opens_incidents_outside_the_scope_time_or_connection(
    connection: Connection, post_alert: Any
) -> None:
    _window(connection)
    assert _post(post_alert, _payload(target=DB_01), 201)["status"] == "created"
    # Fired before the window started.
    old = timezone.now() - timedelta(hours=2)
    assert _post(post_alert, _payload(fired=old), 201)["status"] == "created"
    other = Connection.objects.create(
        slug="fabrikam",
        name="Other",
        tenant_id=connection.tenant_id,
        audiences=connection.audiences,
        jwks_uri=connection.jwks_uri,
    )
    MaintenanceWindow.objects.update(connection=other)
    assert _post(post_alert, _payload(), 201)["status"] == "created"


@pytest.mark.django_db
def test_ingest_resolved_during_the_window_ends_the_held_alert_quietly(
    connection: Connection, post_alert: Any
) -> None:
    window = _window(connection)
    payload = _payload()
    _post(post_alert, payload)
    aid = payload["data"]["essentials"]["alertId"]

    resolved = _payload(aid=aid, monitorCondition="Resolved", resolvedDateTime=_iso(timezone.now()))
    assert _post(post_alert, resolved) == {"status": "resolved", "incident": None, "alert_id": aid}

    maintenance_window_release(window_id=window.pk, now=window.ends_at)
    assert Alert.objects.get().incident is None
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_ingest_costs_no_query_when_no_window_covers(
    connection: Connection, post_alert: Any
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(db_connection) as ctx:
            _post(post_alert, _payload(target=DB_01), 201)
        return len(ctx.captured_queries)

    queries()  # warm the caches
    without = queries()
    _window(connection)  # covers rg-web, not rg-db
    queries()  # reads the windows once
    assert queries() == without


@pytest.mark.django_db
def test_ingest_holds_nothing_for_a_window_ended_or_changed_meanwhile(
    connection: Connection, post_alert: Any
) -> None:
    window = _window(connection)
    maintenance.windows_cached()
    # Another process moved the end: this process's cache is stale, the row decides.
    MaintenanceWindow.objects.filter(pk=window.pk).update(ends_at=timezone.now())
    assert maintenance.windows_cached()  # still cached
    assert _post(post_alert, _payload(), 201)["status"] == "created"


@pytest.mark.django_db
def test_ingest_window_ending_last_holds_when_several_cover(
    connection: Connection, post_alert: Any
) -> None:
    _window(connection, name="short")
    long = _window(connection, name="long", ends_at=timezone.now() + timedelta(hours=5))
    _post(post_alert, _payload())
    assert Alert.objects.get().maintenance_window == long


@pytest.mark.django_db
def test_window_cache_is_cleared_when_a_window_is_saved(connection: Connection) -> None:
    assert maintenance.windows_cached() == ()
    window = _window(connection)
    assert [s.pk for s in maintenance.windows_cached()] == [window.pk]
    window.delete()
    assert maintenance.windows_cached() == ()


# --- the release at the end ---------------------------------------------------------------------


@pytest.mark.django_db
def test_release_opens_an_incident_for_each_alert_still_firing(
    connection: Connection, post_alert: Any
) -> None:
    window = _window(connection)
    _post(post_alert, _payload(target=WEB_01))
    _post(post_alert, _payload(target=vm_id("vm-web-02")))

    result = maintenance_window_release(window_id=window.pk, now=window.ends_at)

    assert result.outcome == "released"
    assert len(result.incidents) == 2
    window.refresh_from_db()
    assert window.released_at == window.ends_at
    for alert in Alert.objects.select_related("incident"):
        incident = alert.incident
        assert incident is not None
        assert incident.title.endswith(" on " + alert.target_ids[0].rsplit("/", 1)[-1])
        assert incident.priority == 5  # Sev4
        assert incident.alert_count == 1
        assert [ci.azure_resource_id for ci in incident.configuration_items.all()] == [
            alert.target_ids[0].lower()
        ]
        journal = incident.journal.get(kind=JournalKind.MAINTENANCE)
        assert "'patch Tuesday'" in journal.message
        assert "still firing" in journal.message


@pytest.mark.django_db
def test_release_twice_opens_nothing_twice(connection: Connection, post_alert: Any) -> None:
    window = _window(connection)
    _post(post_alert, _payload())
    maintenance_window_release(window_id=window.pk, now=window.ends_at)
    again = maintenance_window_release(window_id=window.pk, now=window.ends_at)
    assert again.outcome == "unchanged"
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_release_before_the_end_reschedules(connection: Connection, post_alert: Any) -> None:
    window = _window(connection)
    _post(post_alert, _payload())
    result = maintenance_window_release(
        window_id=window.pk, now=window.ends_at - timedelta(seconds=1)
    )
    assert result.outcome == "rescheduled"
    assert not Incident.objects.exists()
    window.refresh_from_db()
    assert window.released_at is None


@pytest.mark.django_db
def test_release_then_resolved_resolves_the_opened_incident(
    connection: Connection, post_alert: Any
) -> None:
    window = _window(connection)
    payload = _payload()
    _post(post_alert, payload)
    maintenance_window_release(window_id=window.pk, now=window.ends_at)
    aid = payload["data"]["essentials"]["alertId"]

    body = _post(
        post_alert,
        _payload(aid=aid, monitorCondition="Resolved", resolvedDateTime=_iso(timezone.now())),
    )

    assert body["status"] == "resolved"
    assert Incident.objects.get().state == IncidentState.RESOLVED


@pytest.mark.django_db
def test_release_after_a_resolve_past_the_end_opens_and_resolves(
    connection: Connection, post_alert: Any
) -> None:
    window = _window(connection)
    payload = _payload()
    _post(post_alert, payload)
    # Resolved after the end, before the job ran: it was still firing when the window ended.
    Alert.objects.update(
        monitor_condition="Resolved", resolved_at=window.ends_at + timedelta(seconds=5)
    )
    maintenance_window_release(window_id=window.pk, now=window.ends_at + timedelta(seconds=9))
    incident = Incident.objects.get()
    assert incident.state == IncidentState.RESOLVED


def _health(name: str, **essentials: Any) -> dict[str, Any]:
    payload = load_fixture(name)
    payload["data"]["essentials"].update(
        alertId=alert_id(), firedDateTime=_iso(timezone.now() - timedelta(minutes=1)), **essentials
    )
    return payload


@pytest.mark.django_db
def test_release_resource_health_recovered_inside_the_window_opens_nothing(
    connection: Connection, post_alert: Any
) -> None:
    window = _window(connection, scope={"resource_groups": ["test-RG"]})
    assert _post(post_alert, _health(RESOURCE_HEALTH))["status"] == "suppressed"
    assert _post(post_alert, _health("azure/resource-health-available.json"))["status"] == (
        "suppressed"
    )
    assert maintenance_window_release(window_id=window.pk, now=window.ends_at).incidents == ()
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_release_resource_health_still_down_opens_one_incident_for_the_event(
    connection: Connection, post_alert: Any
) -> None:
    window = _window(connection, scope={"resource_groups": ["test-RG"]})
    _post(post_alert, _health(RESOURCE_HEALTH))
    _post(post_alert, _health("azure/resource-health-degraded.json"))

    [incident] = maintenance_window_release(window_id=window.pk, now=window.ends_at).incidents

    assert incident.alerts.count() == 2
    assert Incident.objects.get().alert_count == 2
    # The event's next message, after the window, goes to that incident.
    body = _post(post_alert, _health("azure/resource-health-available.json"))
    assert (body["status"], body["incident"]) == ("resolved", incident.number)


# --- the writes ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_window_create_refuses_an_end_before_the_start_and_a_bad_scope() -> None:
    with pytest.raises(ApplicationError) as caught:
        _window(ends_at=timezone.now() - timedelta(hours=2))
    assert caught.value.code == "invalid_window"
    with pytest.raises(ApplicationError) as caught:
        _window(scope={"groups": []})
    assert caught.value.code == "invalid_scope"


@pytest.mark.django_db
def test_window_delete_refuses_a_window_that_held_alerts(
    connection: Connection, post_alert: Any
) -> None:
    window = _window(connection)
    _post(post_alert, _payload())
    with pytest.raises(ApplicationError) as caught:
        maintenance_window_delete(window=window)
    assert caught.value.code == "window_holds_alerts"
    empty = _window(connection, name="empty")
    maintenance_window_delete(window=empty)
    assert not MaintenanceWindow.objects.filter(pk=empty.pk).exists()


@pytest.mark.django_db
def test_window_end_moves_the_end_to_now_and_refuses_one_not_started() -> None:
    window = _window()
    now = timezone.now()
    assert maintenance_window_end(window=window, now=now).ends_at == now
    coming = _window(starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=2))
    with pytest.raises(ApplicationError) as caught:
        maintenance_window_end(window=coming, now=now)
    assert caught.value.code == "window_not_started"


@pytest.mark.django_db
def test_window_update_after_release_keeps_times_and_scope(connection: Connection) -> None:
    window = _window(connection)
    maintenance_window_release(window_id=window.pk, now=window.ends_at)
    renamed = maintenance_window_update(window=window, name="renamed", reason="why")
    assert renamed.name == "renamed"
    with pytest.raises(ApplicationError) as caught:
        maintenance_window_update(window=window, ends_at=window.ends_at + timedelta(hours=1))
    assert caught.value.code == "window_released"
