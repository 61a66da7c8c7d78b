"""Messages cite only what a user has: the project's docs/facts.md, or an upstream file or issue.

The research notes the suite was first built from (`akri-facts`, `libs-facts`, their section
numbers and `F<n>` failure-mode codes) are not part of the project: no message, docstring or
comment in `fixtures/`, `tests/` or `twin/` may cite them. A citation of the project's own facts
is `docs/facts.md#<anchor>`, and the anchor must exist there.
"""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FACTS = REPO / "docs" / "facts.md"
SCANNED = ("fixtures", "tests", "twin")
SUFFIXES = {".py", ".yaml", ".yml", ".md", ".sh", ".txt", ".toml", ".json"}
INTERNAL = re.compile(
    r"\b(?:akri|libs)-facts\b"  # the research files, by name
    r"|(?<![\w/.#-])facts \d+(?:\.\d+)?"  # "(facts 2.2)": a section of them
    r"|(?<!noqa: )(?<![\w,])F\d{1,2}\b(?!\d)"  # a failure-mode code (F5), not a ruff code (F401)
)
CITED = re.compile(r"docs/facts\.md#([A-Za-z0-9_-]+)")
ANCHOR = re.compile(r'<a id="([A-Za-z0-9_-]+)"></a>')


def _files() -> list[Path]:
    return sorted(
        path
        for top in SCANNED
        for path in (REPO / top).rglob("*")
        if path.is_file() and path.suffix in SUFFIXES and "__pycache__" not in path.parts
    )


def _anchors() -> list[str]:
    return ANCHOR.findall(FACTS.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("text", "internal"),
    [
        ("(akri-facts 2.3)", True),
        ("see libs-facts 3b", True),
        ("hash (facts 2.2)", True),
        ("crash-loops (section 4, F5)", True),
        ("F14)", True),
        ("# noqa: F401", False),
        ("# noqa: F401, F811", False),
        ("0xF8 and FF D8", False),
        ("see docs/facts.md#instance-names", False),
    ],
)
def test_the_pattern_tells_internal_citations_from_ordinary_text(text, internal):
    assert bool(INTERNAL.search(text)) is internal, text


def test_no_message_docstring_or_comment_cites_the_research_notes():
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()[:120]}"
        for path in _files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if INTERNAL.search(line)
    ]
    files = sorted({hit.split(":")[0] for hit in found})
    assert not found, (
        f"{len(found)} citations of internal research notes in {len(files)} files "
        f"({', '.join(files)}); cite docs/facts.md#<anchor> or the upstream source:\n"
        + "\n".join(found)
    )


def test_every_cited_anchor_exists():
    anchors = set(_anchors())
    cited = {
        (f"{path.relative_to(REPO)}:{number}", anchor)
        for path in [*_files(), REPO / "README.md"]
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for anchor in CITED.findall(line)
    }
    missing = sorted(f"{where}: #{anchor}" for where, anchor in cited if anchor not in anchors)
    assert not missing, "docs/facts.md has no such anchor:\n" + "\n".join(missing)


def test_facts_anchors_are_unique_and_its_own_links_resolve():
    anchors = _anchors()
    assert len(anchors) >= 40, anchors
    assert len(anchors) == len(set(anchors)), [a for a in anchors if anchors.count(a) > 1]
    links = re.findall(r"\]\(#([A-Za-z0-9_-]+)\)", FACTS.read_text(encoding="utf-8"))
    assert links and not set(links) - set(anchors), set(links) - set(anchors)
