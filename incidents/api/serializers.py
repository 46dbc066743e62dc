"""Incident representations for the REST API (contract: REST API)."""

from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from cmdb.models import ConfigurationItem
from core.api import RefuseUnknownFields, SlugRelatedField

from ..choices import Impact, IncidentState, ResolutionCode, Urgency
from ..lifecycle import Action, Choice, Input, Person, Text
from ..models import AssignmentGroup, Incident, JournalEntry
from ..services import NOTE_MAX_LENGTH
from ..sla import summary as sla_summary

MAX_BIGINT = 2**63 - 1


class LinkedConfigurationItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    azure_resource_id = serializers.CharField(allow_null=True)
    ci_class = serializers.CharField()


class IncidentAlertSerializer(serializers.Serializer):
    alert_id = serializers.CharField()
    alert_rule = serializers.CharField()
    monitoring_service = serializers.CharField()
    signal_type = serializers.CharField()
    monitor_condition = serializers.CharField()
    fired_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    configuration_items = serializers.ListField(child=serializers.CharField())
    azure_resolves = serializers.BooleanField(
        help_text="Whether Azure will send Resolved for this alert (stateful alerts); "
        "activity-log alerts, budgets and log alerts v1 never resolve."
    )
    tracking_id = serializers.CharField(help_text="A Service Health alert's trackingId, or empty.")


class IncidentSlaSerializer(serializers.Serializer):
    """An incident's SLA clocks (incidents.sla); null for incidents older than the clocks."""

    respond_by = serializers.DateTimeField(help_text="The response is due by then.")
    resolve_by = serializers.DateTimeField(help_text="The resolution is due by then.")
    responded_at = serializers.DateTimeField(
        allow_null=True, help_text="First assigned to a person, or started; null: not yet."
    )
    paused = serializers.BooleanField(help_text="On hold: both clocks are paused.")
    respond_breached = serializers.BooleanField()
    resolve_breached = serializers.BooleanField()

    class Meta:
        ref_name = "IncidentSla"


class IncidentSerializer(serializers.ModelSerializer):
    assignment_group: serializers.SlugRelatedField[AssignmentGroup] = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True
    )
    assigned_to: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    # Read-only choice fields lose `allow_blank` in ModelSerializer: "" (not resolved yet)
    # must be in the documented values.
    resolution_code = serializers.ChoiceField(
        choices=ResolutionCode.choices, allow_blank=True, read_only=True
    )
    connection = serializers.SerializerMethodField()
    configuration_items = LinkedConfigurationItemSerializer(many=True, read_only=True)
    alerts = IncidentAlertSerializer(many=True, read_only=True)
    sla = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "number",
            "title",
            "description",
            "state",
            "impact",
            "urgency",
            "priority",
            "severity",
            "opened_at",
            "resolved_at",
            "closed_at",
            "assignment_group",
            "assigned_to",
            "resolution_code",
            "resolution_notes",
            "is_flapping",
            "connection",
            "configuration_items",
            "alerts",
            "alert_count",
            "sla",
        ]
        read_only_fields = fields

    @extend_schema_field(IncidentSlaSerializer(allow_null=True))
    def get_sla(self, incident: Incident) -> dict[str, Any] | None:
        # From the incident's own columns: no query.
        found = sla_summary(incident)
        return None if found is None else IncidentSlaSerializer(found).data

    def get_connection(self, incident: Incident) -> str | None:
        # Alerts and their connections are prefetched by the selector: no query here.
        alerts = list(incident.alerts.all())
        return alerts[0].connection.slug if alerts else None


def _person_field(**kwargs: Any) -> SlugRelatedField:
    return SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        allow_null=True,
        help_text="A username (an active user), or null for nobody.",
        **kwargs,
    )


def _group_field(**kwargs: Any) -> SlugRelatedField:
    return SlugRelatedField(
        slug_field="name",
        queryset=AssignmentGroup.objects.all(),
        allow_null=True,
        help_text="An assignment group's name, or null for none.",
        **kwargs,
    )


