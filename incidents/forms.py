"""Forms of the console: what an operator types before a service is called.

They only collect and check input; the services decide what is allowed and write.
"""

from typing import Any

from django import forms

from .choices import ResolutionCode
from .models import AssignmentGroup, Incident
from .selectors import assignee_list

REASON_MAX_LENGTH = 2000
NOTE_MAX_LENGTH = 10000


def _text_area(rows: int = 3) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "cols": 80, "class": "vLargeTextField"})


class AssignForm(forms.Form):
    assigned_to = forms.ModelChoiceField(
        queryset=assignee_list(),
        required=False,
        label="Person",
        empty_label="— nobody —",
    )
    assignment_group = forms.ModelChoiceField(
        queryset=AssignmentGroup.objects.order_by("name"),
        required=False,
        label="Group",
        empty_label="— no group —",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Re-evaluated per form: people join and leave between requests.
        self.fields["assigned_to"].queryset = assignee_list()


class HoldForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        widget=_text_area(),
        help_text="What the incident waits for (a vendor, a change window, the user…).",
    )


class ResolveForm(forms.Form):
    resolution_code = forms.ChoiceField(
        choices=ResolutionCode.choices, initial=ResolutionCode.SOLVED
    )
    resolution_notes = forms.CharField(
        max_length=NOTE_MAX_LENGTH,
        widget=_text_area(5),
        help_text="What was wrong and what was done; kept on the incident and in its journal.",
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        widget=_text_area(),
        help_text="Why no work is needed (false alarm, raised in error, duplicate…).",
    )


class ReopenForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        widget=_text_area(),
        help_text="Why the resolution did not hold.",
    )


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
            self.fields["assigned_to"].queryset = assignee_list(
                including=self.instance.assigned_to_id
            )
