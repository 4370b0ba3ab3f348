"""alerts/ sits at the composition level: it may import the apps below it; none of them imports it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BELOW = ["tenants", "audit", "qbwc", "procore_sync"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_app_below_the_composition_level_imports_alerts() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for app in BELOW
        for path in (ROOT / app).rglob("*.py")
        if "alerts" in _imports(path)
    ]
    assert offenders == []


def test_alerts_imports_only_django_celery_and_the_apps_below() -> None:
    ours = {"alerts", "connector", "peers", "devtools", *BELOW}
    used = set().union(*(_imports(p) for p in (ROOT / "alerts").rglob("*.py"))) & ours
    assert used <= {"alerts", *BELOW}, used
