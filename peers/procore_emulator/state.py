"""The emulator's in-memory Procore: OAuth apps and tokens, one or more companies, and faults.

Everything is guarded by one lock; tests read it directly (`state.vendors`,
`state.requisitions`, `state.requests`) for assertions. Ids start above 2**32
because real Procore ids can exceed 32 bits.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

DEFAULT_SEED = Path(__file__).with_name("seed.json")


@dataclass
class Fault:
    """One injected misbehaviour, applied to the next `count` matching requests.

    kind: "status" (answer `status` before doing anything), "latency" (sleep
    `delay` then answer normally), "timeout" (sleep `delay`, then hang up without
    doing anything), "drop" (do the work and commit it, then hang up: the client
    never sees the answer).
    """

    kind: str
    count: int = 1
    status: int = 500
    delay: float = 0.0
    method: str | None = None
    path: str | None = None  # regex searched in the request path
    retry_after: float | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.count <= 0:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return not (self.path and not re.search(self.path, path))


@dataclass
class RateWindow:
    limit: int
    seconds: float
    started: float = 0.0
    used: int = 0

    def roll(self, now: float) -> None:
        if now >= self.started + self.seconds:
            self.started, self.used = now, 0

    @property
    def reset(self) -> float:
        return self.started + self.seconds


@dataclass
class Logged:
    method: str
    path: str
    status: int
    client_id: str = ""


@dataclass
class EmulatorState:
    token_ttl: int = 5400
    # Procore has an hourly and a 10-second spike window; both are configurable.
    rate_limits: list[tuple[int, float]] = field(default_factory=lambda: [(3600, 3600.0), (1000, 10.0)])
    lock: threading.RLock = field(default_factory=threading.RLock)
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    auth_codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    companies: dict[int, dict[str, Any]] = field(default_factory=dict)
    vendors: dict[int, dict[str, Any]] = field(default_factory=dict)
    project_vendors: dict[int, set[int]] = field(default_factory=dict)
    projects: dict[int, dict[str, Any]] = field(default_factory=dict)
    cost_codes: dict[int, dict[str, Any]] = field(default_factory=dict)
    commitments: dict[int, dict[str, Any]] = field(default_factory=dict)
    requisitions: dict[int, dict[str, Any]] = field(default_factory=dict)
    direct_costs: dict[int, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[Logged] = field(default_factory=list)
    windows: dict[str, list[RateWindow]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(5_000_000_001))

    # --- setup -------------------------------------------------------------------

    def next_id(self) -> int:
        return next(self._ids)

    def add_client(self, client_id: str, client_secret: str, company_ids: list[int]) -> None:
        with self.lock:
            self.clients[client_id] = {"secret": client_secret, "companies": set(company_ids)}

    def add_company(self, company_id: int, name: str) -> None:
        with self.lock:
            self.companies[company_id] = {"id": company_id, "name": name}

    def load_seed(self, seed: dict[str, Any]) -> dict[str, int]:
        """Load projects, cost codes, vendors and commitments. Returns name/code → id lookups."""
        ids: dict[str, int] = {}
        with self.lock:
            company_id = int(seed["company"]["id"])
            self.add_company(company_id, seed["company"]["name"])
            for client in seed.get("clients", []):
                self.add_client(client["client_id"], client["client_secret"], [company_id])
            codes = seed.get("cost_codes", [])
            for p in seed.get("projects", []):
                pid = int(p.get("id") or self.next_id())
                self.projects[pid] = {
                    "id": pid,
                    "company_id": company_id,
                    "name": p["name"],
                    "project_number": p.get("project_number", ""),
                    "active": True,
                }
                ids["project:" + p["name"]] = pid
                self.project_vendors.setdefault(pid, set())
                for c in codes:
                    cid = self.next_id()
                    self.cost_codes[cid] = {
                        "id": cid,
                        "project_id": pid,
                        "code": c["code"],
                        "full_code": c["code"],
                        "name": c["name"],
                        # The same cost code seen as a WBS code (direct-cost line items use it).
                        "wbs_code_id": self.next_id(),
                    }
            for v in seed.get("vendors", []):
                vid = self.next_id()
                self.vendors[vid] = _vendor_defaults(vid, company_id) | {
                    "name": v["name"],
                    "origin_id": v.get("origin_id"),
                }
                ids["vendor:" + (v.get("origin_id") or v["name"])] = vid
            for c in seed.get("commitments", []):
                pid = ids["project:" + c["project"]]
                vid = ids["vendor:" + c["vendor"]]
                self.project_vendors[pid].add(vid)
                cid = self.next_id()
                lines = []
                for line in c["lines"]:
                    code = self.cost_code_by_code(pid, line["cost_code"])
                    lines.append(
                        {
                            "id": self.next_id(),
                            "amount": Decimal(str(line["amount"])),
                            "description": line.get("description", code["name"]),
                            "cost_code": {"id": code["id"], "code": code["code"], "name": code["name"]},
                        }
                    )
                self.commitments[cid] = {
                    "id": cid,
                    "kind": c.get("kind", "work_order_contracts"),
                    "project_id": pid,
                    "number": c.get("number", str(len(self.commitments) + 1)),
                    "title": c.get("title", "Subcontract"),
                    "vendor": {"id": vid, "name": self.vendors[vid]["name"]},
                    "line_items": lines,
                }
                ids[f"commitment:{c['project']}:{c['vendor']}"] = cid
        return ids

    def load_seed_file(self, path: Path = DEFAULT_SEED) -> dict[str, int]:
        return self.load_seed(json.loads(Path(path).read_text()))

    def cost_code_by_code(self, project_id: int, code: str) -> dict[str, Any]:
        for c in self.cost_codes.values():
            if c["project_id"] == project_id and c["code"] == code:
                return c
        raise KeyError(f"no cost code {code} in project {project_id}")

    # --- tokens ------------------------------------------------------------------

    def issue_tokens(self, client_id: str, *, with_refresh: bool, grant: str | None = None) -> dict[str, Any]:
        grant = grant or secrets.token_hex(8)
        access = "at-" + secrets.token_urlsafe(24)
        now = time.time()
        self.access_tokens[access] = {
            "client_id": client_id,
            "expires_at": now + self.token_ttl,
            "grant": grant,
            "revoked": False,
        }
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": self.token_ttl,
            "created_at": int(now),
        }
        if with_refresh:
            refresh = "rt-" + secrets.token_urlsafe(24)
            self.refresh_tokens[refresh] = {"client_id": client_id, "used": False, "grant": grant}
            body["refresh_token"] = refresh
        return body

    def issue_code(self, client_id: str) -> str:
        code = "code-" + secrets.token_urlsafe(16)
        with self.lock:
            self.auth_codes[code] = {"client_id": client_id, "expires_at": time.time() + 600}
        return code

    def revoke_grant(self, grant: str) -> None:
        with self.lock:
            for t in self.access_tokens.values():
                if t["grant"] == grant:
                    t["revoked"] = True
            for r in self.refresh_tokens.values():
                if r["grant"] == grant:
                    r["used"] = True

    def revoke_refresh_token(self, token: str) -> None:
        """Tests: make a tenant's refresh token unusable, as if revoked in Procore."""
        with self.lock:
            if token in self.refresh_tokens:
                self.revoke_grant(self.refresh_tokens[token]["grant"])

    def expire_access_token(self, token: str) -> None:
        with self.lock:
            if token in self.access_tokens:
                self.access_tokens[token]["expires_at"] = time.time() - 1

    # --- faults & rate limits -----------------------------------------------------

    def inject(self, kind: str, **kwargs: Any) -> Fault:
        fault = Fault(kind=kind, **kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    return fault
        return None

    def set_rate_limits(self, windows: list[tuple[int, float]]) -> None:
        with self.lock:
            self.rate_limits = list(windows)
            self.windows.clear()

    def spend(self, key: str) -> tuple[bool, int, int, float]:
        """Count one request for an app. Returns (allowed, limit, remaining, reset)."""
        now = time.time()
        with self.lock:
            wins = self.windows.get(key)
            if wins is None:
                wins = [RateWindow(limit, seconds, now) for limit, seconds in self.rate_limits]
                self.windows[key] = wins
            for w in wins:
                w.roll(now)
                w.used += 1
            # Report the window closest to binding, as Procore does.
            closest = min(wins, key=lambda w: (w.limit - w.used, w.reset))
            allowed = all(w.used <= w.limit for w in wins)
            blocking = [w for w in wins if w.used > w.limit]
            shown = max(blocking, key=lambda w: w.reset) if blocking else closest
            return allowed, shown.limit, max(shown.limit - shown.used, 0), shown.reset

    # --- reading back ------------------------------------------------------------

    def count(self, method: str | None = None, path: str | None = None) -> int:
        with self.lock:
            return sum(
                1
                for r in self.requests
                if (method is None or r.method == method) and (path is None or re.search(path, r.path))
            )

    def vendors_by_origin(self, origin_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [v for v in self.vendors.values() if v.get("origin_id") == origin_id]

    def requisitions_by_origin(self, origin_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requisitions.values() if r.get("origin_id") == origin_id]

    def direct_costs_by_origin(self, origin_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [d for d in self.direct_costs.values() if d.get("origin_id") == origin_id]

    def snapshot(self) -> dict[str, Any]:
        """A JSON-safe dump for GET /_emulator/state and the demo."""
        with self.lock:
            return json.loads(
                json.dumps(
                    {
                        "companies": list(self.companies.values()),
                        "projects": list(self.projects.values()),
                        "vendors": list(self.vendors.values()),
                        "project_vendors": {str(k): sorted(v) for k, v in self.project_vendors.items()},
                        "commitments": list(self.commitments.values()),
                        "requisitions": list(self.requisitions.values()),
                        "direct_costs": list(self.direct_costs.values()),
                        "requests": len(self.requests),
                        "statuses": _status_counts(self.requests),
                        "oauth_requests": sum(1 for r in self.requests if r.path.startswith("/oauth/")),
                        "faults": [f.__dict__ for f in self.faults if f.count > 0],
                    },
                    default=str,
                )
            )


def _status_counts(requests: list[Logged]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in requests:
        counts[str(r.status)] = counts.get(str(r.status), 0) + 1
    return counts


def _vendor_defaults(vid: int, company_id: int) -> dict[str, Any]:
    return {
        "id": vid,
        "company_id": company_id,
        "name": "",
        "legal_name": "",
        "abbreviated_name": "",
        "address": "",
        "city": "",
        "state_code": "",
        "zip": "",
        "country_code": "",
        "business_phone": "",
        "fax_number": "",
        "email_address": "",
        "is_active": True,
        "origin_id": None,
        "origin_data": None,
        "origin_code": None,
    }


vendor_defaults = _vendor_defaults
