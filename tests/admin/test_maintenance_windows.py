"""Maintenance windows in the console: the list of active and coming windows, the form."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from integrations.maintenance import maintenance_window_create
from integrations.models import Alert, MaintenanceWindow
from tests.helpers import STATIC, alert_id, count_queries, errors_of, vm_id, with_essentials

pytestmark = pytest.mark.django_db

WINDOWS = "/admin/integrations/maintenancewindow/"


def _split(value: datetime) -> tuple[str, str]:
    local = timezone.localtime(value)
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")


def _form(**changes: Any) -> dict[str, Any]:
    now = timezone.now().replace(microsecond=0)
    starts, ends = (
        changes.pop("starts_at", now - timedelta(hours=1)),
        changes.pop("ends_at", now + timedelta(hours=2)),
    )
    data = {
        "name": "patch Tuesday",
        "reason": "monthly patching",
        "starts_at_0": _split(starts)[0],
        "starts_at_1": _split(starts)[1],
        "ends_at_0": _split(ends)[0],
        "ends_at_1": _split(ends)[1],
        "connection": "",
        "subscriptions": "",
        "resource_groups": "rg-web\n\nrg-db ",
        "resource_ids": "",
        "configuration_items": "SQL server 01",
        "alert_rules": "",
    }
    data.update(changes)
    return data


def _window(name: str = "patch", hours: tuple[int, int] = (-1, 2), **fields: Any) -> Any:
    now = timezone.now()
    return maintenance_window_create(
        name=name,
        starts_at=now + timedelta(hours=hours[0]),
        ends_at=now + timedelta(hours=hours[1]),
        scope=fields.pop("scope", {"resource_groups": ["rg-web"]}),
        **fields,
    )


def _hold(post_alert: Any) -> None:
    fired = (timezone.now() - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    payload = with_essentials(
        STATIC, alertId=alert_id(), alertTargetIDs=[vm_id("vm-web-01")], firedDateTime=fired
    )
    assert post_alert(payload).json()["status"] == "suppressed"


def test_operator_adds_a_window_with_its_scope(operator_client: Client, operator: Any) -> None:
    response = operator_client.post(WINDOWS + "add/", _form())
    assert response.status_code == 302, response.content.decode()[:3000]
    window = MaintenanceWindow.objects.get()
    assert window.created_by == operator
    assert window.scope["resource_groups"] == ["rg-web", "rg-db"]
    assert window.scope["configuration_items"] == ["SQL server 01"]
    assert window.scope["alert_rules"] == []


def test_window_form_refuses_an_end_before_the_start(operator_client: Client) -> None:
    now = timezone.now()
    response = operator_client.post(
        WINDOWS + "add/", _form(starts_at=now, ends_at=now - timedelta(hours=1))
    )
    assert response.status_code == 200
    assert "The window must end after it starts." in response.content.decode()
    assert not MaintenanceWindow.objects.exists()


def test_window_list_shows_active_and_coming_with_what_each_holds(
    operator_client: Client, connection: Any, post_alert: Any
) -> None:
    _window("now-window")
    _window("later-window", hours=(3, 4))
    _window("past-window", hours=(-5, -4))
    _hold(post_alert)

    page = operator_client.get(WINDOWS).content.decode()

    assert "now-window" in page
    assert "later-window" in page
    assert "past-window" not in page
    assert "1 held now" in page
    assert "maintenance_window__id__exact=" in page
    assert "past-window" in operator_client.get(WINDOWS + "?status=ended").content.decode()


def test_window_list_takes_constant_queries(operator_client: Client) -> None:
    _window("one")
    before = count_queries(operator_client, WINDOWS)
    for n in range(3):
        _window(f"w{n}")
    assert count_queries(operator_client, WINDOWS) == before


def test_held_alerts_link_lists_the_window_alerts(
    operator_client: Client, connection: Any, post_alert: Any
) -> None:
    window = _window()
    _hold(post_alert)
    url = f"/admin/integrations/alert/?maintenance_window__id__exact={window.pk}"
    response = operator_client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == Alert.objects.count() == 1


def test_window_that_held_alerts_cannot_be_deleted_but_ends(
    operator_client: Client, connection: Any, post_alert: Any
) -> None:
    window = _window()
    _hold(post_alert)
    assert operator_client.get(f"{WINDOWS}{window.pk}/delete/").status_code == 403
    response = operator_client.post(
        WINDOWS, {"action": "end_selected", "_selected_action": [window.pk]}, follow=True
    )
    assert response.status_code == 200
    assert not errors_of(response)
    window.refresh_from_db()
    assert window.ends_at <= timezone.now()


def test_window_ended_keeps_its_times(operator_client: Client) -> None:
    window = _window(hours=(-3, -2))
    from integrations.maintenance import maintenance_window_release

    maintenance_window_release(window_id=window.pk)
    response = operator_client.post(
        f"{WINDOWS}{window.pk}/change/", _form(resource_groups="rg-other")
    )
    assert response.status_code == 200
    assert "only its name and reason can change" in response.content.decode()


def test_viewer_sees_windows_but_cannot_add(viewer_client: Client) -> None:
    _window("seen")
    assert "seen" in viewer_client.get(WINDOWS).content.decode()
    assert viewer_client.get(WINDOWS + "add/").status_code == 403
