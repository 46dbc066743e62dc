"""integrations.rules: the match check both rule kinds share, with each kind's limits."""

from integrations.assignment_rules import assignment_rule_problems
from integrations.correlation_rules import correlation_rule_problems

BASE = {"name": "r", "assignment_group": object(), "group_by": ["target"]}
CORRELATION = {**BASE, "window_minutes": 10, "max_age_minutes": 60, "resolve_on": "all"}


def test_check_match_cleans_values_and_spells_severities_as_azure() -> None:
    match = {"severities": ["sev1", " Sev1 "], "alert_rules": [" cpu ", "", "cpu"]}
    for problems_of, values in (
        (assignment_rule_problems, BASE),
        (correlation_rule_problems, CORRELATION),
    ):
        cleaned, problems = problems_of({**values, "match": match})
        assert problems == {}
        assert cleaned["match"]["severities"] == ["Sev1"]
        assert cleaned["match"]["alert_rules"] == ["cpu"]


def test_check_match_keeps_each_kinds_limits_and_messages() -> None:
    many = {"alert_rules": [f"r{i % 3}" for i in range(201)]}  # 201 values, 3 once stripped
    _, correlation = correlation_rule_problems({**CORRELATION, "match": many})
    assert correlation["match"] == ["alert_rules: at most 200 values."]
    _, assignment = assignment_rule_problems({**BASE, "match": many})
    assert "match" not in assignment  # counted after duplicates go

    long = {"alert_rules": ["x" * 1025]}
    _, correlation = correlation_rule_problems({**CORRELATION, "match": long})
    assert correlation["match"] == ["alert_rules: a value is longer than 1024 characters."]
    _, assignment = assignment_rule_problems({**BASE, "match": long})
    assert assignment["match"] == ["alert_rules: at most 200 values of at most 1024 characters."]


def test_check_match_empty_string_is_an_empty_list_only_for_assignment_rules() -> None:
    _, assignment = assignment_rule_problems({**BASE, "match": {"alert_rules": ""}})
    assert "match" not in assignment
    _, correlation = correlation_rule_problems({**CORRELATION, "match": {"alert_rules": ""}})
    assert correlation["match"] == ["alert_rules must be a list of strings."]
