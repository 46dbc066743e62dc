"""What every kind of rule staff write shares: the `match` check and the write services.

Correlation rules (integrations.correlation_rules) and assignment rules
(integrations.assignment_rules) are written the same way: a pure check of the whole rule
(`<kind>_problems`), then `RuleService` saves it through `full_clean()` and `save()`, whose
post_save clears the ingest's rule cache. The API base (integrations.api.rules) and the
console's (integrations.admin_rules) build on these.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import QuerySet

from core.exceptions import ApplicationError
from incidents.choices import Severity

Problems = dict[str, list[str]]
RuleT = TypeVar("RuleT", bound=models.Model)
# Says what is wrong with one key's values (as received, and stripped), or None.
ValuesProblem = Callable[[str, list[str], list[str]], str | None]

_SEVERITIES = {value.lower(): value for value in Severity.values}


def match_problems(
    match: object,
    keys: Sequence[str],
    *,
    values_problem: ValuesProblem,
    falsy_is_empty: bool = False,
) -> tuple[dict[str, list[str]], list[str]]:
    """`match` with every key, its values stripped (severities as Azure spells them), and
    what is wrong with it.

    `values_problem` holds the kind's limits on a key's values; with `falsy_is_empty`
    any false value (not only a missing one) stands for an empty list.
    """
    if not isinstance(match, Mapping):
        return {}, ["must be an object whose keys are " + ", ".join(keys) + "."]
    problems = []
    unknown = sorted(str(key) for key in match if key not in keys)
    if unknown:
        problems.append(f"unknown key {', '.join(unknown)}; the keys are {', '.join(keys)}.")
    cleaned: dict[str, list[str]] = {}
    for key in keys:
        values = match.get(key)
        if values is None or (falsy_is_empty and not values):
            values = []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            problems.append(f"{key} must be a list of strings.")
            continue
        stripped = list(dict.fromkeys(v.strip() for v in values if v.strip()))
        problem = values_problem(key, values, stripped)
        if problem is not None:
            problems.append(problem)
            continue
        if key == "severities":
            wrong = [v for v in stripped if v.lower() not in _SEVERITIES]
            if wrong:
                problems.append(
                    f"severities: {', '.join(wrong)} is not a severity; use "
                    + ", ".join(Severity.values)
                    + "."
                )
                continue
            stripped = list(dict.fromkeys(_SEVERITIES[v.lower()] for v in stripped))
        cleaned[key] = stripped
    return cleaned, problems


def check_match(
    values: Mapping[str, Any],
    cleaned: dict[str, Any],
    problems: Problems,
    keys: Sequence[str],
    *,
    values_problem: ValuesProblem,
    falsy_is_empty: bool = False,
) -> None:
    """Check a rule's `match` (see match_problems): cleaned into `cleaned`, or its problems
    into `problems`."""
    match, wrong = match_problems(
        values.get("match", {}),
        keys,
        values_problem=values_problem,
        falsy_is_empty=falsy_is_empty,
    )
    if wrong:
        problems["match"] = wrong
    else:
        cleaned["match"] = match


def check_name(values: Mapping[str, Any], cleaned: dict[str, Any], problems: Problems) -> None:
    """Refuse a rule without a name; strip the name into `cleaned` otherwise."""
    name = values.get("name")
    if not isinstance(name, str) or not name.strip():
        problems["name"] = ["A rule needs a name."]
    else:
        cleaned["name"] = name.strip()


class RuleService(Generic[RuleT]):
    """The list and write services of one kind of rule.

    `problems` is the kind's pure check of a whole rule (cleaned values, problems by
    field); `fields` the fields a caller may set.
    """

    def __init__(
        self,
        *,
        model: type[RuleT],
        fields: tuple[str, ...],
        problems: Callable[[Mapping[str, Any]], tuple[dict[str, Any], Problems]],
        related: tuple[str, ...],
    ) -> None:
        self.model = model
        self.fields = fields
        self.problems = problems
        self.related = related

    def list(self) -> QuerySet[RuleT]:
        """Every rule, in the order the ingest tries them, with what it points to."""
        return self.model._default_manager.select_related(*self.related).order_by("position", "pk")

    def checked(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The cleaned rule, or ApplicationError naming every field that is wrong."""
        cleaned, problems = self.problems(values)
        if problems:
            message = " ".join(
                f"{field.replace('_', ' ')}: {' '.join(msgs)}" for field, msgs in problems.items()
            )
            raise ApplicationError(message, code="invalid_rule", fields=list(problems))
        return cleaned

    def _save(self, rule: RuleT, values: Mapping[str, Any]) -> RuleT:
        for field in self.fields:
            if field in values:
                setattr(rule, field, values[field])
        try:
            rule.full_clean()
        except ValidationError as exc:  # e.g. a name another rule has (a race past the form)
            fields = list(exc.message_dict)
            message = " ".join(m for msgs in exc.message_dict.values() for m in msgs)
            raise ApplicationError(message, code="invalid_rule", fields=fields) from None
        # save(), not update(): its post_save clears the ingest's rule cache.
        rule.save()
        return rule

    @transaction.atomic
    def create(self, *, values: Mapping[str, Any]) -> RuleT:
        """Create a rule from its fields (ApplicationError `invalid_rule` if wrong)."""
        return self._save(self.model(), self.checked(values))

    @transaction.atomic
    def update(self, *, rule: RuleT, values: Mapping[str, Any]) -> RuleT:
        """Change a rule; fields left out keep their value, and the result is checked whole."""
        current = {field: getattr(rule, field) for field in self.fields}
        return self._save(rule, self.checked({**current, **values}))

    @transaction.atomic
    def delete(self, *, rule: RuleT) -> None:
        """Delete a rule (what it grouped or routed stays as it is)."""
        rule.delete()
