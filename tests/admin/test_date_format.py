"""One date format, with its zone, on every page of the console: "2026-12-01 14:05 UTC"."""

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import Settings as SettingsWrapper

from core.display import datetime_display
from incidents.services import incident_add_work_note
from integrations.models import Delivery
from tests.helpers import INCIDENTS, STATIC, Fire, with_essentials

pytestmark = pytest.mark.django_db

ONE_FORMAT = re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\b")
# Anything else that reads as a date or a time: ISO dates (with or without a time, a "T",
# seconds), month names with a day, numeric dates with slashes, clock times, a.m./p.m.
DATE_LIKE = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2}\b"
    r"|\b\d{1,2}/\d{1,2}/\d{2,4}\b"
    r"|\b\d{1,2}:\d{2}\b"
    r"|\b[ap]\.m\.|\b(?:AM|PM)\b|\bmidnight\b|\bnoon\b"
)


class VisibleText(HTMLParser):
    """The text a reader sees, and the tooltips (`title` attributes).

    Skipped: scripts and styles, and what is shown as Azure sent it (the raw body in
    <pre>, the description Azure's alert was turned into, text areas). The date drill-down
    above a list (years, months, days: no times) goes to `drilldown`.
    """

    SKIP = {"script", "style", "pre", "textarea"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.drilldown: list[str] = []
        self.stack: list[str] = []  # per open element: "", "skip" or "drilldown"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("title"):
            self.parts.append(values["title"] or "")
        if tag in self.VOID:
            return
        classes = (values.get("class") or "").split()
        if tag in self.SKIP or "field-description" in classes:
            self.stack.append("skip")
        else:
            self.stack.append("drilldown" if "toplinks" in classes else "")

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "skip" in self.stack:
            return
        (self.drilldown if "drilldown" in self.stack else self.parts).append(data)


def dates_on(client: Client, url: str) -> list[str]:
    """The dates shown on a page; fails on any date-like text in another format."""
    response = client.get(url)
    assert response.status_code == 200, url
    parser = VisibleText()
    parser.feed(response.content.decode())
    text = " ".join(parser.parts)
    found = ONE_FORMAT.findall(text)
    rest = ONE_FORMAT.sub("", text)
    others = [rest[max(0, m.start() - 40) : m.end() + 40] for m in DATE_LIKE.finditer(rest)]
    assert not others, f"{url}: {others}"
    # Years, months and days, in the same order: 2026, 2026-12, 2026-12-01.
    drilldown = " ".join(parser.drilldown).replace("‹", "").split()
    assert all(re.fullmatch(r"\d{4}(-\d{2}){0,2}", label) for label in drilldown), drilldown
    return found


@pytest.fixture
def worked_incident(fire: Fire, post_alert: Any, operator: Any) -> Any:
    """An incident with a fired and a resolved delivery, a work note and a resolution."""
    incident = fire("vm-web-1", fired_at=timezone.now())
    alert = incident.alerts.get()
    resolved = with_essentials(
        STATIC,
        alertId=alert.alert_id,
        monitorCondition="Resolved",
        alertTargetIDs=alert.target_ids,
        resolvedDateTime=timezone.now().isoformat().replace("+00:00", "Z"),
    )
    assert post_alert(resolved).status_code == 200
    incident_add_work_note(incident=incident, actor=operator, message="Looking at it.")
    incident.refresh_from_db()
    return incident


def test_console_pages_show_one_date_format(operator_client: Client, worked_incident: Any) -> None:
    incident = worked_incident
    alert = incident.alerts.get()
    delivery = Delivery.objects.order_by("pk").first()
    ci = incident.configuration_items.get()

    # The incident page: its fields (opened, resolved), alerts, deliveries and journal.
    page = dates_on(operator_client, reverse("admin:incidents_incident_change", args=[incident.pk]))
    assert len(page) >= 8
    assert datetime_display(incident.opened_at) in page
    assert datetime_display(incident.resolved_at) in page
    # The incident list, in each column and tooltip that shows a time.
    assert len(dates_on(operator_client, INCIDENTS + "?state=all")) >= 2
    # A delivery, an alert, a CI with its incidents, and the lists of them.
    assert dates_on(
        operator_client, reverse("admin:integrations_delivery_change", args=[delivery.pk])
    )
    assert dates_on(operator_client, reverse("admin:integrations_alert_change", args=[alert.pk]))
    assert dates_on(operator_client, reverse("admin:cmdb_configurationitem_change", args=[ci.pk]))
    for name in ["integrations_delivery", "integrations_alert", "cmdb_configurationitem"]:
        assert dates_on(operator_client, reverse(f"admin:{name}_changelist"))
    # The home page with its dashboard (figures only, no dates today: nothing else either).
    dates_on(operator_client, reverse("admin:index"))


def test_datetime_display_names_the_zone(settings: SettingsWrapper) -> None:
    moment = datetime(2026, 12, 1, 14, 5, 33, tzinfo=UTC)
    assert datetime_display(moment) == "2026-12-01 14:05 UTC"
    settings.TIME_ZONE = "Europe/Berlin"
    timezone.deactivate()
    assert datetime_display(moment) == "2026-12-01 15:05 CET"
