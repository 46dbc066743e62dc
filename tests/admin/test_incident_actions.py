"""Lifecycle actions, on the list (bulk) and on the incident page: services, journal, refusals."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from incidents.choices import IncidentState
from incidents.lifecycle import LIFECYCLE
from incidents.models import Incident
from incidents.services import (
    TRANSITIONS,
    incident_cancel,
    incident_close,
    incident_hold,
    incident_resolve,
    incident_start,
)
from tests.factories import AssignmentGroupFactory, IncidentFactory, UserFactory
from tests.helpers import INCIDENTS, Fire, errors_of, messages_of, signed_in

pytestmark = pytest.mark.django_db

S = IncidentState


def bulk(client: Client, action: str, incidents: list[Incident], **form: Any) -> Any:
    """POST a list action; with `form`, also the intermediate page's answer."""
    data: dict[str, Any] = {"action": action, "_selected_action": [i.pk for i in incidents]}
    if form:
        data.update(form, apply="1")
    else:
        data["index"] = "0"
    return client.post(INCIDENTS + "?state=all", data, follow=True)


def page_action(client: Client, incident: Incident, name: str, **form: Any) -> Any:
    url = reverse("admin:incidents_incident_lifecycle", args=[incident.pk, name])
    return client.post(url, form, follow=True)


def incident_in(state: str) -> Incident:
    """An incident (opened by hand) moved to `state` through the services."""
    incident = IncidentFactory()
    if state == S.IN_PROGRESS:
        incident_start(incident=incident, actor="test")
    elif state == S.ON_HOLD:
        incident_hold(incident=incident, actor="test", reason="vendor")
    elif state in (S.RESOLVED, S.CLOSED):
        incident_resolve(incident=incident, actor="test", resolution_code="solved")
        if state == S.CLOSED:
            incident_close(incident=incident, actor="test")
    elif state == S.CANCELED:
        incident_cancel(incident=incident, actor="test", reason="noise")
    incident.refresh_from_db()
    assert incident.state == state
    return incident


def last_entry(incident: Incident) -> Any:
    return incident.journal.order_by("-created_at", "-pk").first()


# --- bulk actions on the list --------------------------------------------------------------


def test_bulk_assign_to_me(operator_client: Client, operator: Any, fire: Fire) -> None:
    first, second = fire("vm-1"), fire("vm-2")
    response = bulk(operator_client, "take_selected", [first, second])
    assert f"Assigned to you {first.number}, {second.number}." in messages_of(response)
    for incident in (first, second):
        incident.refresh_from_db()
        assert incident.assigned_to == operator
        entry = last_entry(incident)
        assert (entry.kind, entry.actor) == ("assigned", operator)

    response = bulk(operator_client, "take_selected", [first])
    assert f"Already yours: {first.number}." in messages_of(response)
    assert first.journal.filter(kind="assigned").count() == 1


def test_bulk_assign_asks_whom_then_assigns(
    operator_client: Client, operator: Any, fire: Fire
) -> None:
    incident = fire("vm-1")
    alice = UserFactory(username="alice", is_staff=True)
    team = AssignmentGroupFactory(name="Database team")

    page = bulk(operator_client, "assign_selected", [incident])
    assert page.templates[0].name == "admin/incidents/incident/lifecycle_form.html"
    assert incident.number in page.content.decode()
    assert "alice" in page.content.decode()

    response = bulk(
        operator_client,
        "assign_selected",
        [incident],
        assigned_to=alice.pk,
        assignment_group=team.pk,
    )
    assert f"Assigned {incident.number}." in messages_of(response)
    incident.refresh_from_db()
    assert (incident.assigned_to, incident.assignment_group) == (alice, team)
    entry = last_entry(incident)
    assert entry.actor == operator
    assert entry.message == "Assigned to alice (Database team)."


def test_bulk_start(operator_client: Client, operator: Any, fire: Fire) -> None:
    incident = fire("vm-1")
    bulk(operator_client, "start_selected", [incident])
    incident.refresh_from_db()
    assert incident.state == S.IN_PROGRESS
    assert last_entry(incident).actor == operator


