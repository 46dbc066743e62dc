"""SLA clocks for the incidents still open that were opened before the clocks (0005).

What the clocks would show had they run from the opening, as incidents.sla keeps them:
the targets of the incident's priority (SlaTarget as it is now) from `opened_at`; the
response clock stopped when the journal first shows a start (to `in_progress`) or an
assignment to a person; an incident on hold paused since it last went on hold. Time
on hold before that is not known to the journal as a pause and is not subtracted.

A stage already reached (a warning at 75 %, a breach) is recorded without a journal
line or notification of its own: those moments are past, and an upgrade must not page
anyone for them. One journal line per incident says its clocks were added, and which
target was already missed. Closed, canceled and resolved incidents keep no clocks:
they are most of a large database and need none to be shown.

Cheap on a database of millions of closed incidents: one read of the open incidents'
ids (the open-state partial index of 0006), then batches of BATCH rows, each locked,
written and committed on its own (the migration is not atomic), so a webhook waits at
most for one batch; only rows still open and without clocks are written. Run again, it
finds nothing to do. Measured on PostgreSQL 15 with 1,000,000 incidents, 5,000 open, on
a busy 2-core machine: the read 0.2 s, then 6-7 ms an open incident (29-36 s in all; a
batch of 200 holds its rows 1.2-1.4 s). The rules are frozen here: later changes to
incidents.sla do not change what this migration did.
"""

from datetime import datetime, timedelta
from typing import Any

from django.apps.registry import Apps
from django.db import migrations, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models import Aggregate, Max, Min, Q
from django.utils import timezone

BATCH = 200
OPEN_STATES = ("new", "in_progress", "on_hold")
# The contract's defaults, for a priority without a SlaTarget row (as in 0005).
DEFAULT_TARGETS = {1: (15, 240), 2: (30, 480), 3: (240, 1440), 4: (480, 4320), 5: (1440, 7200)}
WARNING_FRACTION = 0.75
SLA_ACTOR = "SLA clock"
FIELDS = (
    "sla_respond_minutes",
    "sla_resolve_minutes",
    "sla_respond_by",
    "sla_resolve_by",
    "sla_responded_at",
    "sla_paused_at",
    "sla_respond_stage",
    "sla_resolve_stage",
    "sla_due_at",
)


def _stage(by: datetime, minutes: int, at: datetime) -> str:
    """How far a clock counting until `at` got."""
    if at >= by:
        return "breached"
    if at >= by - timedelta(minutes=minutes) * (1 - WARNING_FRACTION):
        return "warned"
    return "ok"


def _next_due(by: datetime, minutes: int, stage: str) -> datetime | None:
    if stage == "ok":
        return by - timedelta(minutes=minutes) * (1 - WARNING_FRACTION)
    return by if stage == "warned" else None


def _journal_at(
    journal: Any, pks: list[int], condition: Q, when: type[Aggregate] = Min
) -> dict[int, datetime]:
    """Per incident, when its journal first (or last: `Max`) shows `condition`."""
    rows = (
        journal.filter(condition, incident_id__in=pks)
        .values("incident_id")
        .annotate(at=when("created_at"))
        .values_list("incident_id", "at")
    )
    return dict(rows)


def _start(incident: Any, targets: dict[int, tuple[int, int]], now: datetime, **seen: Any) -> str:
    """Set the clocks of one incident (unsaved); return its journal line."""
    respond, resolve = targets.get(incident.priority) or DEFAULT_TARGETS[incident.priority]
    incident.sla_respond_minutes, incident.sla_resolve_minutes = respond, resolve
    incident.sla_respond_by = incident.opened_at + timedelta(minutes=respond)
    incident.sla_resolve_by = incident.opened_at + timedelta(minutes=resolve)
    responded = seen["responded_at"]
    if responded is None and (incident.state != "new" or incident.assigned_to_id is not None):
        responded = incident.opened_at  # it was started or assigned; the journal lost when
    incident.sla_responded_at = responded
    on_hold = incident.state == "on_hold"
    incident.sla_paused_at = (seen["on_hold_at"] or now) if on_hold else None
    until = incident.sla_paused_at or now
    incident.sla_resolve_stage = _stage(incident.sla_resolve_by, resolve, until)
    clocks = [(incident.sla_resolve_by, resolve, incident.sla_resolve_stage)]
    if responded is None:
        incident.sla_respond_stage = _stage(incident.sla_respond_by, respond, until)
        clocks.append((incident.sla_respond_by, respond, incident.sla_respond_stage))
    due = [d for d in (_next_due(*clock) for clock in clocks) if d is not None]
    incident.sla_due_at = None if on_hold or not due else min(due)
    missed = [
        name
        for name, by, stop in (
            ("response", incident.sla_respond_by, responded or until),
            ("resolution", incident.sla_resolve_by, until),
        )
        if stop >= by
    ]
    return (
        f"SLA clocks added on upgrade, counted from the opening (P{incident.priority}: "
        f"respond in {respond} min, resolve in {resolve} min)."
        + (f" Already missed: {', '.join(missed)}." if missed else "")
    )


def backfill(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Incident = apps.get_model("incidents", "Incident")
    JournalEntry = apps.get_model("incidents", "JournalEntry")
    SlaTarget = apps.get_model("incidents", "SlaTarget")
    alias = schema_editor.connection.alias
    without_clocks = Incident.objects.using(alias).filter(
        state__in=OPEN_STATES, sla_respond_by__isnull=True, sla_resolve_by__isnull=True
    )
    pks = sorted(without_clocks.values_list("pk", flat=True))
    if not pks:
        return
    targets = {
        t.priority: (t.respond_minutes, t.resolve_minutes) for t in SlaTarget.objects.using(alias)
    }
    for start in range(0, len(pks), BATCH):
        chunk = pks[start : start + BATCH]
        with transaction.atomic(using=alias):
            now = timezone.now()
            rows = list(
                without_clocks.select_for_update()
                .filter(pk__in=chunk)  # still open and without clocks, now locked
                .order_by("pk")
                .only("pk", "state", "priority", "opened_at", "assigned_to", *FIELDS)
            )
            found = [row.pk for row in rows]
            journal = JournalEntry.objects.using(alias)
            started = _journal_at(journal, found, Q(to_state="in_progress"))
            # incidents.services.incident_assign: "Assigned to <who> (<group>)."
            assigned = _journal_at(
                journal, found, Q(kind="assigned") & ~Q(message__startswith="Assigned to nobody ")
            )
            held = _journal_at(journal, found, Q(to_state="on_hold"), Max)  # the current hold
            lines = []
            for row in rows:
                first = [at for at in (started.get(row.pk), assigned.get(row.pk)) if at]
                message = _start(
                    row,
                    targets,
                    now,
                    responded_at=min(first) if first else None,
                    on_hold_at=held.get(row.pk),
                )
                lines.append(
                    JournalEntry(
                        incident_id=row.pk,
                        created_at=now,
                        kind="sla",
                        actor_name=SLA_ACTOR,
                        message=message,
                    )
                )
            for row in rows:
                # One UPDATE a row: bulk_update's CASE expressions cost ~10 ms of CPU a
                # row to build (51 s for the 5,000 open incidents above), these ~2 ms.
                Incident.objects.using(alias).filter(pk=row.pk).update(
                    **{field: getattr(row, field) for field in FIELDS}
                )
            journal.bulk_create(lines, batch_size=500)


class Migration(migrations.Migration):
    # Each batch commits on its own: no transaction holding every open incident's row.
    atomic = False

    dependencies = [
        ("incidents", "0006_read_indexes"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
