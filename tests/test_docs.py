"""The project's pages link only inside the repository, and every link resolves.

A newcomer reads the repository alone: a link to a sibling folder or to a web site may
be gone tomorrow, and a renamed page or heading leaves links that lead nowhere. So
every link in README.md, docs/*.md, bench/README.md and CHANGELOG.md is relative,
names a file that exists in the repository, and, with a `#fragment`, a heading of it.
Web addresses may still be named, as code (`https://...`), which is not a link.
"""

import re
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers import ROOT

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
AUTOLINK = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]*)>")
BARE_URL = re.compile(r"\b(?:https?://|www\.)\S+")
SCHEME = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def doc_pages(root: Path) -> list[Path]:
    """The pages a reader of the repository follows links in."""
    pages = [root / "README.md", root / "CHANGELOG.md", root / "bench" / "README.md"]
    return pages + sorted((root / "docs").glob("*.md"))


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, with code spans removed."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, CODE_SPAN.sub("", line)))
    return lines


def links(text: str) -> list[tuple[int, str]]:
    """Every link target in a Markdown text (inline, reference, autolink, bare URL)."""
    found = []
    for number, line in _prose_lines(text):
        targets = [m.group(1) for m in INLINE_LINK.finditer(line)]
        targets += [m.group(1) for m in REFERENCE.finditer(line)]
        targets += [m.group(1) for m in AUTOLINK.finditer(line)]
        # What is left once links are taken out: GitHub turns a bare address into a link.
        rest = AUTOLINK.sub("", INLINE_LINK.sub("", line))
        targets += [m.group(0) for m in BARE_URL.finditer(rest)]
        found += [(number, target) for target in targets]
    return found


def heading_anchor(heading: str) -> str:
    """The fragment GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The fragments a page's headings answer to (a repeated heading gets `-1`, `-2`, ...)."""
    seen: Counter[str] = Counter()
    result = set()
    for _, line in _prose_lines(text):
        match = HEADING.match(line)
        if not match:
            continue
        anchor = heading_anchor(match.group(2))
        result.add(anchor if not seen[anchor] else f"{anchor}-{seen[anchor]}")
        seen[anchor] += 1
    return result


def link_problems(page: Path, root: Path) -> list[str]:
    """What is wrong with each link of `page`, as "file:line: target: why"."""
    problems = []
    for number, target in links(page.read_text()):
        where = f"{page.relative_to(root)}:{number}: {target}"
        if SCHEME.match(target) or target.startswith("www."):
            problems.append(f"{where}: leaves the repository (name it in words, or as code)")
            continue
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.is_relative_to(root.resolve()):
            problems.append(f"{where}: leaves the repository")
        elif not linked.exists():
            problems.append(f"{where}: no such file")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked.read_text()):
            problems.append(f"{where}: no heading #{fragment} in {linked.name}")
    return problems


def environment_variables(source: str) -> set[str]:
    """The environment variables a settings file reads (`env.int("X")`, `os.environ.get("X")`)."""
    reads = re.findall(r"\benv(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"", source)
    reads += re.findall(r"os\.environ(?:\.get\(|\[)\s*\"([A-Z][A-Z0-9_]*)\"", source)
    return set(reads)


def configuration_table(text: str) -> set[str]:
    """The variables named in the first column of the "Configuration" section's table."""
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", row)}


def test_configuration_table_lists_every_environment_variable() -> None:
    read = environment_variables((ROOT / "itsm" / "settings.py").read_text())
    read |= environment_variables((ROOT / "gunicorn.conf.py").read_text())
    documented = configuration_table((ROOT / "docs" / "operations.md").read_text())

    assert "DATABASE_URL" in read, "environment_variables() no longer finds the settings' reads"
    assert sorted(read - documented) == [], "add them to docs/operations.md, Configuration"


def test_environment_variables_finds_every_form() -> None:
    source = (
        'A = env.int("ONE", default=1)\nB = env("TWO")\nC = env.db_url(\n    "THREE")\n'
        'D = os.environ.get("FOUR", "")\nE = os.environ["FIVE"]\nF = environ.Env()\n'
    )
    assert environment_variables(source) == {"ONE", "TWO", "THREE", "FOUR", "FIVE"}


PACKAGES = ("itsm", "core", "cmdb", "incidents", "integrations", "notifications", "console")


def module_blocks(text: str) -> dict[str, str]:
    """architecture.md's "Modules" section, cut into one block of text per package."""
    section = text.split("\n## Modules\n", 1)[1].split("\n## ", 1)[0]
    parts = re.split(rf"(?m)^`({'|'.join(PACKAGES)})/`", section)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def unlisted_modules(root: Path, text: str) -> list[str]:
    """Our Python modules that the package's block in "Modules" does not name.

    A module counts as named by its file name (`jobs.py`), a command by its name, and a
    module in a sub-package (`api/views.py`) also by the sub-package (`api/`).
    """
    blocks = module_blocks(text)
    missing = []
    for package in PACKAGES:
        block = blocks.get(package, "")
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root / package).parts
            if path.name in ("__init__.py", "apps.py") or "migrations" in parts:
                continue
            if parts[:2] == ("management", "commands"):
                names = [path.stem, path.name]
            else:
                names = [path.name, f"{parts[0]}/"] if len(parts) > 1 else [path.name]
            if not any(f"`{name}" in block or f"/{name}`" in block for name in names):
                missing.append(f"{package}/{'/'.join(parts)}")
    return missing