def test_bulk_hold_needs_a_reason(operator_client: Client, operator: Any, fire: Fire) -> None:
    incident = fire("vm-1")
    refused = bulk(operator_client, "hold_selected", [incident], reason="  ")
    assert "This field is required." in refused.content.decode()
    incident.refresh_from_db()
    assert incident.state == S.NEW

    bulk(operator_client, "hold_selected", [incident], reason="Waiting for the vendor")
    incident.refresh_from_db()
    assert incident.state == S.ON_HOLD
    entry = last_entry(incident)
    assert (entry.actor, entry.message) == (operator, "On hold: Waiting for the vendor")


def test_bulk_resolve_asks_for_code_and_notes(
    operator_client: Client, operator: Any, fire: Fire
) -> None:
    first, second = fire("vm-1"), fire("vm-2")

    page = bulk(operator_client, "resolve_selected", [first, second])
    html = page.content.decode()
    assert 'name="resolution_code"' in html
    assert 'name="resolution_notes"' in html
    assert html.count('name="_selected_action"') == 2
    for incident in (first, second):
        incident.refresh_from_db()
        assert incident.state == S.NEW  # nothing happens before the form is sent

    response = bulk(
        operator_client,
        "resolve_selected",
        [first, second],
        resolution_code="workaround",
        resolution_notes="Restarted the service.",
    )
    assert f"Resolved {first.number}, {second.number}." in messages_of(response)
    for incident in (first, second):
        incident.refresh_from_db()
        assert (incident.state, incident.resolution_code) == (S.RESOLVED, "workaround")
        assert incident.resolution_notes == "Restarted the service."
        entry = last_entry(incident)
        assert entry.actor == operator
        assert entry.message == "Resolved (Workaround). Restarted the service."


def test_bulk_close_reports_refusals_per_incident(operator_client: Client, fire: Fire) -> None:
    open_one = fire("vm-1")
    resolved = fire("vm-2")
    incident_resolve(incident=resolved, actor="test", resolution_code="solved")

    response = bulk(operator_client, "close_selected", [open_one, resolved])

    shown = messages_of(response)
    assert f"{open_one.number} is new; it cannot be moved to closed." in shown
    assert f"Closed {resolved.number}." in shown
    open_one.refresh_from_db()
    resolved.refresh_from_db()
    assert (open_one.state, resolved.state) == (S.NEW, S.CLOSED)
    assert not open_one.journal.filter(kind="state_changed").exists()


def test_bulk_cancel_and_reopen_need_a_reason(
    operator_client: Client, operator: Any, fire: Fire
) -> None:
    noise, fixed = fire("vm-1"), fire("vm-2")
    incident_resolve(incident=fixed, actor="test", resolution_code="solved")

    bulk(operator_client, "cancel_selected", [noise], reason="Maintenance window")
    bulk(operator_client, "reopen_selected", [fixed], reason="It failed again")

    noise.refresh_from_db()
    fixed.refresh_from_db()
    assert noise.state == S.CANCELED
    assert last_entry(noise).message == "Canceled. Maintenance window"
    assert (fixed.state, fixed.resolution_code, fixed.resolved_at) == (S.IN_PROGRESS, "", None)
    assert last_entry(fixed).message == "Reopened. It failed again"
    assert last_entry(fixed).actor == operator


def test_bulk_start_refuses_a_resolved_incident(operator_client: Client, fire: Fire) -> None:
    incident = fire("vm-1")
    incident_resolve(incident=incident, actor="test", resolution_code="solved")
    response = bulk(operator_client, "start_selected", [incident])
    assert errors_of(response) == [
        f"{incident.number} is resolved; reopen it instead (that clears the resolution)."
    ]
    incident.refresh_from_db()
    assert incident.state == S.RESOLVED


