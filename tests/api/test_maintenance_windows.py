"""`/api/maintenance-windows/`: who may do what, validation, the held alerts, conflicts."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from core import jobs
from integrations.maintenance import RELEASE_JOB
from integrations.models import Alert, Connection, MaintenanceWindow
from tests.helpers import STATIC, alert_id, client_as, results, vm_id, with_essentials

pytestmark = pytest.mark.django_db

URL = "/api/maintenance-windows/"


def _body(**changes: Any) -> dict[str, Any]:
    now = timezone.now()
    return {
        "name": "patch Tuesday",
        "reason": "monthly patching",
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
        "connection": None,
        "scope": {"resource_groups": ["rg-web"]},
        **changes,
    }


def _create(client: APIClient, **changes: Any) -> dict[str, Any]:
    response = client.post(URL, _body(**changes), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def _hold(post_alert: Any) -> str:
    """Post an alert on rg-web that fired a minute ago; return its alertId."""
    fired = (timezone.now() - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    aid = alert_id()
    payload = with_essentials(
        STATIC, alertId=aid, alertTargetIDs=[vm_id("vm-web-01")], firedDateTime=fired
    )
    response = post_alert(payload)
    assert response.json()["status"] == "suppressed", response.json()
    return aid


def test_maintenance_windows_create_answers_the_window_with_its_author(
    operator: APIClient,
) -> None:
    window = _create(operator, connection=None)
    assert window["created_by"] == "olga"
    assert window["status"] == "active"
    assert (window["alert_count"], window["held_count"], window["released_at"]) == (0, 0, None)
    assert window["scope"] == {
        "subscriptions": [],
        "resource_groups": ["rg-web"],
        "resource_ids": [],
        "configuration_items": [],
        "alert_rules": [],
    }
    stored = MaintenanceWindow.objects.get(pk=window["id"])
    assert stored.created_by is not None
    assert stored.created_by.username == "olga"


def test_maintenance_windows_create_enqueues_the_release_at_the_end(
    operator: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        window = _create(operator)
    [job] = [j for j in jobs.jobs_for(RELEASE_JOB) if j.kwargs == {"window_id": window["id"]}]
    assert job.run_after is not None
    assert (
        job.run_after.isoformat()
        == MaintenanceWindow.objects.get(pk=window["id"]).ends_at.isoformat()
    )


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [
        ("anonymous", 401, 401),
        ("nobody", 403, 403),
        ("viewer", 200, 403),
        ("operator", 200, 201),
        ("staff", 200, 201),
        ("superuser", 200, 201),
    ],
)
def test_maintenance_windows_roles(role: str, read: int, write: int) -> None:
    client = client_as(role)
    assert client.get(URL).status_code == read
    assert client.post(URL, _body(), format="json").status_code == write


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ends_at": (timezone.now() - timedelta(hours=3)).isoformat()}, "ends_at"),
        ({"scope": {"resource_group": ["rg-web"]}}, "scope"),
        ({"scope": {"resource_groups": "rg-web"}}, "scope"),
        ({"scope": {"resource_groups": [3, None]}}, "scope"),
        ({"scope": ["rg-web"]}, "scope"),
        ({"connection": "no-such-connection"}, "connection"),
        ({"colour": "red"}, "colour"),
        ({"name": ""}, "name"),
    ],
)
def test_maintenance_windows_create_refuses_what_is_not_valid(
    operator: APIClient, changes: dict[str, Any], field: str
) -> None:
    response = operator.post(URL, _body(**changes), format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert not MaintenanceWindow.objects.exists()


def test_maintenance_windows_create_takes_a_connection_slug(
    operator: APIClient, connection: Connection
) -> None:
    assert _create(operator, connection="contoso")["connection"] == "contoso"


def test_maintenance_windows_patch_changes_what_it_names(operator: APIClient) -> None:
    window = _create(operator)
    new_end = timezone.now() + timedelta(hours=5)
    response = operator.patch(
        f"{URL}{window['id']}/", {"ends_at": new_end.isoformat()}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "patch Tuesday"
    assert response.json()["scope"]["resource_groups"] == ["rg-web"]
    stored = MaintenanceWindow.objects.get(pk=window["id"])
    assert stored.ends_at == new_end
    bad = operator.patch(
        f"{URL}{window['id']}/",
        {"ends_at": (timezone.now() - timedelta(hours=3)).isoformat()},
        format="json",
    )
    assert bad.status_code == 400
    assert "ends_at" in bad.json()["errors"]


def test_maintenance_windows_alerts_lists_what_it_holds(
    operator: APIClient, connection: Connection, post_alert: Any
) -> None:
    window = _create(operator)
    aid = _hold(post_alert)

    rows = results(operator.get(f"{URL}{window['id']}/alerts/"))

    assert [(r["alert_id"], r["incident"]) for r in rows] == [(aid, None)]
    assert rows[0]["monitor_condition"] == "Fired"
    listed = operator.get(f"{URL}{window['id']}/").json()
    assert (listed["alert_count"], listed["held_count"]) == (1, 1)


def test_maintenance_windows_alerts_and_list_take_constant_queries(
    operator: APIClient, connection: Connection, post_alert: Any, django_assert_max_num_queries: Any
) -> None:
    window = _create(operator)
    _hold(post_alert)
    from tests.helpers import count_queries

    one_alert = count_queries(operator, f"{URL}{window['id']}/alerts/")
    one_window = count_queries(operator, URL)
    for _ in range(3):
        _hold(post_alert)
        _create(operator, name="another")
    assert count_queries(operator, f"{URL}{window['id']}/alerts/") == one_alert
    assert count_queries(operator, URL) == one_window


def test_maintenance_windows_delete_refuses_a_window_that_held_alerts(
    operator: APIClient, connection: Connection, post_alert: Any
) -> None:
    window = _create(operator)
    _hold(post_alert)

    response = operator.delete(f"{URL}{window['id']}/")

    assert response.status_code == 409
    assert response.json()["code"] == "window_holds_alerts"
    assert MaintenanceWindow.objects.filter(pk=window["id"]).exists()
    empty = _create(operator, scope={"resource_groups": ["rg-nothing"]})
    assert operator.delete(f"{URL}{empty['id']}/").status_code == 204


def test_maintenance_windows_end_releases_what_it_holds(
    operator: APIClient, connection: Connection, post_alert: Any
) -> None:
    window = _create(operator)
    _hold(post_alert)

    response = operator.post(f"{URL}{window['id']}/end/")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ended"
    from integrations.tasks import maintenance_release

    maintenance_release(window_id=window["id"])
    assert Alert.objects.get().incident is not None
    assert operator.get(f"{URL}{window['id']}/").json()["held_count"] == 0
    # Its times cannot move once it released what it held.
    later = operator.patch(
        f"{URL}{window['id']}/",
        {"ends_at": (timezone.now() + timedelta(hours=1)).isoformat()},
        format="json",
    )
    assert later.status_code == 409
    assert later.json()["code"] == "window_released"


def test_maintenance_windows_end_refuses_a_window_not_started(operator: APIClient) -> None:
    now = timezone.now()
    window = _create(
        operator,
        starts_at=(now + timedelta(hours=1)).isoformat(),
        ends_at=(now + timedelta(hours=2)).isoformat(),
    )
    assert window["status"] == "coming"
    response = operator.post(f"{URL}{window['id']}/end/")
    assert response.status_code == 409
    assert response.json()["code"] == "window_not_started"


def test_maintenance_windows_viewer_reads_the_held_alerts_but_cannot_end(
    operator: APIClient, viewer: APIClient
) -> None:
    window = _create(operator)
    assert viewer.get(f"{URL}{window['id']}/alerts/").status_code == 200
    assert viewer.post(f"{URL}{window['id']}/end/").status_code == 403
    assert viewer.delete(f"{URL}{window['id']}/").status_code == 403


def test_maintenance_windows_filter_by_status(operator: APIClient) -> None:
    now = timezone.now()
    _create(operator, name="now")
    _create(
        operator,
        name="later",
        starts_at=(now + timedelta(hours=1)).isoformat(),
        ends_at=(now + timedelta(hours=2)).isoformat(),
    )
    _create(
        operator,
        name="past",
        starts_at=(now - timedelta(hours=3)).isoformat(),
        ends_at=(now - timedelta(hours=2)).isoformat(),
    )
    names = lambda query: sorted(w["name"] for w in results(operator.get(URL + query)))  # noqa: E731
    assert names("?status=active&status=coming") == ["later", "now"]
    assert names("?status=ended") == ["past"]
    assert names("") == ["later", "now", "past"]
