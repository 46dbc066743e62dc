"""core.search.contains_any finds exactly what icontains finds, on every database.

On PostgreSQL it asks the joined trigram index first (Azure's names as one word); the
rows found must not change: same case-insensitivity, same substrings, and the LIKE
wildcards typed in a term still mean themselves.
"""

import pytest
from django.db import connection as db_connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from core.search import contains_any
from incidents.models import Incident
from incidents.selectors import SEARCH_JOINED, incident_search
from tests.factories import IncidentFactory
from tests.helpers import is_postgres

pytestmark = pytest.mark.django_db

TITLES = [
    "High CPU bench-rule-0 on vm-web-01",
    "High CPU bench-rule-10 on vm-web-02",
    "Disk full bench-rule-1 on vm-db-01",
    "a_b literal underscore",
    "axb no underscore",
    "aqb a q, not an underscore",
    "100% busy",
    "Path /subscriptions/abc/resourceGroups/RG.one:x",
]


def _title_contains(term: str) -> Q:
    """The title alone, through its own joined prefilter."""
    return contains_any(term, fields=("title",), joined=[("title",)], vendor=db_connection.vendor)


@pytest.fixture
def titled() -> None:
    for title in TITLES:
        IncidentFactory(title=title)


@pytest.mark.parametrize(
    "term",
    ["bench-rule-0", "BENCH-RULE-1", "rule-1", "vm-web-0", "a_b", "100%", "%", "_",
     "rg.ONE:X", "/resourcegroups/", "-", "cpu bench", "nothing-like-this"],
)  # fmt: skip
def test_search_contains_finds_what_icontains_finds(titled: None, term: str) -> None:
    searched = set(Incident.objects.filter(_title_contains(term)).values_list("pk"))
    contained = set(Incident.objects.filter(title__icontains=term).values_list("pk"))
    assert searched == contained


@pytest.mark.parametrize(
    "term",
    ["bench-rule-0", "BENCH-RULE-1", "vm-web-0", "a_b", "100%", "_", "rg.ONE:X", "inc0",
     "nothing-like-this"],
)  # fmt: skip
def test_contains_any_finds_what_an_or_of_icontains_finds(term: str) -> None:
    for n, title in enumerate(TITLES):
        # The description holds the next title: a term is found in either field.
        IncidentFactory(title=title, description=TITLES[(n + 1) % len(TITLES)] + " (desc)")
    fields = ("number", "title", "description")
    found = Incident.objects.filter(
        contains_any(term, fields=fields, joined=SEARCH_JOINED, vendor=db_connection.vendor)
    )
    contained = Incident.objects.filter(
        Q(number__icontains=term) | Q(title__icontains=term) | Q(description__icontains=term)
    )
    assert set(found.values_list("pk")) == set(contained.values_list("pk"))


def test_search_contains_keeps_wildcards_literal(titled: None) -> None:
    found = Incident.objects.filter(_title_contains("a_b"))
    assert list(found.values_list("title", flat=True)) == ["a_b literal underscore"]


def test_incident_search_asks_the_joined_index_on_postgresql(titled: None) -> None:
    with CaptureQueriesContext(db_connection) as ctx:
        found = list(incident_search(Incident.objects.all(), terms=["bench-rule-1"]))
    assert {i.title for i in found} == {TITLES[1], TITLES[2]}
    sql = " ".join(q["sql"] for q in ctx.captured_queries)
    assert ("translate(UPPER(" in sql) == is_postgres()


def test_incident_search_reads_the_title_and_description_index_on_postgresql(
    titled: None,
) -> None:
    if not is_postgres():
        pytest.skip("the trigram indexes are PostgreSQL's")
    searched = Incident.objects.filter(
        contains_any(
            "vm-web-01",
            fields=("number", "title", "description"),
            joined=SEARCH_JOINED,
            vendor="postgresql",
        )
    )
    with db_connection.cursor() as cursor:
        # A few rows: without these PostgreSQL would rather read them all.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
    plan = searched.order_by().explain()
    assert "incidents_text_joined_trgm" in plan
    assert "incidents_number_trgm" in plan
