import io
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from core.exceptions import ApplicationError
from incidents.models import Incident
from integrations.models import Alert, Connection, Delivery
from integrations.services import connection_delete, delivery_replay
from tests.factories import UserFactory
from tests.helpers import STATIC, load_fixture, with_essentials

pytestmark = pytest.mark.django_db


def test_delivery_replay_is_idempotent_and_journaled(
    connection: Connection, post_alert: Any
) -> None:
    assert post_alert(STATIC).status_code == 201
    original = Delivery.objects.get()
    operator = UserFactory(username="olga")

    answer = delivery_replay(delivery=original, actor=operator)

    assert answer.outcome == "duplicate"
    assert Incident.objects.count() == Alert.objects.count() == 1
    replay = Delivery.objects.exclude(pk=original.pk).get()
    assert replay.replay_of == original
    assert bytes(replay.body) == bytes(original.body)
    entry = Incident.objects.get().journal.get(kind="source_update")
    assert entry.actor == operator
    assert f"Replayed delivery {original.pk}" in entry.message


def test_delivery_replay_applies_a_resolution_that_was_lost(
    connection: Connection, post_alert: Any
) -> None:
    post_alert(STATIC)
    resolved = with_essentials(STATIC, monitorCondition="Resolved")
    assert post_alert(resolved).status_code == 200
    resolution = Delivery.objects.get(outcome="resolved")
    Incident.objects.update(state="new", resolved_at=None, resolution_code="")
    Alert.objects.update(monitor_condition="Fired", resolved_at=None)

    answer = delivery_replay(delivery=resolution, actor=UserFactory())

    assert answer.outcome == "resolved"
    assert Incident.objects.get().state == "resolved"


def test_delivery_replay_of_an_ignored_recovery_is_ignored_again(
    connection: Connection, post_alert: Any
) -> None:
    # A Resource Health recovery with no open incident opens nothing: neither does its replay.
    answer = post_alert("azure/resource-health-available.json")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ignored"

    operator = get_user_model().objects.create(username="ivo")
    result = delivery_replay(delivery=Delivery.objects.get(), actor=operator)

    assert result.outcome == "ignored"
    assert result.incident is None
    assert Incident.objects.count() == 0


def test_delivery_replay_refuses_an_unparseable_body(
    connection: Connection, post_alert: Any
) -> None:
    assert post_alert(b"{nope").status_code == 400
    with pytest.raises(ApplicationError, match="cannot be replayed"):
        delivery_replay(delivery=Delivery.objects.get(), actor=UserFactory())
    assert Delivery.objects.count() == 1


def test_connection_delete_only_when_unused(connection: Connection, post_alert: Any) -> None:
    spare = Connection.objects.create(
        slug="spare", name="s", tenant_id=connection.tenant_id, audiences=["a"]
    )
    connection_delete(connection=spare)
    assert not Connection.objects.filter(slug="spare").exists()
    post_alert(STATIC)
    with pytest.raises(ApplicationError, match="disable it instead"):
        connection_delete(connection=connection)


@pytest.mark.parametrize(
    ("role", "can", "cannot"),
    [
        ("operators", ["incidents.change_incident", "integrations.replay_delivery"], []),
        ("viewers", ["incidents.view_incident"], ["incidents.change_incident"]),
    ],
)
def test_roles_exist_with_their_permissions(role: str, can: list, cannot: list) -> None:
    user = UserFactory()
    user.groups.add(Group.objects.get(name=role))
    for perm in can:
        assert user.has_perm(perm)
    for perm in cannot:
        assert not user.has_perm(perm)


def test_grant_role_adds_a_user_to_a_role_and_the_console() -> None:
    user = UserFactory(username="vera")
    out = io.StringIO()
    call_command("grant_role", "vera", "viewers", stdout=out)
    user.refresh_from_db()
    assert user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == ["viewers"]
    call_command("grant_role", "vera", "viewers", "--remove", stdout=out)
    assert not user.groups.exists()
    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("grant_role", "nobody", "operators")


def test_delivery_replay_applies_the_subscription_allow_list(
    connection: Connection, post_alert: Any
) -> None:
    connection.allowed_subscriptions = ["00000000-0000-0000-0000-0000000000aa"]
    connection.save()
    assert post_alert(STATIC).status_code == 403
    with pytest.raises(ApplicationError, match="names subscription"):
        delivery_replay(delivery=Delivery.objects.get(), actor=UserFactory())
    assert not Incident.objects.exists()


def test_delivery_replay_refuses_a_connection_disabled_since(
    connection: Connection, post_alert: Any
) -> None:
    assert post_alert(STATIC).status_code == 201
    connection.enabled = False
    connection.save()
    with pytest.raises(ApplicationError, match="is disabled") as refused:
        delivery_replay(delivery=Delivery.objects.get(), actor=UserFactory())
    assert refused.value.code == "connection_disabled"
    assert Delivery.objects.count() == 1  # nothing processed, no replay kept


def test_delivery_replay_refuses_a_content_type_the_webhook_refuses(
    connection: Connection, post_alert: Any
) -> None:
    assert post_alert(load_fixture(STATIC), content_type="text/plain").status_code == 415
    with pytest.raises(ApplicationError, match="content type must be application/json"):
        delivery_replay(delivery=Delivery.objects.get(), actor=UserFactory())
    assert not Incident.objects.exists()


def test_delivery_replay_refuses_an_alert_naming_no_subscription(
    connection: Connection, post_alert: Any
) -> None:
    payload = with_essentials(STATIC, alertId="no-subscription-here", alertTargetIDs=[])
    assert post_alert(payload).status_code == 201
    connection.allowed_subscriptions = ["00000000-0000-0000-0000-0000000000aa"]
    connection.save()
    with pytest.raises(ApplicationError, match="names no subscription"):
        delivery_replay(delivery=Delivery.objects.get(), actor=UserFactory())
    assert Delivery.objects.count() == 1
