"""docs/procore-contract.md names the code behind each endpoint; every such name must exist.

A reference is a backticked `module.name` or `Class.name` whose first part is a module of
procore_sync (`tokens`, `services/bills`, `reconcile/gather`, ...) or a class defined there;
other dotted words in the document (`vendor.id`, `cost_code.id`) are Procore fields and skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "procore_sync"
DOCS = [ROOT / "docs" / "procore-contract.md", ROOT / "docs" / "invoices.md"]
REF = re.compile(r"`([A-Za-z_/]+)\.([A-Za-z_]+)`")


def _module(prefix: str) -> Path | None:
    for candidate in (PKG / f"{prefix}.py", PKG / "services" / f"{prefix}.py", PKG / prefix / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _classes() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in PKG.rglob("*.py"):
        for name in re.findall(r"^class (\w+)", path.read_text(), flags=re.M):
            found.setdefault(name, path)
    return found


def _defines(path: Path, name: str) -> bool:
    return re.search(rf"^\s*(def|class) {name}\b|^{name}\s*[:=]", path.read_text(), flags=re.M) is not None


def test_every_code_reference_in_the_contract_documents_exists() -> None:
    classes = _classes()
    missing, checked = [], 0
    for doc in DOCS:
        for prefix, name in REF.findall(doc.read_text()):
            if name == "py":  # a file named whole: it must exist
                checked += 1
                if _module(prefix) is None and not (ROOT / f"{prefix}.py").is_file():
                    missing.append(f"{doc.name}: `{prefix}.py` (no such file)")
                continue
            path = _module(prefix) or classes.get(prefix)
            if path is None:
                continue  # a Procore field such as `vendor.id`
            checked += 1
            if not _defines(path, name):
                missing.append(f"{doc.name}: `{prefix}.{name}` (looked in {path.relative_to(ROOT)})")
    assert checked >= 20, checked  # the document really names its code
    assert not missing, "\n".join(missing)
