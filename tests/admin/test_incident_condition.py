"""The condition line: computed at ingest, stored on the alert, highlighted on the incident page."""

from typing import Any

import pytest
from django.test import Client

from integrations.models import Alert, Connection
from tests.helpers import INCIDENTS, RESOURCE_HEALTH, Fire, alert_id, with_essentials

pytestmark = pytest.mark.django_db


def test_alert_ingest_stores_condition_line(fire: Fire) -> None:
    incident = fire("vm-web-1")

    alert = Alert.objects.get(incident=incident)
    assert alert.condition == "Transactions (Total) 100 > 0 over 5 min [ApiName=GetBlob]"
    assert incident.title == "Transactions 100 > 0 on vm-web-1"


def test_incident_page_highlights_condition_line_of_each_alert(
    operator_client: Client, post_alert: Any, fire: Fire
) -> None:
    incident = fire(fixture=RESOURCE_HEALTH)
    url = f"{INCIDENTS}{incident.pk}/change/"

    page = operator_client.get(url).content.decode()

    assert (
        '<p class="condition-line" title="What Azure reported">'
        "Available → Unavailable, user initiated (event Active): Rebooted by user</p>"
    ) in page
    assert page.index('class="condition-line"') < page.index('<dl class="facts">')


def test_incident_page_shows_no_condition_line_for_alert_without_one(
    operator_client: Client, post_alert: Any, fire: Fire
) -> None:
    incident = fire("vm-web-1")
    Alert.objects.filter(incident=incident).update(condition="")

    page = operator_client.get(f"{INCIDENTS}{incident.pk}/change/").content.decode()

    assert 'class="condition-line"' not in page


def test_incident_page_escapes_condition_line(
    operator_client: Client, post_alert: Any, connection: Connection
) -> None:
    payload = with_essentials(RESOURCE_HEALTH, alertId=alert_id())
    payload["data"]["alertContext"]["properties"]["title"] = "<script>alert(1)</script>"
    number = post_alert(payload).json()["incident"]
    alert = Alert.objects.get(incident__number=number)

    page = operator_client.get(f"{INCIDENTS}{alert.incident_id}/change/").content.decode()

    assert "(event Active): &lt;script&gt;alert(1)&lt;/script&gt;</p>" in page
    assert "<script>alert(1)</script>" not in page
