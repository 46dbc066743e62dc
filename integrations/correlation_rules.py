"""Correlation rules as operators write them: the one validation, and the write services.

The API (integrations.api.correlation) and the console (integrations.admin_correlation)
both check a rule with `correlation_rule_problems` and save it through the services
below, so neither accepts what the other refuses. Saving or deleting a rule clears the
ingest's rule cache in this process (integrations.signals); other processes see the
change within CONNECTION_CACHE_SECONDS.
"""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from core.exceptions import ApplicationError
from incidents.choices import Severity

from .choices import GroupBy, ResolveOn
from .correlation import MATCH_KEYS as MATCH_KEYS  # the keys of `match`, named once
from .models import CorrelationRule

# A value longer than any Azure name is a mistake (and would only bloat the cache).
MAX_VALUE_LENGTH = 1024
MAX_VALUES = 200
RULE_FIELDS = (
    "name",
    "position",
    "enabled",
    "connection",
    "match",
    "group_by",
    "window_minutes",
    "max_age_minutes",
    "resolve_on",
)
_SEVERITIES = {value.lower(): value for value in Severity.values}

Problems = dict[str, list[str]]


def _match_problems(match: object) -> tuple[dict[str, list[str]], list[str]]:
    """`match` with every key, its values stripped (severities spelled as Azure does), and
    what is wrong with it."""
    if not isinstance(match, Mapping):
        return {}, ["must be an object whose keys are " + ", ".join(MATCH_KEYS) + "."]
    problems = []
    unknown = sorted(str(key) for key in match if key not in MATCH_KEYS)
    if unknown:
        problems.append(f"unknown key {', '.join(unknown)}; the keys are {', '.join(MATCH_KEYS)}.")
    cleaned: dict[str, list[str]] = {}
    for key in MATCH_KEYS:
        values = match.get(key)
        if values is None:
            values = []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            problems.append(f"{key} must be a list of strings.")
            continue
        if len(values) > MAX_VALUES:
            problems.append(f"{key}: at most {MAX_VALUES} values.")
            continue
        stripped = list(dict.fromkeys(v.strip() for v in values if v.strip()))
        too_long = [v for v in stripped if len(v) > MAX_VALUE_LENGTH or "\x00" in v]
        if too_long:
            problems.append(f"{key}: a value is longer than {MAX_VALUE_LENGTH} characters.")
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


def _group_by_problems(group_by: object) -> list[str]:
    if not isinstance(group_by, list) or not all(isinstance(v, str) for v in group_by):
        return ["must be a list of: " + ", ".join(GroupBy.values) + "."]
    if not group_by:
        return ["name at least one of: " + ", ".join(GroupBy.values) + "."]
    problems = []
    unknown = [v for v in group_by if v not in GroupBy.values]
    if unknown:
        problems.append(
            f"{', '.join(unknown)} cannot be grouped by; use " + ", ".join(GroupBy.values) + "."
        )
    repeated = sorted({v for v in group_by if group_by.count(v) > 1})
    if repeated:
        problems.append(f"{', '.join(repeated)} is named more than once.")
    return problems


def _minutes(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def correlation_rule_problems(values: Mapping[str, Any]) -> tuple[dict[str, Any], Problems]:
    """Check a whole rule; return it cleaned (`match` with every key) and its problems.

    Pure. `values` holds the rule's fields (`connection` a Connection or None: the
    callers resolve the slug). The problems map a field to its messages; none: valid.
    """
    cleaned = dict(values)
    problems: Problems = {}
    match, match_problems = _match_problems(values.get("match", {}))
    if match_problems:
        problems["match"] = match_problems
    else:
        cleaned["match"] = match
    group_by_problems = _group_by_problems(values.get("group_by"))
    if group_by_problems:
        problems["group_by"] = group_by_problems
    window = _minutes(values.get("window_minutes"))
    max_age = _minutes(values.get("max_age_minutes"))
    if window is None or window < 1:
        problems["window_minutes"] = ["must be a whole number of minutes, at least 1."]
    if max_age is None or max_age < 1:
        problems["max_age_minutes"] = ["must be a whole number of minutes, at least 1."]
    elif window is not None and max_age < window:
        problems["max_age_minutes"] = [
            f"must be at least the window ({window} minutes): a group older than its "
            "window could never take an alert."
        ]
    if values.get("resolve_on") not in ResolveOn.values:
        problems["resolve_on"] = ["must be one of: " + ", ".join(ResolveOn.values) + "."]
    name = values.get("name")
    if not isinstance(name, str) or not name.strip():
        problems["name"] = ["A rule needs a name."]
    else:
        cleaned["name"] = name.strip()
    return cleaned, problems


def correlation_rule_list() -> QuerySet[CorrelationRule]:
    """Every rule, in the order the ingest tries them, with its connection."""
    return CorrelationRule.objects.select_related("connection").order_by("position", "pk")


def _checked(values: Mapping[str, Any]) -> dict[str, Any]:
    """The cleaned rule, or ApplicationError naming every field that is wrong."""
    cleaned, problems = correlation_rule_problems(values)
    if problems:
        message = " ".join(
            f"{field.replace('_', ' ')}: {' '.join(msgs)}" for field, msgs in problems.items()
        )
        raise ApplicationError(message, code="invalid_rule", fields=list(problems))
    return cleaned


def _save(rule: CorrelationRule, values: Mapping[str, Any]) -> CorrelationRule:
    for field in RULE_FIELDS:
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
def correlation_rule_create(*, values: Mapping[str, Any]) -> CorrelationRule:
    """Create a correlation rule from its fields (ApplicationError `invalid_rule` if wrong)."""
    return _save(CorrelationRule(), _checked(values))


@transaction.atomic
def correlation_rule_update(*, rule: CorrelationRule, values: Mapping[str, Any]) -> CorrelationRule:
    """Change a rule; fields left out keep their value, and the result is checked whole."""
    current = {field: getattr(rule, field) for field in RULE_FIELDS}
    return _save(rule, _checked({**current, **values}))


@transaction.atomic
def correlation_rule_delete(*, rule: CorrelationRule) -> None:
    """Delete a rule. Its incidents stay; the alerts it grouped keep no link to it."""
    rule.delete()
