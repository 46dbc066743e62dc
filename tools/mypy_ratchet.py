"""mypy as a ratchet: no new error anywhere, and the baseline of old ones only shrinks.

`make lint` runs `python tools/mypy_ratchet.py`. It runs mypy with the settings in
pyproject.toml and compares its errors with `mypy-baseline.txt`, one error a line
without its line number (so an edit above an old error does not move it). It fails on
an error that is not in the baseline, on a baseline entry that no longer occurs (run
it with `--shrink` to drop those), and on any baseline entry outside tests/ and bench/:
app code has no errors at all (docs/architecture.md, "Types").
"""

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "mypy-baseline.txt"
# Only these may hold old errors; app code must be clean.
BASELINE_PREFIXES = ("tests/", "bench/")
# path:line[:column]: error: message  [code]
ERROR = re.compile(r"^(?P<path>[^:\s]+):\d+(?::\d+)?: error: (?P<rest>.*)$")


def normalised(output: str) -> Counter[str]:
    """The errors in mypy's output as `path: error: message  [code]`, counted."""
    errors: Counter[str] = Counter()
    for line in output.splitlines():
        match = ERROR.match(line)
        if match:
            path = match["path"].replace("\\", "/")
            errors[f"{path}: error: {match['rest'].rstrip()}"] += 1
    return errors


def read_baseline(text: str) -> Counter[str]:
    """The baseline file's entries, counted (a repeated line is a repeated error)."""
    return Counter(line for line in text.splitlines() if line.strip())


def render_baseline(errors: Counter[str]) -> str:
    """The baseline file for these errors: sorted, one line per occurrence."""
    return "".join(f"{line}\n" for line in sorted(errors.elements()))


def compare(current: Counter[str], baseline: Counter[str]) -> list[str]:
    """What is wrong with this run against the baseline, one message a problem (none: pass)."""
    problems = []
    new = current - baseline
    fixed = baseline - current
    outside = [line for line in baseline if not line.startswith(BASELINE_PREFIXES)]
    if new:
        problems.append("New mypy errors (fix them; the baseline never grows):")
        problems += [f"  {line}" for line in sorted(new.elements())]
    if fixed:
        problems.append(
            "Baseline entries that no longer occur: run `python tools/mypy_ratchet.py "
            "--shrink` and commit the smaller mypy-baseline.txt:"
        )
        problems += [f"  {line}" for line in sorted(fixed.elements())]
    if outside:
        problems.append("Only tests/ and bench/ may have baseline entries; app code has none:")
        problems += [f"  {line}" for line in sorted(outside)]
    return problems


def run_mypy() -> tuple[int, str]:
    """Run mypy with pyproject.toml's settings; its exit code and output."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--no-pretty"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def main(argv: list[str]) -> int:
    """Run the ratchet; with `--shrink`, first drop baseline entries that no longer occur."""
    code, output = run_mypy()
    current = normalised(output)
    # mypy exits 1 for type errors; anything else (2: crash, bad config) is no verdict.
    if code not in (0, 1) or (code == 1 and not current):
        sys.stderr.write(f"{output}\nmypy did not run cleanly (exit code {code})\n")
        return 2
    baseline = read_baseline(BASELINE.read_text() if BASELINE.exists() else "")
    if "--shrink" in argv:
        baseline &= current  # keeps only what still occurs: it can never add an entry
        BASELINE.write_text(render_baseline(baseline))
    problems = compare(current, baseline)
    sys.stderr.writelines(f"{line}\n" for line in problems)
    if problems:
        return 1
    sys.stdout.write(f"mypy: no new errors ({sum(baseline.values())} left in the baseline)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
