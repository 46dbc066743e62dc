"""tools/mypy_ratchet.py: a new mypy error fails, and so does a baseline entry that is gone."""

from collections import Counter

from tools.mypy_ratchet import compare, normalised, read_baseline, render_baseline

OUTPUT = (
    'tests/test_a.py:12: error: Need type annotation for "x"  [var-annotated]\n'
    'tests/test_a.py:40:5: error: Need type annotation for "x"  [var-annotated]\n'
    "tests/test_a.py:41: note: See https://mypy.readthedocs.io\n"
    "Found 2 errors in 1 file (checked 3 source files)\n"
)


def test_normalised_drops_line_numbers_and_counts_repeats() -> None:
    assert normalised(OUTPUT) == Counter(
        {'tests/test_a.py: error: Need type annotation for "x"  [var-annotated]': 2}
    )


def test_render_baseline_round_trips() -> None:
    errors = normalised(OUTPUT)
    assert read_baseline(render_baseline(errors)) == errors


def test_compare_passes_when_run_matches_baseline() -> None:
    errors = normalised(OUTPUT)
    assert compare(errors, errors) == []


def test_compare_fails_on_new_error() -> None:
    baseline = normalised(OUTPUT)
    current = baseline + Counter({"tests/test_b.py: error: boom  [misc]": 1})
    problems = compare(current, baseline)
    assert problems[0].startswith("New mypy errors")
    assert "  tests/test_b.py: error: boom  [misc]" in problems


def test_compare_fails_on_one_more_of_a_known_error() -> None:
    baseline = normalised(OUTPUT)
    assert compare(baseline + baseline, baseline)[0].startswith("New mypy errors")


def test_compare_fails_on_baseline_entry_no_longer_occurring() -> None:
    baseline = normalised(OUTPUT)
    problems = compare(Counter(), baseline)
    assert "--shrink" in problems[0]


def test_compare_fails_on_app_code_in_baseline() -> None:
    entry = Counter({"integrations/services.py: error: boom  [misc]": 1})
    problems = compare(entry, entry)
    assert problems[0].startswith("Only tests/ and bench/")
