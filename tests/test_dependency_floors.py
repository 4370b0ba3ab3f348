"""Finding 12: dependency floors in pyproject.toml never fall below security-floors.txt."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def version(text: str) -> tuple[int, ...]:
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def floors_required() -> dict[str, tuple[int, ...]]:
    lines = (ROOT / "security-floors.txt").read_text().splitlines()
    pairs = [line.split() for line in lines if line.strip() and not line.startswith("#")]
    return {name.lower(): version(v) for name, v in pairs}


def floors_declared() -> dict[str, tuple[int, ...]]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    found: dict[str, tuple[int, ...]] = {}
    for dep in deps:
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*(.*)$", dep)
        assert match, dep
        floor = re.search(r">=\s*([0-9][0-9.]*)", match.group(2))
        if floor:
            found[match.group(1).lower()] = version(floor.group(1))
    return found


def test_every_listed_package_has_a_floor_at_or_above_its_security_release() -> None:
    declared = floors_declared()
    for name, minimum in floors_required().items():
        assert name in declared, f"{name} has no >= floor in pyproject.toml"
        assert declared[name] >= minimum, f"{name} floor {declared[name]} is below {minimum} (security-floors.txt)"


def test_the_list_covers_the_packages_named_in_issue_10() -> None:
    assert {"django", "granian", "requests"} <= set(floors_required())
