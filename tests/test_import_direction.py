"""Dependencies point down: tenants ← audit ← qbwc, procore_sync (siblings) ← alerts ← connector; peers alone.

Every module of every app is parsed (not imported), so an import hidden inside a function
counts like one at the top; and a function-level import of another app fails on its own,
because it is how code in the wrong app dodges a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"connector", "tenants", "audit", "qbwc", "procore_sync", "alerts", "peers", "devtools", "tests", "bench"}

# What each package may import of ours (besides itself).
ALLOWED: dict[str, set[str]] = {
    "tenants": set(),
    "audit": {"tenants"},
    "qbwc": {"audit", "tenants"},
    "procore_sync": {"audit", "tenants"},
    # Alerts read both integrations' state (composition level, below connector).
    "alerts": {"tenants", "audit", "qbwc", "procore_sync"},
    # The shipped composition: never the test doubles or the dev tools, which the image leaves out.
    "connector": {"tenants", "audit", "qbwc", "procore_sync", "alerts"},
    "peers": set(),
}
PRODUCT = ("tenants", "audit", "qbwc", "procore_sync", "alerts", "connector")


def _imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, top-level package, inside a function) for each absolute import of ours in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str, bool]] = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = [child.module]
            found.extend(
                (getattr(child, "lineno", 0), top, inner) for top in (n.split(".")[0] for n in names) if top in OURS
            )
            visit(child, inner)

    visit(tree, False)
    return found


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if ".venv" not in p.parts)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_down(package: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {top}"
        for path in _modules(package)
        for line, top, _nested in _imports(path)
        if top != package and top not in ALLOWED[package]
    ]
    assert wrong == [], f"{package} may import only {sorted(ALLOWED[package]) or 'nothing'} of ours"


@pytest.mark.parametrize("package", PRODUCT)
def test_no_function_level_import_of_another_app(package: str) -> None:
    hidden = [
        f"{path.relative_to(ROOT)}:{line} imports {top} inside a function"
        for path in _modules(package)
        for line, top, nested in _imports(path)
        if nested and top != package
    ]
    assert hidden == []


def test_the_checker_sees_function_level_and_upward_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os\nfrom audit import models\n\ndef f():\n    from procore_sync.models import X\n")
    assert _imports(module) == [(2, "audit", False), (5, "procore_sync", True)]
