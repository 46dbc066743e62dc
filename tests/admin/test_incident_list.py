"""The incident list: columns, default filter, sorting, filters, search and query counts."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from incidents.models import AssignmentGroup, Incident
from incidents.services import incident_assign, incident_resolve
from integrations.models import Connection
from tests.factories import AssignmentGroupFactory, UserFactory
from tests.helpers import INCIDENTS, TENANT_ID, Fire, count_queries, vm_id

pytestmark = pytest.mark.django_db


def numbers(response: Any) -> list[str]:
    return [incident.number for incident in response.context["cl"].result_list]


def test_incident_list_shows_what_an_operator_needs(
    operator_client: Client, fire: Fire, operator: Any
) -> None:
    incident = fire("vm-web-1", "vm-web-2", severity="Sev1")
    group = AssignmentGroupFactory(name="Cloud operations")
    incident_assign(incident=incident, actor="test", assigned_to=operator, assignment_group=group)

    page = operator_client.get(INCIDENTS).content.decode()

    assert incident.number in page
    assert "Transactions 100 &gt; 0 on vm-web-1 (+1)" in page  # the title
    assert '<span class="badge state-new">New</span>' in page
    assert '<span class="badge priority-2">2 - High</span>' in page
    assert "Sev1" in page
    assert ">vm-web-1</a> (+1)" in page  # the main CI, linked to its page
    assert "olga" in page
    assert "Cloud operations" in page
    assert " ago</span>" in page  # age
    assert '<span class="badge condition-fired"' in page  # the last Azure condition


def test_incident_list_shows_open_incidents_unless_asked(
    operator_client: Client, fire: Fire
) -> None:
    open_one = fire("vm-1")
    resolved = fire("vm-2")
    incident_resolve(incident=resolved, actor="test", resolution_code="solved")

    assert numbers(operator_client.get(INCIDENTS)) == [open_one.number]
    assert set(numbers(operator_client.get(INCIDENTS + "?state=all"))) == {
        open_one.number,
        resolved.number,
    }
    assert numbers(operator_client.get(INCIDENTS + "?state=resolved")) == [resolved.number]


def test_incident_list_is_sorted_by_priority_then_age(operator_client: Client, fire: Fire) -> None:
    now = timezone.now()
    low_old = fire("a", severity="Sev3", fired_at=now - timedelta(days=3))
    high_new = fire("b", severity="Sev1", fired_at=now - timedelta(hours=1))
    high_old = fire("c", severity="Sev1", fired_at=now - timedelta(days=2))
    low_new = fire("d", severity="Sev3", fired_at=now - timedelta(minutes=5))

    assert numbers(operator_client.get(INCIDENTS)) == [
        high_old.number,
        high_new.number,
        low_old.number,
        low_new.number,
    ]


def test_incident_list_filters(
    operator_client: Client, fire: Fire, operator: Any, connection: Connection, post_alert: Any
) -> None:
    now = timezone.now()
    mine = fire("vm-1", severity="Sev0", fired_at=now - timedelta(hours=2))
    team = AssignmentGroupFactory(name="Network")
    team.members.add(operator)
    grouped = fire("vm-2", severity="Sev2", fired_at=now - timedelta(days=3))
    unassigned = fire("vm-3", severity="Sev4", fired_at=now - timedelta(days=10), alertRule="Disk")
    incident_assign(incident=mine, actor="test", assigned_to=operator, assignment_group=None)
    incident_assign(
        incident=grouped, actor="test", assigned_to=UserFactory(), assignment_group=team
    )
    other = Connection.objects.create(
        slug="fabrikam", name="Fabrikam", tenant_id=TENANT_ID, audiences=["api://x"]
    )
    resolved = fire("vm-4", fired_at=now - timedelta(days=20))
    incident_resolve(incident=resolved, actor="test", resolution_code="solved")

    def listed(query: str) -> set[str]:
        return set(numbers(operator_client.get(f"{INCIDENTS}?{query}")))

    assert listed("priority__exact=1") == {mine.number}
    assert listed("severity__exact=Sev2") == {grouped.number}
    assert listed(f"alerts__connection__id__exact={connection.pk}") == {
        mine.number,
        grouped.number,
        unassigned.number,
    }
    assert listed(f"alerts__connection__id__exact={other.pk}") == set()
    assert listed(f"assignment_group__id__exact={team.pk}") == {grouped.number}
    assert listed("assignee=me") == {mine.number}
    assert listed("assignee=my_groups") == {grouped.number}
    assert listed("assignee=unassigned") == {unassigned.number}
    assert listed("opened=24h") == {mine.number}
    assert listed("opened=7d") == {mine.number, grouped.number}
    assert listed("state=all&resolved=24h") == {resolved.number}
    assert listed("alert_rule=Disk") == {unassigned.number}
    ci = mine.configuration_items.get()
    assert listed(f"ci={ci.pk}") == {mine.number}
    assert "vm-1" in operator_client.get(f"{INCIDENTS}?ci={ci.pk}").content.decode()


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("{app.number}", "app"),
        ("{db_digits}", "db"),  # part of a number
        ("database", "db"),  # title
        ("CPU-rule", "app"),  # alert rule
        ("vm-db", "db"),  # CI name
        (vm_id("vm-db").upper(), "db"),  # resource ID, any casing
    ],
)
def test_incident_list_search(
    operator_client: Client, fire: Fire, term: str, expected: str
) -> None:
    found = {
        "app": fire("vm-app", alertRule="High CPU-rule"),
        "db": fire("vm-db", alertRule="Slow database queries"),
    }
    term = term.format(app=found["app"], db_digits=found["db"].number[3:].lstrip("0"))

    response = operator_client.get(INCIDENTS, {"q": term})

    assert numbers(response) == [found[expected].number]


def test_incident_list_search_by_alert_id(operator_client: Client, fire: Fire) -> None:
    incident = fire("vm-1")
    alert = incident.alerts.get()
    assert numbers(operator_client.get(INCIDENTS, {"q": alert.alert_id})) == [incident.number]


def test_incident_list_escapes_alert_text(operator_client: Client, fire: Fire) -> None:
    fire("vm-1", alertRule="<script>alert(1)</script>")
    page = operator_client.get(INCIDENTS).content
    assert b"<script>alert(1)" not in page
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page


def _many(fire: Fire, count: int, start: int) -> None:
    users = [UserFactory() for _ in range(3)]
    groups = [AssignmentGroup.objects.create(name=f"G{start}-{i}") for i in range(3)]
    for n in range(start, start + count):
        incident = fire(f"vm-{n}", f"db-{n}", severity=f"Sev{n % 5}")
        incident_assign(
            incident=incident,
            actor="test",
            assigned_to=users[n % 3],
            assignment_group=groups[n % 3],
        )


@pytest.mark.parametrize(
    "query",
    ["", "?state=all", "?q=vm", "?assignee=unassigned&priority__exact=2", "?o=4.-9"],
)
def test_incident_list_runs_a_constant_number_of_queries(
    operator_client: Client, fire: Fire, query: str
) -> None:
    _many(fire, 2, start=0)
    few = count_queries(operator_client, INCIDENTS + query)
    _many(fire, 12, start=10)
    many = count_queries(operator_client, INCIDENTS + query)
    assert many == few
    # 14 with the one query the alert rule and monitoring service filters share for their
    # choices (13 before them).
    assert many <= 14


def test_incident_list_query_count_does_not_grow_with_page_size(
    operator_client: Client, fire: Fire
) -> None:
    _many(fire, 12, start=0)
    rows = Incident.objects.count()
    # Both searched: an unsearched list asks PostgreSQL for an estimate first (one query
    # more, whatever the size: core.paginator).
    with_all = count_queries(operator_client, INCIDENTS + "?state=all&q=vm")
    one_row = count_queries(operator_client, INCIDENTS + "?state=all&q=vm-1")
    assert rows == 12
    assert with_all == one_row


def test_incident_list_shows_a_manual_incident_without_alert_or_ci(
    operator_client: Client,
) -> None:
    from tests.factories import IncidentFactory

    incident = IncidentFactory(title="Printer on fire")
    response = operator_client.get(INCIDENTS)
    assert numbers(response) == [incident.number]
    assert "Printer on fire" in response.content.decode()


@pytest.mark.parametrize("query", ["ci=abc", "state=nonsense"])
def test_incident_list_refuses_malformed_filters(operator_client: Client, query: str) -> None:
    response = operator_client.get(f"{INCIDENTS}?{query}")
    assert response.status_code == 302
    assert response.url.endswith("?e=1")


def test_incident_list_filter_on_an_unknown_ci_shows_nothing(
    operator_client: Client, fire: Fire
) -> None:
    fire("vm-1")
    response = operator_client.get(f"{INCIDENTS}?ci=999999")
    assert numbers(response) == []
    assert "#999999" in response.content.decode()
