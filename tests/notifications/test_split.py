"""A split's new incident is announced as the webhook's: `incident_opened` rules send for it.

The jobs run on the worker's threads, so this test commits (transaction=True).
"""

from typing import Any, cast

import pytest

from core import jobs
from core.events import Event
from incidents.models import AssignmentGroup, Incident
from integrations.merging import incident_merge, incident_split
from integrations.models import Alert, AssignmentRule
from notifications.services import notification_channel_create, notification_rule_create
from tests.factories import AssignmentGroupFactory
from tests.helpers import STATIC, alert_id, fire, make_user


@pytest.mark.django_db(transaction=True)
def test_notification_incident_opened_rule_sends_for_a_split_incident(
    post_alert: Any, connection: Any, receiver: Any
) -> None:
    hook = receiver(204)
    web = cast(AssignmentGroup, AssignmentGroupFactory(name="Web"))
    channel = notification_channel_create(name="web", kind="webhook", target=hook.url)
    # Only Web's incidents: the split's incident reaches it by its assignment rule.
    notification_rule_create(
        channel=channel, events=[Event.INCIDENT_OPENED], assignment_groups=[web]
    )
    kept = Incident.objects.get(number=fire(post_alert, STATIC, alert_id(), alertRule="cpu-a"))
    other = Incident.objects.get(number=fire(post_alert, STATIC, alert_id(), alertRule="cpu-b"))
    actor = make_user("operator")
    incident_merge(incident=other, into=kept, actor=actor)
    jobs.run_worker(wait=False, install_signal_handlers=False)
    assert hook.requests == []  # neither opening was Web's
    AssignmentRule.objects.create(name="b", assignment_group=web, match={"alert_rules": ["cpu-b"]})

    moved = Alert.objects.get(alert_rule="cpu-b")
    new = incident_split(incident=kept, alert_pks=[moved.pk], actor=actor).incident
    jobs.run_worker(wait=False, install_signal_handlers=False)

    [sent] = hook.json_bodies()
    assert (sent["event"], sent["incident"]["number"]) == ("incident_opened", new.number)
