"""Reads across apps are explicit: the app above extends the one below, never the reverse."""

from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import resolve, reverse

from cmdb.api.views import ConfigurationItemViewSet as CmdbConfigurationItemViewSet
from cmdb.selectors import configuration_item_list
from incidents.admin import IncidentAdmin as IncidentsIncidentAdmin
from incidents.api.configuration_items import ConfigurationItemViewSet
from incidents.models import Incident
from incidents.selectors import configuration_item_list_with_open_incidents
from integrations.admin import IncidentAdmin
from integrations.selectors import alert_list_for_incident
from tests.factories import ConfigurationItemFactory, IncidentFactory
from tests.helpers import STATIC, fire

pytestmark = pytest.mark.django_db


def test_configuration_item_list_of_the_cmdb_knows_no_incidents() -> None:
    ConfigurationItemFactory(name="vm-1")
    ci = configuration_item_list().get()
    assert not hasattr(ci, "has_open_incidents")
    assert configuration_item_list_with_open_incidents().get().has_open_incidents is False


def test_configuration_item_endpoint_is_the_cmdbs_extended_by_incidents() -> None:
    view = resolve("/api/configuration-items/").func.cls
    assert view is ConfigurationItemViewSet
    assert issubclass(view, CmdbConfigurationItemViewSet)


def test_incident_page_alerts_come_from_the_integrations_app(
    operator_client: Client, post_alert: Any, connection: Any, django_assert_num_queries: Any
) -> None:
    assert isinstance(admin.site.get_model_admin(Incident), IncidentAdmin)
    assert issubclass(IncidentAdmin, IncidentsIncidentAdmin)
    incident = Incident.objects.get(number=fire(post_alert, STATIC, "/cross/app"))

    with django_assert_num_queries(2):  # the alerts, then their deliveries
        alerts = list(alert_list_for_incident(incident=incident))
        deliveries = [d for alert in alerts for d in alert.deliveries.all()]
    assert [a.incident_id for a in alerts] == [incident.pk]
    assert deliveries

    page = operator_client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    assert [a.pk for a in page.context["alerts"]] == [a.pk for a in alerts]
    assert 'id="alerts"' in page.content.decode()


def test_incident_page_without_alerts_says_it_was_opened_by_hand(operator_client: Client) -> None:
    incident = IncidentFactory()
    page = operator_client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    assert "Opened by hand: no Azure alert." in page.content.decode()
