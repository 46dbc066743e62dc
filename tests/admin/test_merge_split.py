"""The incident page's Merge and Split, and the list's alert count."""

from typing import Any

import pytest
from django.test import Client

from incidents.choices import IncidentState, JournalKind
from incidents.models import Incident
from incidents.services import incident_cancel
from integrations.merging import incident_merge
from integrations.models import Alert
from tests.helpers import INCIDENTS, Fire, errors_of, messages_of

pytestmark = pytest.mark.django_db


def _page(incident: Incident) -> str:
    return f"{INCIDENTS}{incident.pk}/change/"


def _merged(fire: Fire, operator: Any) -> Incident:
    """One incident holding two alerts (vm-a, vm-b)."""
    keep, other = fire("vm-a"), fire("vm-b")
    incident_merge(incident=other, into=keep, actor=operator)
    return Incident.objects.get(pk=keep.pk)


def test_incident_page_offers_merge_and_split_to_operators(
    operator_client: Client, fire: Fire, operator: Any
) -> None:
    single = fire("vm-c")
    grouped = _merged(fire, operator)

    single_page = operator_client.get(_page(single)).content.decode()
    grouped_page = operator_client.get(_page(grouped)).content.decode()

    assert 'data-action="merge"' in single_page
    assert 'data-action="split"' not in single_page  # one alert: nothing to split
    assert 'data-action="split"' in grouped_page


def test_incident_page_offers_neither_to_viewers_nor_on_a_canceled_incident(
    viewer_client: Client, operator_client: Client, fire: Fire
) -> None:
    incident = fire("vm-a")
    assert 'data-action="merge"' not in viewer_client.get(_page(incident)).content.decode()

    incident_cancel(incident=incident, actor="test", reason="false alarm")
    assert 'data-action="merge"' not in operator_client.get(_page(incident)).content.decode()


def test_incident_merge_form_merges_and_goes_to_the_target(
    operator_client: Client, fire: Fire
) -> None:
    target, source = fire("vm-a"), fire("vm-b")

    form = operator_client.get(f"{_page(source)[: -len('change/')]}merge/")
    response = operator_client.post(
        f"{INCIDENTS}{source.pk}/merge/", {"into": target.number.lower()}, follow=True
    )

    assert form.status_code == 200
    assert response.redirect_chain[-1][0] == _page(target)
    assert f"{source.number} merged into {target.number} (1 alert moved)" in " ".join(
        messages_of(response)
    )
    source.refresh_from_db()
    assert source.state == IncidentState.CANCELED
    assert source.journal.filter(kind=JournalKind.MERGED, actor_name="olga").exists()
    assert Alert.objects.filter(incident=target).count() == 2


def test_incident_merge_form_says_why_it_refuses(operator_client: Client, fire: Fire) -> None:
    incident = fire("vm-a")

    unknown = operator_client.post(f"{INCIDENTS}{incident.pk}/merge/", {"into": "INC9999999"})
    itself = operator_client.post(f"{INCIDENTS}{incident.pk}/merge/", {"into": incident.number})

    assert unknown.status_code == 200
    assert "No incident INC9999999." in unknown.content.decode()
    assert itself.status_code == 200
    assert errors_of(itself) == [f"{incident.number} cannot be merged into itself."]
    incident.refresh_from_db()
    assert incident.state == IncidentState.NEW


def test_incident_split_form_moves_the_ticked_alerts(
    operator_client: Client, fire: Fire, operator: Any
) -> None:
    incident = _merged(fire, operator)
    moving = list(Alert.objects.filter(incident=incident).order_by("fired_at", "pk"))[-1]

    form = operator_client.get(f"{INCIDENTS}{incident.pk}/split/")
    response = operator_client.post(
        f"{INCIDENTS}{incident.pk}/split/", {"alerts": [moving.pk]}, follow=True
    )

    assert form.status_code == 200
    assert moving.alert_rule in form.content.decode()
    moving.refresh_from_db()
    new = moving.incident
    assert new is not None
    assert new.pk != incident.pk
    assert response.redirect_chain[-1][0] == _page(new)
    assert f"1 alert of {incident.number} split out into {new.number}." in messages_of(response)
    assert new.journal.filter(kind=JournalKind.SPLIT).exists()


def test_incident_split_form_refuses_every_alert(
    operator_client: Client, fire: Fire, operator: Any
) -> None:
    incident = _merged(fire, operator)
    every = list(Alert.objects.filter(incident=incident).values_list("pk", flat=True))

    response = operator_client.post(f"{INCIDENTS}{incident.pk}/split/", {"alerts": every})
    nothing = operator_client.post(f"{INCIDENTS}{incident.pk}/split/", {})

    assert response.status_code == 200
    assert "at least one must stay" in " ".join(errors_of(response))
    assert nothing.status_code == 200
    assert "This field is required" in nothing.content.decode()
    assert Incident.objects.filter(state=IncidentState.NEW).count() == 1


def test_incident_merge_and_split_pages_are_refused_to_viewers(
    viewer_client: Client, fire: Fire
) -> None:
    target, source = fire("vm-a"), fire("vm-b")

    assert viewer_client.get(f"{INCIDENTS}{source.pk}/merge/").status_code == 403
    merge = viewer_client.post(f"{INCIDENTS}{source.pk}/merge/", {"into": target.number})
    assert merge.status_code == 403
    assert viewer_client.post(f"{INCIDENTS}{source.pk}/split/", {}).status_code == 403
    source.refresh_from_db()
    assert source.state == IncidentState.NEW


def test_incident_list_shows_the_alert_count(
    operator_client: Client, fire: Fire, operator: Any
) -> None:
    _merged(fire, operator)

    page = operator_client.get(INCIDENTS).content.decode()

    assert "column-alert_count_column" in page
    assert '<td class="field-alert_count_column">2</td>' in page
