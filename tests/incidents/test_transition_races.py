"""An operator's transition racing Azure's `Resolved` (PostgreSQL): no lost update.

The operator acts on a copy of the incident read before the delivery (a page loaded
earlier). To make the race certain rather than likely, the delivery is held right after
it has read the incident's state until the operator acts, so both decide from the same
`new`. Left alone, Azure then writes first (the operator waits on its row lock); every
other round the delivery is held until the operator has committed, so the other order
happens as surely. Whatever the order, the incident must end in a state the transition
table allows, and its journal must tell the truth: each state change starts where the
previous one ended.
"""

import threading
import uuid
from typing import Any

import pytest
from django.db import connection as db_connection
from django.db import transaction
from rest_framework.test import APIClient

from core.exceptions import StateChanged
from incidents import services
from incidents.choices import IncidentState, JournalKind
from incidents.models import Incident
from integrations import services as ingest
from integrations.models import Alert, Connection
from tests.factories import UserFactory
from tests.helpers import STATIC, TIMEOUT, AlertPoster, is_postgres, with_essentials

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

S = IncidentState
ROUNDS = 8  # per operator action
OPERATOR_ACTS = {
    "cancel": lambda incident, user: services.incident_cancel(
        incident=incident, actor=user, reason="false alarm"
    ),
    "start": lambda incident, user: services.incident_start(incident=incident, actor=user),
}


@pytest.fixture
def _postgres_only() -> None:
    if not is_postgres():
        pytest.skip("needs PostgreSQL: SQLite serialises writers, so there is no race to test")


class Race:
    """Holds the delivery after its read of the incident until the operator acts.

    With `operator_first`, until the operator's change has committed (or been refused).
    """

    def __init__(self) -> None:
        self.barrier: threading.Barrier | None = None
        self.operator_done = threading.Event()
        self.operator_first = False

    def lookup(self, real: Any) -> Any:
        def lookup_then_wait(connection: Connection, alert_id: str, **kwargs: Any) -> Alert | None:
            row = real(connection, alert_id, **kwargs)
            if row is not None and self.barrier is not None:
                self.barrier.wait(timeout=TIMEOUT)
                if self.operator_first:
                    assert self.operator_done.wait(timeout=TIMEOUT)
            return row

        return lookup_then_wait


@pytest.fixture
def race(monkeypatch: pytest.MonkeyPatch) -> Race:
    race = Race()
    monkeypatch.setattr(ingest, "_alert_find", race.lookup(ingest._alert_find))
    return race


def _transition_without_cas(
    *,
    incident: Incident,
    to_state: str,
    actor: Any,
    message: str,
    changes: dict[str, object] | None = None,
) -> Incident:
    """The negative control: check the caller's copy, then save over whatever is stored."""
    from_state = incident.state
    if to_state not in services.TRANSITIONS[from_state]:
        raise services.TransitionNotAllowed("not allowed")
    with transaction.atomic():
        for field, value in (changes or {}).items():
            setattr(incident, field, value)
        incident.state = to_state
        incident.save(update_fields=["state", "updated_at", *(changes or {})])
        services.journal_add(
            incident=incident,
            actor=actor,
            kind=JournalKind.STATE_CHANGED,
            message=message,
            from_state=from_state,
            to_state=to_state,
        )
    return incident


def journal_lies(incident: Incident) -> list[str]:
    """What is wrong with the incident's history, if anything."""
    entries = list(incident.journal.exclude(to_state="").order_by("created_at", "pk"))
    problems = []
    for before, after in zip(entries, entries[1:], strict=False):
        if after.from_state != before.to_state:
            problems.append(f"{after.from_state}→{after.to_state} after {before.to_state}")
        if after.to_state not in services.TRANSITIONS[before.to_state]:
            problems.append(f"forbidden {before.to_state}→{after.to_state}")
    state = Incident.objects.get(pk=incident.pk).state
    if entries[-1].to_state != state:
        problems.append(f"journal ends {entries[-1].to_state}, incident is {state}")
    return problems


def race_once(
    race: Race, poster: AlertPoster, signing_key: Any, act: str, *, operator_first: bool
) -> dict[str, Any]:
    """Open an incident, then race the operator's `act` on a stale copy with Resolved."""
    alert_id = f"/race/{uuid.uuid4()}"
    fired = with_essentials(STATIC, alertId=alert_id)
    number = poster(fired).json()["incident"]
    stale = Incident.objects.get(number=number)  # the page the operator loaded
    user = UserFactory()
    resolved = with_essentials(
        STATIC,
        alertId=alert_id,
        monitorCondition="Resolved",
        resolvedDateTime="2025-04-15T18:22:12.851Z",
    )
    race.barrier = threading.Barrier(2)
    race.operator_first = operator_first
    race.operator_done.clear()
    outcome: dict[str, Any] = {"number": number, "operator_first": operator_first}
    errors: list[BaseException] = []

    def azure() -> None:
        try:
            outcome["status"] = AlertPoster(APIClient(), signing_key)(resolved).status_code
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            db_connection.close()

    def operator() -> None:
        try:
            race.barrier.wait(timeout=TIMEOUT)
            OPERATOR_ACTS[act](stale, user)
            outcome["operator"] = "done"
        except StateChanged:
            outcome["operator"] = "refused"
        except BaseException as exc:
            errors.append(exc)
        finally:
            db_connection.close()
            race.operator_done.set()

    threads = [threading.Thread(target=azure), threading.Thread(target=operator)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT * 2)
    race.barrier = None
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    incident = Incident.objects.get(number=number)
    outcome.update(state=incident.state, lies=journal_lies(incident))
    assert Alert.objects.get(alert_id=alert_id).monitor_condition == "Resolved"
    return outcome


@pytest.mark.usefixtures("_postgres_only", "key_set")
@pytest.mark.parametrize("act", list(OPERATOR_ACTS))
def test_operator_transition_racing_azure_resolved_keeps_a_true_journal(
    connection: Connection, race: Race, signing_key: Any, act: str
) -> None:
    poster = AlertPoster(APIClient(), signing_key)
    outcomes = [
        race_once(race, poster, signing_key, act, operator_first=bool(n % 2)) for n in range(ROUNDS)
    ]

    for outcome in outcomes:
        assert outcome["status"] == 200, outcome
        assert outcome["lies"] == [], outcome
        # Whoever writes first wins; the operator is refused, or Azure retries or yields.
        if outcome["operator_first"]:
            assert outcome["operator"] == "done", outcome
        if act == "cancel":
            # An operator's decision stands: Azure does not resolve a canceled incident.
            expected = S.CANCELED if outcome["operator"] == "done" else S.RESOLVED
        else:
            # Started first, the incident is still resolved by Azure, from in progress.
            expected = S.RESOLVED
        assert outcome["state"] == expected, outcome


@pytest.mark.usefixtures("_postgres_only", "key_set")
@pytest.mark.parametrize("act", list(OPERATOR_ACTS))
def test_operator_transition_racing_azure_without_cas_loses_updates(
    connection: Connection,
    race: Race,
    signing_key: Any,
    act: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Negative control: the same race with a plain save does end in a lie.

    This shows the test above passes because of the compare-and-set, not because the
    threads happened to run one after the other.
    """
    monkeypatch.setattr(services, "_transition", _transition_without_cas)
    poster = AlertPoster(APIClient(), signing_key)
    outcomes = [
        race_once(race, poster, signing_key, act, operator_first=bool(n % 2)) for n in range(ROUNDS)
    ]

    assert any(outcome["lies"] for outcome in outcomes), outcomes
