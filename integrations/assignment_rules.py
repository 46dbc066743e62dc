"""Assignment rules as staff write them: the one validation, and the write services.

The API (integrations.api.routing) and the console (integrations.admin_routing) check a
rule with `assignment_rule_problems` and save it through the services below. Saving or
deleting a rule clears the ingest's rule cache in this process (integrations.apps);
other processes see the change within CONNECTION_CACHE_SECONDS.
"""

from collections.abc import Mapping
from typing import Any

from .models import AssignmentRule
from .routing import MATCH_KEYS
from .rules import Problems as Problems
from .rules import RuleService, check_match, check_name

MAX_VALUE_LENGTH = 1024
MAX_VALUES = 200
RULE_FIELDS = ("name", "position", "enabled", "connection", "match", "assignment_group")


def _values_problem(key: str, values: list[str], stripped: list[str]) -> str | None:
    if len(stripped) > MAX_VALUES or any(
        len(v) > MAX_VALUE_LENGTH or "\x00" in v for v in stripped
    ):
        return f"{key}: at most {MAX_VALUES} values of at most {MAX_VALUE_LENGTH} characters."
    return None


def assignment_rule_problems(values: Mapping[str, Any]) -> tuple[dict[str, Any], Problems]:
    """Check a whole rule; return it cleaned (`match` with every key) and its problems.

    Pure. `values` holds the rule's fields (`connection` a Connection or None,
    `assignment_group` an AssignmentGroup: the callers resolve the names).
    """
    cleaned = dict(values)
    problems: Problems = {}
    check_match(
        values, cleaned, problems, MATCH_KEYS, values_problem=_values_problem, falsy_is_empty=True
    )
    check_name(values, cleaned, problems)
    if values.get("assignment_group") is None:
        problems["assignment_group"] = ["A rule needs the assignment group it assigns to."]
    return cleaned, problems


RULES = RuleService(
    model=AssignmentRule,
    fields=RULE_FIELDS,
    problems=assignment_rule_problems,
    related=("connection", "assignment_group"),
)
# The services (docstrings in integrations.rules). The incidents a deleted rule routed
# keep their group.
assignment_rule_list = RULES.list
assignment_rule_create = RULES.create
assignment_rule_update = RULES.update
assignment_rule_delete = RULES.delete