def test_bulk_action_on_every_row_of_a_filtered_list(operator_client: Client, fire: Fire) -> None:
    incidents = [fire(f"vm-{n}") for n in range(3)]
    response = operator_client.post(
        INCIDENTS,
        {
            "action": "hold_selected",
            "_selected_action": [incidents[0].pk],
            "select_across": "1",
            "reason": "Change freeze",
            "apply": "1",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert set(Incident.objects.values_list("state", flat=True)) == {S.ON_HOLD}


# Every (state, action) the console offers, against the service's table.
CASES = [(state, name) for state in S.values for name in LIFECYCLE]
FORM_DATA = {
    "assign": {"assigned_to": "", "assignment_group": ""},
    "hold": {"reason": "r"},
    "resolve": {"resolution_code": "solved", "resolution_notes": "n"},
    "cancel": {"reason": "r"},
    "reopen": {"reason": "r"},
}


@pytest.mark.parametrize(("state", "name"), CASES)
def test_bulk_action_follows_the_transition_table(
    operator_client: Client, state: str, name: str
) -> None:
    incident = incident_in(state)
    before = incident.journal.count()

    response = bulk(operator_client, f"{name}_selected", [incident], **FORM_DATA.get(name, {}))

    incident.refresh_from_db()
    errors = errors_of(response)
    if LIFECYCLE[name].available(state):
        assert incident.journal.count() == before + 1, errors
        assert errors == []
    else:
        assert incident.state == state
        assert incident.journal.count() == before
        # A clear message naming the incident, never a silent no-op.
        assert len(errors) == 1
        assert errors[0].startswith(f"{incident.number} is ")


def test_lifecycle_table_matches_the_service_table() -> None:
    targets = {
        "start": S.IN_PROGRESS,
        "hold": S.ON_HOLD,
        "resolve": S.RESOLVED,
        "close": S.CLOSED,
        "cancel": S.CANCELED,
    }
    for state in S.values:
        for name, target in targets.items():
            expected = target in TRANSITIONS[state] and not (
                name == "start" and state == S.RESOLVED
            )
            assert LIFECYCLE[name].available(state) == expected, (state, name)
        assert LIFECYCLE["reopen"].available(state) == (state == S.RESOLVED)
        assert LIFECYCLE["take"].available(state) == (state not in (S.CLOSED, S.CANCELED))


# --- the incident page's buttons -----------------------------------------------------------


@pytest.mark.parametrize("state", S.values)
def test_incident_page_offers_the_actions_its_state_allows(
    operator_client: Client, state: str
) -> None:
    incident = incident_in(state)
    page = operator_client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    offered = {button["name"] for button in page.context["lifecycle_buttons"]}
    assert offered == {name for name, spec in LIFECYCLE.items() if spec.available(state)}
    for name in offered:
        assert f'data-action="{name}"' in page.content.decode()


def test_incident_page_take_start_resolve_close(
    operator_client: Client, operator: Any, fire: Fire
) -> None:
    incident = fire("vm-1")
    change_url = reverse("admin:incidents_incident_change", args=[incident.pk])

    response = page_action(operator_client, incident, "take")
    assert response.redirect_chain[-1][0] == change_url
    assert f"Assigned to you {incident.number}." in messages_of(response)
    page = operator_client.get(change_url)
    assert "take" not in {b["name"] for b in page.context["lifecycle_buttons"]}

    page_action(operator_client, incident, "start")

    form_page = operator_client.get(
        reverse("admin:incidents_incident_lifecycle", args=[incident.pk, "resolve"])
    )
    assert form_page.status_code == 200
    assert 'name="resolution_notes"' in form_page.content.decode()

    # The code is required; the notes are not (the service decides, as for the API).
    missing = page_action(operator_client, incident, "resolve", resolution_notes="Disk.")
    assert missing.status_code == 200
    assert "This field is required." in missing.content.decode()
    assert Incident.objects.get(pk=incident.pk).state == S.IN_PROGRESS

    page_action(
        operator_client,
        incident,
        "resolve",
        resolution_code="solved",
        resolution_notes="Disk extended.",
    )
    page_action(operator_client, incident, "close")

    incident.refresh_from_db()
    assert incident.state == S.CLOSED
    assert incident.assigned_to == operator
    states = list(
        incident.journal.filter(kind="state_changed")
        .order_by("created_at", "pk")
        .values_list("to_state", "actor__username")
    )
    assert states == [(S.IN_PROGRESS, "olga"), (S.RESOLVED, "olga"), (S.CLOSED, "olga")]


def test_incident_page_reports_a_refused_transition(operator_client: Client, fire: Fire) -> None:
    incident = fire("vm-1")
    response = page_action(operator_client, incident, "close")
    assert f"{incident.number} is new; it cannot be moved to closed." in messages_of(response)
    incident.refresh_from_db()
    assert incident.state == S.NEW


def test_incident_page_actions_without_a_form_need_a_post(
    operator_client: Client, incident: Incident
) -> None:
    url = reverse("admin:incidents_incident_lifecycle", args=[incident.pk, "start"])
    assert operator_client.get(url).status_code == 405
    unknown = reverse("admin:incidents_incident_lifecycle", args=[incident.pk, "explode"])
    assert operator_client.post(unknown).status_code == 404
    missing = reverse("admin:incidents_incident_lifecycle", args=[999999, "start"])
    assert operator_client.post(missing).status_code == 404


def test_incident_page_actions_are_csrf_protected(operator: Any, incident: Incident) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    url = reverse("admin:incidents_incident_lifecycle", args=[incident.pk, "start"])
    assert client.post(url).status_code == 403
    note = reverse("admin:incidents_incident_note", args=[incident.pk])
    assert client.post(note, {"message": "x"}).status_code == 403
    incident.refresh_from_db()
    assert incident.state == S.NEW


# --- work notes -------------------------------------------------------------------------------


def test_work_note_is_journaled_with_its_author(
    operator_client: Client, operator: Any, incident: Incident
) -> None:
    url = reverse("admin:incidents_incident_note", args=[incident.pk])
    response = operator_client.post(url, {"message": "Called the <b>vendor</b>."})
    assert response.status_code == 302
    assert response.url.endswith("#journal")
    entry = last_entry(incident)
    assert (entry.kind, entry.actor, entry.message) == (
        "work_note",
        operator,
        "Called the <b>vendor</b>.",
    )
    page = operator_client.get(response.url).content.decode()
    assert "Called the &lt;b&gt;vendor&lt;/b&gt;." in page

    empty = operator_client.post(url, {"message": "   "}, follow=True)
    assert "The work note was not added: This field is required." in messages_of(empty)
    assert incident.journal.filter(kind="work_note").count() == 1
    assert operator_client.get(url).status_code == 405


# --- who may act ------------------------------------------------------------------------------


def test_viewer_cannot_act(viewer_client: Client, incident: Incident) -> None:
    before = incident.journal.count()
    lists = viewer_client.get(INCIDENTS)
    assert lists.status_code == 200
    assert 'name="action"' not in lists.content.decode()  # no actions, no checkboxes

    response = bulk(viewer_client, "start_selected", [incident])
    assert response.status_code == 200  # Django says "No action selected"

    for name in LIFECYCLE:
        url = reverse("admin:incidents_incident_lifecycle", args=[incident.pk, name])
        assert viewer_client.post(url, FORM_DATA.get(name, {})).status_code == 403, name
        assert viewer_client.get(url).status_code == 403, name
    note = reverse("admin:incidents_incident_note", args=[incident.pk])
    assert viewer_client.post(note, {"message": "x"}).status_code == 403

    incident.refresh_from_db()
    assert incident.state == S.NEW
    assert incident.journal.count() == before


def test_staff_without_a_role_cannot_act(staff_client: Client, incident: Incident) -> None:
    assert staff_client.get(INCIDENTS).status_code == 403
    url = reverse("admin:incidents_incident_lifecycle", args=[incident.pk, "take"])
    assert staff_client.post(url).status_code == 403


def test_a_user_with_only_change_permission_acts_without_a_role(incident: Incident) -> None:
    from django.contrib.auth.models import Permission

    user = UserFactory(username="single", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="view_incident"),
        Permission.objects.get(codename="change_incident"),
    )
    client = signed_in(user)
    page_action(client, incident, "start")
    incident.refresh_from_db()
    assert incident.state == S.IN_PROGRESS


def test_long_selections_are_summarised_in_messages() -> None:
    from incidents.admin.lifecycle import MESSAGE_NUMBERS, numbers_text

    numbers = [f"INC{n:07d}" for n in range(MESSAGE_NUMBERS + 3)]
    assert numbers_text(numbers).endswith("INC0000019 and 3 more")
    assert numbers_text(numbers[:2]) == "INC0000000, INC0000001"


def test_a_refusal_when_saving_the_page_is_shown(
    operator_client: Client, incident: Incident, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.exceptions import ApplicationError
    from incidents.admin import incident as incident_admin

    def refuse(**kwargs: Any) -> None:
        raise ApplicationError("Refused for the test.")

    monkeypatch.setattr(incident_admin, "incident_edit", refuse)
    url = reverse("admin:incidents_incident_change", args=[incident.pk])
    data = {"impact": 1, "urgency": incident.urgency, "assignment_group": "", "assigned_to": ""}
    response = operator_client.post(url, data, follow=True)
    assert "Refused for the test." in errors_of(response)
    incident.refresh_from_db()
    assert incident.impact != 1


def _changed_before_applied(monkeypatch: pytest.MonkeyPatch, meanwhile: Any) -> None:
    """Change each incident in the database after the console loaded it, before it acts."""
    from incidents.admin.incident import IncidentAdmin

    real = IncidentAdmin._apply

    def apply_late(self: Any, request: Any, spec: Any, incidents: Any, data: Any) -> None:
        incidents = list(incidents)
        for incident in incidents:
            meanwhile(Incident.objects.get(pk=incident.pk))
        real(self, request, spec, incidents, data)

    monkeypatch.setattr(IncidentAdmin, "_apply", apply_late)


def _azure_resolves(incident: Incident) -> None:
    incident_resolve(incident=incident, actor="Azure Monitor", resolution_code="resolved_by_source")


def test_incident_page_reports_a_state_changed_meanwhile(
    operator_client: Client, fire: Fire, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident = fire("vm-1")
    _changed_before_applied(monkeypatch, _azure_resolves)

    response = page_action(operator_client, incident, "cancel", reason="noise")

    assert errors_of(response) == [
        f"{incident.number} changed meanwhile (it is now resolved); reload it."
    ]
    incident.refresh_from_db()
    assert incident.state == S.RESOLVED
    assert last_entry(incident).to_state == S.RESOLVED


def test_bulk_action_reports_each_incident_changed_meanwhile(
    operator_client: Client, fire: Fire, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = fire("vm-1"), fire("vm-2")
    _changed_before_applied(
        monkeypatch,
        lambda i: incident_cancel(incident=i, actor="test", reason="x") if i == first else None,
    )

    response = bulk(operator_client, "take_selected", [first, second])

    assert errors_of(response) == [
        f"{first.number} changed meanwhile (it is now canceled); reload it."
    ]
    assert f"Assigned to you {second.number}." in messages_of(response)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, first.assigned_to) == (S.CANCELED, None)
    assert second.assigned_to is not None


def test_incident_page_saves_fields_and_assignment_in_one_step(
    operator_client: Client, incident: Incident, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page saves through `incident_edit`, as the API's PATCH: both or nothing."""
    from core.exceptions import ApplicationError
    from incidents import services

    def refuse(**kwargs: Any) -> None:
        raise ApplicationError("Assignment refused for the test.")

    monkeypatch.setattr(services, "incident_assign", refuse)
    alice = UserFactory(username="alice", is_staff=True)
    impact = incident.impact
    url = reverse("admin:incidents_incident_change", args=[incident.pk])
    data = {
        "impact": 1,
        "urgency": incident.urgency,
        "assignment_group": "",
        "assigned_to": alice.pk,
    }
    response = operator_client.post(url, data, follow=True)

    assert "Assignment refused for the test." in errors_of(response)
    incident.refresh_from_db()
    assert (incident.impact, incident.assigned_to) == (impact, None)  # rolled back, both
    assert not incident.journal.filter(kind="updated").exists()


@pytest.mark.parametrize("name", ["hold", "cancel", "reopen"])
def test_lifecycle_reason_is_asked_for_where_the_service_requires_it(name: str) -> None:
    """The console's form requires what the service refuses without (reason_required)."""
    from incidents.forms import form_for

    form = form_for(LIFECYCLE[name])({"reason": "  "})
    assert not form.is_valid()
    assert form.errors["reason"] == ["This field is required."]


def test_lifecycle_actions_are_the_tables_rows(operator_client: Client) -> None:
    """The list's bulk actions and the page's URLs come from one table."""
    page = operator_client.get(INCIDENTS)
    offered = [value for value, _ in page.context["action_form"].fields["action"].choices][1:]
    assert offered == [action.action_name for action in LIFECYCLE.values()]
