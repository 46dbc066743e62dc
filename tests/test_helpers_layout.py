"""The layout of the tests: helpers come from tests/helpers.py, each constant is defined once.

A conftest.py holds pytest fixtures only (pytest finds them itself); a helper or constant
that test modules share lives in tests/helpers.py, so a new test imports it from one place.
"""

import ast
import re
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parent
CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _modules(root: Path) -> list[tuple[Path, ast.Module]]:
    """Every module under `root`, parsed (one deleted while this runs is skipped)."""
    modules = []
    for path in sorted(root.rglob("*.py")):
        try:
            modules.append((path, ast.parse(path.read_text(), str(path))))
        except FileNotFoundError:
            continue
    return modules


def conftest_imports(root: Path) -> list[str]:
    """Every `import`/`from ... import` of a conftest module under `root`, as "file:line"."""
    found = []
    for path, module in _modules(root):
        for node in ast.walk(module):
            if isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            if any(module.split(".")[-1] == "conftest" for module in modules):
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def repeated_constants(root: Path) -> dict[str, list[str]]:
    """UPPER_CASE module-level constants defined by the same source text in several files.

    An alias of another name (`S = IncidentState`) is shorthand, not a constant: skipped.
    """
    where = defaultdict(list)
    for path, module in _modules(root):
        for node in module.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if not isinstance(target, ast.Name) or not CONSTANT.match(target.id):
                continue
            if isinstance(value, ast.Name | ast.Attribute):
                continue
            # ast.unparse normalises quotes, wrapping and comments: same text, same value.
            where[f"{target.id} = {ast.unparse(value)}"].append(str(path.relative_to(root)))
    return {constant: files for constant, files in where.items() if len(files) > 1}


def test_tests_import_helpers_not_conftest() -> None:
    assert conftest_imports(TESTS) == [], "import it from tests.helpers (move it there)"


def test_tests_define_each_constant_once() -> None:
    assert repeated_constants(TESTS) == {}, "define it once in tests/helpers.py and import it"


def test_conftest_imports_finds_every_form(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "test_a.py").write_text(
        "from tests.conftest import x\nimport tests.api.conftest\nfrom .conftest import y\n"
    )
    (tmp_path / "test_b.py").write_text("from tests.helpers import x\nimport conftests\n")

    assert conftest_imports(tmp_path) == ["api/test_a.py:1", "api/test_a.py:2", "api/test_a.py:3"]


def test_repeated_constants_finds_the_same_definition_in_two_files(tmp_path: Path) -> None:
    (tmp_path / "test_a.py").write_text(
        'STATIC = "a.json"\nLIMIT = 3\nS = IncidentState\nlower = 1\nTOKEN: str = "t"\n'
    )
    (tmp_path / "test_b.py").write_text(
        "STATIC = (\n    'a.json'  # the same text, wrapped\n)\nLIMIT = 4\nS = IncidentState\n"
        'lower = 1\nTOKEN: str = "t"\n'
    )

    assert repeated_constants(tmp_path) == {
        "STATIC = 'a.json'": ["test_a.py", "test_b.py"],
        "TOKEN = 't'": ["test_a.py", "test_b.py"],
    }
