"""Assignment rules as staff write them: the one validation, and the write services.

The API (integrations.api.routing) and the console (integrations.admin_routing) check a
rule with `assignment_rule_problems` and save it through the services below. Saving or
deleting a rule clears the ingest's rule cache in this process (integrations.apps);
other processes see the change within CONNECTION_CACHE_SECONDS.
"""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from core.exceptions import ApplicationError
from incidents.choices import Severity

from .models import AssignmentRule
from .routing import MATCH_KEYS

MAX_VALUE_LENGTH = 1024
MAX_VALUES = 200
RULE_FIELDS = ("name", "position", "enabled", "connection", "match", "assignment_group")
_SEVERITIES = {value.lower(): value for value in Severity.values}

Problems = dict[str, list[str]]


def _match_problems(match: object) -> tuple[dict[str, list[str]], list[str]]:
    """`match` with every key, its values stripped (severities as Azure spells them), and
    what is wrong with it."""
    if not isinstance(match, Mapping):
        return {}, ["must be an object whose keys are " + ", ".join(MATCH_KEYS) + "."]
    problems = []
    unknown = sorted(str(key) for key in match if key not in MATCH_KEYS)
    if unknown:
        problems.append(f"unknown key {', '.join(unknown)}; the keys are {', '.join(MATCH_KEYS)}.")
    cleaned: dict[str, list[str]] = {}
    for key in MATCH_KEYS:
        values = match.get(key) or []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            problems.append(f"{key} must be a list of strings.")
            continue
        stripped = list(dict.fromkeys(v.strip() for v in values if v.strip()))
        if len(stripped) > MAX_VALUES or any(
            len(v) > MAX_VALUE_LENGTH or "\x00" in v for v in stripped
        ):
            problems.append(
                f"{key}: at most {MAX_VALUES} values of at most {MAX_VALUE_LENGTH} characters."
            )
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


def assignment_rule_problems(values: Mapping[str, Any]) -> tuple[dict[str, Any], Problems]:
    """Check a whole rule; return it cleaned (`match` with every key) and its problems.

    Pure. `values` holds the rule's fields (`connection` a Connection or None,
    `assignment_group` an AssignmentGroup: the callers resolve the names).
    """
    cleaned = dict(values)
    problems: Problems = {}
    match, match_problems = _match_problems(values.get("match", {}))
    if match_problems:
        problems["match"] = match_problems
    else:
        cleaned["match"] = match
    name = values.get("name")
    if not isinstance(name, str) or not name.strip():
        problems["name"] = ["A rule needs a name."]
    else:
        cleaned["name"] = name.strip()
    if values.get("assignment_group") is None:
        problems["assignment_group"] = ["A rule needs the assignment group it assigns to."]
    return cleaned, problems


def assignment_rule_list() -> QuerySet[AssignmentRule]:
    """Every rule, in the order the ingest tries them, with its connection and group."""
    return AssignmentRule.objects.select_related("connection", "assignment_group").order_by(
        "position", "pk"
    )


def _checked(values: Mapping[str, Any]) -> dict[str, Any]:
    """The cleaned rule, or ApplicationError naming every field that is wrong."""
    cleaned, problems = assignment_rule_problems(values)
    if problems:
        message = " ".join(
            f"{field.replace('_', ' ')}: {' '.join(msgs)}" for field, msgs in problems.items()
        )
        raise ApplicationError(message, code="invalid_rule", fields=list(problems))
    return cleaned


def _save(rule: AssignmentRule, values: Mapping[str, Any]) -> AssignmentRule:
    for field in RULE_FIELDS:
        if field in values:
            setattr(rule, field, values[field])
    try:
        rule.full_clean()
    except ValidationError as exc:  # a name another rule has (a race past the form)
        message = " ".join(m for msgs in exc.message_dict.values() for m in msgs)
        raise ApplicationError(
            message, code="invalid_rule", fields=list(exc.message_dict)
        ) from None
    # save(), not update(): its post_save clears the ingest's rule cache.
    rule.save()
    return rule


@transaction.atomic
def assignment_rule_create(*, values: Mapping[str, Any]) -> AssignmentRule:
    """Create an assignment rule (ApplicationError `invalid_rule` if it is wrong)."""
    return _save(AssignmentRule(), _checked(values))


@transaction.atomic
def assignment_rule_update(*, rule: AssignmentRule, values: Mapping[str, Any]) -> AssignmentRule:
    """Change a rule; fields left out keep their value, and the result is checked whole."""
    current = {field: getattr(rule, field) for field in RULE_FIELDS}
    return _save(rule, _checked({**current, **values}))


@transaction.atomic
def assignment_rule_delete(*, rule: AssignmentRule) -> None:
    """Delete a rule. The incidents it routed keep their group."""
    rule.delete()
