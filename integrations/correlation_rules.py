"""Correlation rules as operators write them: the one validation, and the write services.

The API (integrations.api.correlation) and the console (integrations.admin_correlation)
both check a rule with `correlation_rule_problems` and save it through the services
below, so neither accepts what the other refuses. Saving or deleting a rule clears the
ingest's rule cache in this process (integrations.signals); other processes see the
change within CONNECTION_CACHE_SECONDS.
"""

from collections.abc import Mapping
from typing import Any

from .choices import GroupBy, ResolveOn
from .correlation import MATCH_KEYS as MATCH_KEYS  # the keys of `match`, named once
from .models import CorrelationRule
from .rules import Problems as Problems
from .rules import RuleService, check_match, check_name

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


def _values_problem(key: str, values: list[str], stripped: list[str]) -> str | None:
    if len(values) > MAX_VALUES:
        return f"{key}: at most {MAX_VALUES} values."
    if any(len(v) > MAX_VALUE_LENGTH or "\x00" in v for v in stripped):
        return f"{key}: a value is longer than {MAX_VALUE_LENGTH} characters."
    return None


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
    check_match(values, cleaned, problems, MATCH_KEYS, values_problem=_values_problem)
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
    check_name(values, cleaned, problems)
    return cleaned, problems


RULES = RuleService(
    model=CorrelationRule,
    fields=RULE_FIELDS,
    problems=correlation_rule_problems,
    related=("connection",),
)
# The services (docstrings in integrations.rules). Deleting a rule leaves its incidents;
# the alerts it grouped keep no link to it.
correlation_rule_list = RULES.list
correlation_rule_create = RULES.create
correlation_rule_update = RULES.update
correlation_rule_delete = RULES.delete
