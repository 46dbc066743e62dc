"""The incident list at a glance: whole titles in tooltips, when and how long ago, folding sidebar.

How it looks in a browser at 1366, 1440 and 1920 px is tests/admin/test_browser.py.
"""

from typing import Any

import pytest
from django.test import Client

from core.display import datetime_display
from incidents.models import Incident
from tests.helpers import INCIDENTS, Fire

pytestmark = pytest.mark.django_db


def test_incident_list_title_cell_carries_the_whole_title(
    operator_client: Client, fire: Fire
) -> None:
    incident = fire("vm-1")
    title = ("Disk almost full on vm-1 & its data disks " * 7)[:255]
    Incident.objects.filter(pk=incident.pk).update(title=title)

    page = operator_client.get(INCIDENTS).content.decode()

    escaped = title.replace("&", "&amp;")
    assert f'<span class="clamp" title="{escaped}">{escaped}</span>' in page


def test_incident_list_opened_column_shows_when_and_how_long_ago(
    operator_client: Client, incident: Any
) -> None:
    page = operator_client.get(INCIDENTS).content.decode()
    assert f'{datetime_display(incident.opened_at)}<span class="age">' in page
    assert " ago</span>" in page


def test_console_pages_fold_the_sidebar_on_narrow_screens(operator_client: Client) -> None:
    page = operator_client.get(INCIDENTS).content.decode()
    # Before Django's nav_sidebar.js runs (deferred), which reads the stored choice.
    assert '<script src="/static/console/sidebar.js"></script>' in page
    assert page.index("console/sidebar.js") < page.index("console/console.js")