class IncidentCreateSerializer(RefuseUnknownFields, serializers.Serializer):
    """An incident opened by hand (not from an alert); other fields are refused (400)."""

    title = serializers.CharField(max_length=255)
    description = serializers.CharField(
        max_length=100_000, allow_blank=True, required=False, default=""
    )
    impact = serializers.ChoiceField(choices=Impact.choices, required=False, default=Impact.MEDIUM)
    urgency = serializers.ChoiceField(
        choices=Urgency.choices, required=False, default=Urgency.MEDIUM
    )
    configuration_items = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_BIGINT),
        max_length=100,
        required=False,
        default=list,
        help_text="Ids of the configuration items the incident is about.",
    )
    assigned_to = _person_field(required=False, default=None)
    assignment_group = _group_field(required=False, default=None)

    def validate_configuration_items(self, ids: list[int]) -> list[ConfigurationItem]:
        wanted = list(dict.fromkeys(ids))
        found = ConfigurationItem.objects.in_bulk(wanted)  # one query, whatever the count
        missing = [str(pk) for pk in wanted if pk not in found]
        if missing:
            raise serializers.ValidationError(
                f"No configuration item with id {', '.join(missing)}."
            )
        return [found[pk] for pk in wanted]


class IncidentUpdateSerializer(RefuseUnknownFields, serializers.Serializer):
    """The fields an operator may edit; each may be left out, others are refused (400).

    Priority follows impact and urgency. The title and description of an incident from
    Azure Monitor are Azure's: changing them is refused (400, `azure_owned`).
    """

    title = serializers.CharField(max_length=255, required=False)
    description = serializers.CharField(max_length=100_000, allow_blank=True, required=False)
    impact = serializers.ChoiceField(choices=Impact.choices, required=False)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    assigned_to = _person_field(required=False)
    assignment_group = _group_field(required=False)


class RequiredTextField(serializers.CharField):
    """Text the schema marks required; left out, null or blank, it reaches the service as "".

    The service refuses it then, so the API answers what the console does: 400 with the
    service's code (`reason_required`) and message, naming the field under "errors".
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=True, allow_blank=True, **kwargs)

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is empty or data is None:
            return (True, "")
        return super().validate_empty_values(data)


def _serializer_field(spec: Input) -> serializers.Field:
    """The API's field for one input of the lifecycle table."""
    if isinstance(spec, Text):
        if spec.required:
            return RequiredTextField(max_length=spec.max_length, help_text=spec.help_text)
        return serializers.CharField(
            max_length=spec.max_length,
            allow_blank=True,
            required=False,
            default="",
            help_text=spec.help_text,
        )
    if isinstance(spec, Choice):
        return serializers.ChoiceField(choices=spec.choices)
    # Left out: the current value is kept (Action.arguments); null clears it.
    if isinstance(spec, Person):
        return _person_field(required=False)
    return _group_field(required=False)


@cache
def serializer_for(action: Action) -> type[serializers.Serializer] | None:
    """The API's input serializer for an action of `incidents.lifecycle`, or None (no body).

    Named `Incident<Action>Serializer`, so the schema's components stay readable
    (`IncidentHoldRequest`).
    """
    if not action.inputs:
        return None
    name = f"Incident{action.name.title()}Serializer"
    fields = {field: _serializer_field(spec) for field, spec in action.inputs.items()}
    return type(name, (serializers.Serializer,), {**fields, "__module__": __name__})


class JournalEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name", read_only=True)
    from_state = serializers.ChoiceField(
        choices=IncidentState.choices, allow_blank=True, read_only=True
    )
    to_state = serializers.ChoiceField(
        choices=IncidentState.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = JournalEntry
        fields = ["id", "created_at", "kind", "actor", "message", "from_state", "to_state"]
        read_only_fields = fields


class WorkNoteCreateSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=NOTE_MAX_LENGTH)
