"""The demo's story, run inside the demo process with Django set up (see devtools/demo.py).

Everything goes through the product's own services and real HTTP: the simulator talks
SOAP to the web server, the worker talks REST to the Procore emulator.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.request import urlopen

from django.contrib.auth import get_user_model
from django.db.models import Count

from audit.models import JobReason, JobState, PushJob, RecordKind, RecordState, SyncRecord
from peers.procore_emulator.state import DEFAULT_SEED
from peers.qbwc_simulator.client import WebConnector
from peers.qbwc_simulator.company import FakeCompany
from peers.qbwc_simulator.dataset import load
from procore_sync.reconcile.compare import render
from procore_sync.reconcile.gather import tenant_reconcile
from procore_sync.services.catalog import catalog_refresh
from procore_sync.services.mappings import costcode_map, job_map
from procore_sync.tokens import client_for, connection_connect
from tenants.models import Tenant
from tenants.services import membership_add, tenant_create

SLUG = "demo"


@dataclass
class Story:
    base_url: str
    emulator_url: str
    say: Callable[[str], None]
    progress: Callable[[str], None]
    unmapped_at_first: int = 3
    seed: dict[str, Any] = field(default_factory=lambda: json.loads(DEFAULT_SEED.read_text(encoding="utf-8")))
    tenant: Tenant | None = None
    qbwc_password: str = ""
    later_mappings: list[dict[str, str]] = field(default_factory=list)

    # --- setup --------------------------------------------------------------------

    def setup(self) -> dict[str, str]:
        """Tenant, users, Procore connection and mappings. Returns the demo logins."""
        seed, hints = self.seed, self.seed["connector_hints"]
        self.qbwc_password = secrets.token_urlsafe(12)
        company = seed["company"]
        self.say(f"creating tenant '{SLUG}' for {company['name']} (Procore sandbox = the emulator)")
        tenant = tenant_create(
            slug=SLUG,
            name=company["name"],
            qbwc_username="demo-qbwc",
            qbwc_password=self.qbwc_password,
            procore_environment="sandbox",
            procore_company_id=int(company["id"]),
            procore_project_id=1,
            poll_interval_minutes=15,
        )
        client = seed["clients"][0]
        connection_connect(
            tenant=tenant, environment="sandbox", client_id=client["client_id"], client_secret=client["client_secret"]
        )
        projects = {p["name"]: int(p["id"]) for p in client_for(tenant).projects()}
        tenant.procore_project_id = projects[hints["default_project"]]
        tenant.save(update_fields=["procore_project_id"])
        catalog_refresh(tenant=tenant)
        for job_name, project_id in projects.items():
            job_map(tenant=tenant, customer_full_name=job_name, project_id=project_id)
        mappings = hints["cost_code_mappings"]
        keep = len(mappings) - self.unmapped_at_first
        for m in mappings[:keep]:
            costcode_map(
                tenant=tenant,
                vendor_list_id=m["vendor_list_id"],
                vendor_name=m["vendor_name"],
                cost_code=m["cost_code"],
            )
        self.later_mappings = mappings[keep:]
        self.say(
            f"mapped {len(projects)} QuickBooks jobs to projects and {keep} of {len(mappings)} vendors "
            f"to cost codes ({len(self.later_mappings)} left for the accountant)"
        )
        self.tenant = tenant

        logins = {"demo-qbwc (Web Connector)": self.qbwc_password}
        for username, role in (("alice", "accountant"), ("sam", "support")):
            password = secrets.token_urlsafe(9)
            membership_add(tenant=tenant, username=username, password=password, role=role)
            logins[f"{username} ({role})"] = password
        admin_password = secrets.token_urlsafe(9)
        user_model = get_user_model()
        admin, _ = user_model.objects.get_or_create(username="admin")
        admin.is_staff = admin.is_superuser = True
        admin.set_password(admin_password)
        admin.save()
        logins["admin (superuser)"] = admin_password
        return logins

    # --- the runs -----------------------------------------------------------------

    def run(self) -> bool:
        assert self.tenant is not None
        company = FakeCompany(load())
        connector = WebConnector(f"{self.base_url}/qbwc/", "demo-qbwc", self.qbwc_password, company)

        self.say("Web Connector run 1: everything QuickBooks has")
        self._qbwc_run(connector)
        self._drain("pushing to Procore")
        self._table("after the first run")

        if company.apply_next_changes():
            self.say("the bookkeeper edits, adds and deletes bills in QuickBooks")
        self.say("Web Connector run 2: only what changed since run 1")
        self._qbwc_run(connector)
        self._drain("pushing changes to Procore")
        self._table("after the incremental run")

        waiting = self._vendors_waiting_for_mapping()
        self.say(f"the accountant maps the {len(waiting)} vendors whose bills wait (admin → cost codes)")
        planned = {m["vendor_list_id"]: m["cost_code"] for m in self.later_mappings}
        for list_id, name in waiting.items():
            # A vendor QuickBooks added in run 2 has no planned code: General Requirements.
            costcode_map(
                tenant=self.tenant, vendor_list_id=list_id, vendor_name=name, cost_code=planned.get(list_id, "01-100")
            )
        self._drain("releasing the bills that waited")
        calls = self._procore_calls()
        self._table("final")
        self.say(f"Procore API calls the emulator answered (setup, pushes and retries): {calls}")

        self.say("reconciling QuickBooks with Procore (manage.py reconcile demo)")
        report, names = tenant_reconcile(tenant=self.tenant)
        for line in render(report, project_names=names).splitlines():
            print(f"  {line}")
        failed = SyncRecord.objects.filter(tenant=self.tenant, state=RecordState.FAILED).count()
        return report.ok and failed == 0

    def _vendors_waiting_for_mapping(self) -> dict[str, str]:
        jobs = PushJob.objects.filter(
            tenant=self.tenant, state=JobState.WAITING, reason=JobReason.NEEDS_MAPPING
        ).select_related("record")
        found: dict[str, str] = {}
        for job in jobs:
            payload = job.record.payload
            found[job.record.vendor_list_id] = str(payload.get("vendor_name", job.record.vendor_list_id))
        return found

    def _qbwc_run(self, connector: WebConnector) -> None:
        result = connector.run()
        note = f": {result.close_message}" if result.close_message else ""
        self.say(f"  Web Connector → {result.outcome}, {len(result.requests)} qbXML requests{note}")
        if result.outcome != "done":
            raise SystemExit(f"the Web Connector run ended with {result.outcome}: {result.last_error}")

    def _drain(self, what: str, *, seconds: float = 600) -> None:
        assert self.tenant is not None
        deadline = time.monotonic() + seconds
        while True:
            open_jobs = PushJob.objects.filter(tenant=self.tenant, state__in=[JobState.PENDING, JobState.IN_FLIGHT])
            counts = dict(SyncRecord.objects.filter(tenant=self.tenant).values_list("state").annotate(n=Count("id")))
            total = sum(counts.values())
            text = (
                f"{what}: {counts.get(RecordState.SYNCED, 0) + counts.get(RecordState.DELETED, 0)}/{total} done, "
                f"{counts.get(RecordState.WAITING, 0)} waiting, {counts.get(RecordState.RETRYING, 0)} retrying, "
                f"{open_jobs.count()} queued"
            )
            self.progress(text)
            if not open_jobs.exists():
                self.progress(text.replace("queued", "queued — done"))
                if sys.stdout.isatty():
                    print()
                return
            if time.monotonic() > deadline:
                print()
                raise SystemExit(f"the outbox did not drain within {seconds:.0f}s; see var/demo/logs/worker.log")
            time.sleep(0.5)

    def _procore_calls(self) -> int:
        with urlopen(f"{self.emulator_url}/_emulator/state", timeout=10) as resp:  # noqa: S310 - local emulator
            return int(json.loads(resp.read())["requests"])

    def _table(self, title: str) -> None:
        assert self.tenant is not None
        rows = []
        for kind, label in ((RecordKind.VENDOR, "vendors"), (RecordKind.BILL, "bills")):
            qs = SyncRecord.objects.filter(tenant=self.tenant, kind=kind)
            waiting_mapping = PushJob.objects.filter(
                tenant=self.tenant, record__kind=kind, state=JobState.WAITING, reason=JobReason.NEEDS_MAPPING
            ).count()
            rows.append(
                (
                    label,
                    qs.count(),
                    qs.filter(state=RecordState.SYNCED).count(),
                    waiting_mapping,
                    qs.filter(state=RecordState.WAITING).count() - waiting_mapping,
                    qs.filter(deleted_in_qb=True).count(),
                    qs.filter(state=RecordState.FAILED).count(),
                )
            )
        print(f"\n  {title}:")
        print(
            f"  {'':<8} {'received':>9} {'in Procore':>11} {'wait map':>9} {'wait other':>11} "
            f"{'deleted':>8} {'failed':>7}"
        )
        for label, *numbers in rows:
            print(f"  {label:<8} " + " ".join(f"{n:>{w}}" for n, w in zip(numbers, (9, 11, 9, 11, 8, 7), strict=True)))
        print()
