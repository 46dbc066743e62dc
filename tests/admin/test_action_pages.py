"""The pages that act on incidents share their breadcrumbs and form body (the includes in
templates/admin/incidents/incident/): the lifecycle form and integrations' merge form."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.helpers import INCIDENTS, Fire

pytestmark = pytest.mark.django_db


def _crumbs(html: str) -> list[str]:
    block = html.split('<div class="breadcrumbs">', 1)[1].split("</div>", 1)[0]
    return [
        re.sub(r"\s+", " ", part).strip()
        for part in re.sub(r"<[^>]+>", "", block).split("&rsaquo;")
    ]


def test_action_pages_lifecycle_form_shows_the_incident_and_the_action(
    operator_client: Client, fire: Fire
) -> None:
    incident = fire("vm-1")
    url = reverse("admin:incidents_incident_lifecycle", args=[incident.pk, "hold"])
    html = operator_client.get(url).content.decode()
    assert _crumbs(html)[-2:] == [incident.number, "Put on hold…"]
    assert f'href="{INCIDENTS}{incident.pk}/change/">{incident.number}</a>' in html
    assert '<input type="submit" class="default" value="Put on hold">' in html
    assert 'class="button cancel-link">Go back</a>' in html


def test_action_pages_merge_form_shows_the_incident_and_the_verb(
    operator_client: Client, fire: Fire
) -> None:
    incident = fire("vm-1")
    html = operator_client.get(f"{INCIDENTS}{incident.pk}/merge/").content.decode()
    assert _crumbs(html)[-2:] == [incident.number, "Merge into another incident"]
    assert '<input type="submit" class="default" value="Merge">' in html
    assert 'name="into"' in html
