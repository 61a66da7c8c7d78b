"""The parts of the import direction import-linter cannot see (docs/architecture.md).

`tests/` is not a package, so its imports are read here: a conformance test observes the node
through the node resources and asks the install plan only whether its layer's steps succeeded.
And an import inside a function must not hide a cycle: the only ones allowed load the Google
client libraries or the gce target, which other targets never pay for.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TESTS_MAY_IMPORT = ("fixtures.node", "fixtures.install.probes")
# (module, imported): imports inside functions that exist for cost, not for a cycle
LAZY_FOR_COST = {
    ("fixtures/targets/registry.py", "fixtures.targets.gce.target"),
    ("fixtures/targets/registry.py", "fixtures.targets.gce.session"),
}


def _imports(tree: ast.AST, *, nested_only: bool = False) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and nested_only:
            continue
        for sub in ast.walk(node) if nested_only else [node]:
            if isinstance(sub, ast.ImportFrom) and sub.module:
                found.append(sub.module)
            elif isinstance(sub, ast.Import):
                found += [alias.name for alias in sub.names]
    return found


def test_conformance_tests_import_only_node_resources_and_the_install_verdict():
    wrong = [
        f"{path.name}: {module}"
        for path in sorted((REPO / "tests").glob("test_*.py"))
        for module in _imports(ast.parse(path.read_text()))
        if module.startswith(("fixtures", "twin")) and not module.startswith(TESTS_MAY_IMPORT)
    ]
    assert not wrong, "tests import beyond the node resources:\n" + "\n".join(wrong)


def test_no_import_of_the_suite_or_the_twin_hides_in_a_function():
    hidden = sorted(
        {
            (str(path.relative_to(REPO)), module)
            for path in (REPO / "fixtures").rglob("*.py")
            for module in _imports(ast.parse(path.read_text()), nested_only=True)
            if module.startswith(("fixtures", "twin"))
        }
        - LAZY_FOR_COST
    )
    assert not hidden, f"imports inside functions (move them to the top): {hidden}"
