"""Forms of the console: what an operator types before a service is called.

They only collect and check input; the services decide what is allowed and write. The
lifecycle actions' forms are built from `incidents.lifecycle`, as the API's serializers are.
"""

from functools import cache
from typing import Any, cast

from django import forms

from .lifecycle import Action, Choice, Input, Person, Text
from .models import AssignmentGroup, Incident
from .selectors import assignee_list
from .services import NOTE_MAX_LENGTH


def _text_area(rows: int = 3) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "cols": 80, "class": "vLargeTextField"})


def _form_field(spec: Input) -> forms.Field:
    """The console's field for one input of the lifecycle table."""
    if isinstance(spec, Text):
        # The browser and the form ask for what the service would refuse (reason_required).
        return forms.CharField(
            max_length=spec.max_length,
            required=spec.required,
            widget=_text_area(spec.rows),
            help_text=spec.help_text,
        )
    if isinstance(spec, Choice):
        return forms.ChoiceField(choices=spec.choices, initial=spec.initial or None)
    if isinstance(spec, Person):
        # A fresh queryset per form: people join and leave between requests.
        return forms.ModelChoiceField(
            queryset=assignee_list(), required=False, label="Person", empty_label="— nobody —"
        )
    return forms.ModelChoiceField(
        queryset=AssignmentGroup.objects.order_by("name"),
        required=False,
        label="Group",
        empty_label="— no group —",
    )


class ActionForm(forms.Form):
    """What the console asks before a lifecycle action: the action's inputs (its table row)."""

    action: Action

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update({name: _form_field(spec) for name, spec in self.action.inputs.items()})


@cache
def form_for(action: Action) -> type[ActionForm] | None:
    """The console's form for an action of `incidents.lifecycle`, or None if it takes no input."""
    if not action.inputs:
        return None
    name = f"{action.name.title()}Form"
    return type(name, (ActionForm,), {"action": action, "__module__": __name__})


class WorkNoteForm(forms.Form):
    message = forms.CharField(max_length=NOTE_MAX_LENGTH, widget=_text_area(4), label="Work note")


class IncidentChangeForm(forms.ModelForm):
    """The incident page's own fields; the assignee list holds the current assignee too."""

    class Meta:
        model = Incident
        fields = ["title", "description", "impact", "urgency", "assignment_group", "assigned_to"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "assigned_to" in self.fields:
            # A foreign key's form field: a ModelChoiceField.
            assignee = cast(forms.ModelChoiceField, self.fields["assigned_to"])
            assignee.queryset = assignee_list(including=self.instance.assigned_to_id)