def vanished_modules(root: Path, text: str) -> list[str]:
    """Files a package's block in "Modules" names (`x.py`) that the package no longer has."""
    missing = []
    for package, block in module_blocks(text).items():
        for name in sorted(set(re.findall(r"`(?:[\w/]+/)?(\w+\.py)`", block))):
            if not any((root / package).rglob(name)):
                missing.append(f"{package}/{name}")
    return missing


def test_architecture_names_every_module() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    assert set(module_blocks(text)) == set(PACKAGES), "a package lost its block in Modules"
    assert unlisted_modules(ROOT, text) == [], "say what it is for in architecture.md, Modules"
    assert vanished_modules(ROOT, text) == [], "gone or moved: update architecture.md, Modules"


def test_unlisted_modules_finds_a_module_missing_from_its_package(tmp_path: Path) -> None:
    for name in ("core/models.py", "core/jobs.py", "core/api/views.py", "cmdb/x.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "core" / "management" / "commands").mkdir(parents=True)
    (tmp_path / "core" / "management" / "commands" / "run_worker.py").write_text("")
    text = (
        "# A\n## Modules\n\n`core/`\n- `models.py`, `api/`, `run_worker`\n\n`cmdb/`\n- `jobs.py`\n"
    )

    assert unlisted_modules(tmp_path, text) == ["core/jobs.py", "cmdb/x.py"]
    assert vanished_modules(tmp_path, text) == ["cmdb/jobs.py"]


@pytest.mark.parametrize("page", doc_pages(ROOT), ids=lambda p: str(p.relative_to(ROOT)))
def test_doc_page_links_resolve_inside_the_repository(page: Path) -> None:
    assert page.exists(), f"{page.relative_to(ROOT)} is gone: update doc_pages()"
    assert link_problems(page, ROOT) == []


def test_link_problems_refuses_web_and_outside_links(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\n## Two words\n")
    page = tmp_path / "README.md"
    page.write_text(
        "[web](https://example.com) and <https://example.org> and www.example.net\n"
        "[shared](../shared/STYLE.md) [missing](docs/b.md) [bad anchor](docs/a.md#three)\n"
        "[ok](docs/a.md#two-words) [self](#top) `https://in.code` [ok2](docs/a.md)\n"
        "```\nhttps://in.a.fence\n```\n# Top\n"
    )

    problems = link_problems(page, tmp_path)

    assert problems == [
        "README.md:1: https://example.com: leaves the repository (name it in words, or as code)",
        "README.md:1: https://example.org: leaves the repository (name it in words, or as code)",
        "README.md:1: www.example.net: leaves the repository (name it in words, or as code)",
        "README.md:2: ../shared/STYLE.md: leaves the repository",
        "README.md:2: docs/b.md: no such file",
        "README.md:2: docs/a.md#three: no heading #three in a.md",
    ]


def test_heading_anchor_follows_github() -> None:
    assert heading_anchor("The webhook's answers") == "the-webhooks-answers"
    assert heading_anchor("Lists: pages, filters, ordering") == "lists-pages-filters-ordering"
    assert heading_anchor("5. Create the connection") == "5-create-the-connection"
    assert heading_anchor("403: the caller is `not` allowed") == "403-the-caller-is-not-allowed"
    assert heading_anchor("See [api.md](api.md) now") == "see-apimd-now"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1"}
