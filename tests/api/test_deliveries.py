"""Deliveries (staff only, read-only): filters, ordering, pagination, body, replay."""

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.test import APIClient

from incidents.models import Incident
from integrations.models import Alert, Delivery
from tests.factories import UserFactory
from tests.helpers import (
    STATIC,
    assert_constant_queries,
    client_for,
    fire,
    results,
    with_essentials,
)

pytestmark = pytest.mark.django_db

LIST_FIELDS = {
    "id", "connection", "received_at", "content_type", "caller_app_id", "caller_object_id",
    "caller_tenant_id", "outcome", "status_code", "error", "alert_id", "alert", "incident",
    "replay_of",
}  # fmt: skip


@pytest.fixture
def deliveries(post_alert: Any, connection: Any) -> dict[str, Delivery]:
    """created, duplicate, resolved and rejected deliveries, oldest first."""
    fire(post_alert, STATIC, "/d/1")
    assert post_alert(with_essentials(STATIC, alertId="/d/1")).status_code == 200
    resolved = with_essentials(STATIC, alertId="/d/1", monitorCondition="Resolved")
    assert post_alert(resolved).status_code == 200
    assert post_alert(b'{"schemaId": "x", "bad\xff": 1}').status_code == 400
    return {d.outcome: d for d in Delivery.objects.order_by("pk")}


def test_delivery_list_omits_bodies_and_shows_links(staff: APIClient, deliveries: dict) -> None:
    body = results(staff.get("/api/deliveries/"))
    assert [d["outcome"] for d in body] == ["rejected", "resolved", "duplicate", "created"]
    created = body[-1]
    assert set(created) == LIST_FIELDS
    incident = Incident.objects.get()
    assert (created["connection"], created["alert_id"], created["incident"]) == (
        "contoso",
        "/d/1",
        incident.number,
    )
    assert created["alert"] == Alert.objects.get().pk
    assert (body[0]["status_code"], body[0]["alert"], body[0]["incident"]) == (400, None, None)
    assert body[0]["error"]


def test_delivery_retrieve_shows_the_body_as_text(staff: APIClient, deliveries: dict) -> None:
    rejected = staff.get(f"/api/deliveries/{deliveries['rejected'].pk}/").json()
    assert set(rejected) == LIST_FIELDS | {"body"}
    assert rejected["body"] == '{"schemaId": "x", "bad\ufffd": 1}'
    created = staff.get(f"/api/deliveries/{deliveries['created'].pk}/").json()
    assert '"alertId": "/d/1"' in created["body"]
    assert staff.get("/api/deliveries/999999/").status_code == 404


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("outcome=created", {"created"}),
        ("outcome=created&outcome=rejected", {"created", "rejected"}),
        ("connection=contoso", {"created", "duplicate", "resolved", "rejected"}),
        ("connection=nope", set()),
        ("status_code=400", {"rejected"}),
        ("status_code=200", {"duplicate", "resolved"}),
        ("alert_id=/d/1", {"created", "duplicate", "resolved"}),
        ("received_after=2000-01-01T00:00:00Z", {"created", "duplicate", "resolved", "rejected"}),
        ("received_before=2000-01-01T00:00:00Z", set()),
    ],
)
def test_delivery_list_filters(
    staff: APIClient, deliveries: dict, query: str, expected: set
) -> None:
    assert {d["outcome"] for d in results(staff.get(f"/api/deliveries/?{query}"))} == expected


@pytest.mark.parametrize(
    "query", ["outcome=lost", "status_code=abc", "status_code=7000", "received_after=x"]
)
def test_delivery_list_refuses_bad_filter_values(staff: APIClient, query: str) -> None:
    response = staff.get(f"/api/deliveries/?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()["errors"]


def test_delivery_list_time_window(staff: APIClient, deliveries: dict) -> None:
    Delivery.objects.filter(pk=deliveries["created"].pk).update(
        received_at=timezone.now() - timezone.timedelta(days=2)
    )
    since = (timezone.now() - timezone.timedelta(days=1)).isoformat().replace("+00:00", "Z")
    outcomes = {
        d["outcome"] for d in results(staff.get(f"/api/deliveries/?received_after={since}"))
    }
    assert outcomes == {"duplicate", "resolved", "rejected"}
    before = {d["outcome"] for d in results(staff.get(f"/api/deliveries/?received_before={since}"))}
    assert before == {"created"}


def test_delivery_list_ordering_and_pagination(staff: APIClient, deliveries: dict) -> None:
    body = results(staff.get("/api/deliveries/?ordering=status_code,-id"))
    assert [d["outcome"] for d in body] == ["resolved", "duplicate", "created", "rejected"]
    page = staff.get("/api/deliveries/?ordering=id&page_size=3").json()
    assert (page["count"], [d["outcome"] for d in page["results"]]) == (
        4,
        ["created", "duplicate", "resolved"],
    )
    assert [d["outcome"] for d in results(staff.get(page["next"]))] == ["rejected"]


def test_delivery_list_query_count_is_constant(
    staff: APIClient, post_alert: Any, connection: Any
) -> None:
    fire(post_alert, STATIC, "/q/1")

    def more() -> None:
        for n in range(2, 6):
            fire(post_alert, STATIC, f"/q/{n}")
        post_alert(b"{nope")

    assert_constant_queries(staff, "/api/deliveries/", more)


def test_delivery_replay(staff: APIClient, deliveries: dict) -> None:
    original = deliveries["created"]
    response = staff.post(f"/api/deliveries/{original.pk}/replay/")
    assert response.status_code == 200, response.json()
    incident = Incident.objects.get()
    assert response.json() == {
        "status": "stale",  # the alert was resolved since: a late Fired changes nothing
        "incident": incident.number,
        "incident_state": incident.state,
        "alert_id": "/d/1",
    }
    replay = Delivery.objects.order_by("-pk").first()
    assert replay.replay_of_id == original.pk
    listed = results(staff.get("/api/deliveries/?ordering=-id&page_size=1"))[0]
    assert listed["replay_of"] == original.pk
    entry = incident.journal.get(kind="source_update")
    assert (entry.actor_name, f"Replayed delivery {original.pk}" in entry.message) == ("sam", True)


def test_delivery_replay_of_an_unparseable_body_is_400(staff: APIClient, deliveries: dict) -> None:
    count = Delivery.objects.count()
    response = staff.post(f"/api/deliveries/{deliveries['rejected'].pk}/replay/")
    assert response.status_code == 400
    assert "cannot be replayed" in response.json()["detail"]
    assert Delivery.objects.count() == count
    assert staff.post("/api/deliveries/999999/replay/").status_code == 404


def test_delivery_replay_needs_the_replay_permission(staff: APIClient, deliveries: dict) -> None:
    reader = UserFactory(username="auditor", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client = client_for(reader)
    assert client.get("/api/deliveries/").status_code == 200
    response = client.post(f"/api/deliveries/{deliveries['created'].pk}/replay/")
    assert response.status_code == 403
    assert Delivery.objects.count() == 4
