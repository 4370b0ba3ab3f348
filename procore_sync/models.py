"""The QuickBooks↔Procore id map, the mappings accountants edit, and the cached Procore catalog.

The outbox (PushJob) is the shared contract and lives in audit.models.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from tenants.models import ProcoreConnection, ProcoreEnvironment, TenantOwned


class ProcoreKind(models.TextChoices):
    VENDOR = "vendor", "Company vendor"
    PROJECT_VENDOR = "project_vendor", "Vendor in project directory"
    REQUISITION = "requisition", "Subcontractor invoice (requisition)"
    REQUISITION_ITEM = "requisition_item", "Subcontractor invoice item"
    DIRECT_COST = "direct_cost", "Direct cost"
    DIRECT_COST_LINE = "direct_cost_line", "Direct cost line item"


class ExternalId(TenantOwned):
    """QuickBooks id ↔ Procore id, per Procore environment. Makes every write an upsert.

    project_id is 0 for company-level objects (vendors); a bill split across jobs
    has one row per project.
    """

    environment = models.CharField(max_length=20, choices=ProcoreEnvironment.choices)
    qb_id = models.CharField(max_length=64)
    procore_kind = models.CharField(max_length=20, choices=ProcoreKind.choices)
    project_id = models.BigIntegerField(default=0)
    procore_id = models.BigIntegerField()
    payload_hash = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "environment", "qb_id", "procore_kind", "project_id"],
                name="externalid_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.qb_id} → {self.procore_kind} {self.procore_id}"


class CostCodeMapping(TenantOwned):
    """Which Procore cost code a QuickBooks vendor's bills go to (optionally per project)."""

    vendor_list_id = models.CharField("QuickBooks vendor ListID", max_length=64)
    vendor_name = models.CharField(max_length=255, blank=True, default="")
    project_id = models.BigIntegerField(default=0, help_text="0 = every project")
    cost_code = models.CharField(max_length=64, help_text="Procore cost code, e.g. 03-300")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "vendor_list_id", "project_id"], name="costcodemapping_unique")
        ]

    def __str__(self) -> str:
        return f"{self.vendor_name or self.vendor_list_id} → {self.cost_code}"


class JobProjectMapping(TenantOwned):
    """QuickBooks Customer:Job (a bill line's CustomerRef) → Procore project."""

    customer_full_name = models.CharField("QuickBooks Customer:Job", max_length=255)
    project_id = models.BigIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "customer_full_name"], name="jobprojectmapping_unique")
        ]

    def __str__(self) -> str:
        return f"{self.customer_full_name} → project {self.project_id}"


class CachedProject(TenantOwned):
    """A Procore project as last read (catalog_refresh); feeds admin pick lists and validation."""

    environment = models.CharField(max_length=20, choices=ProcoreEnvironment.choices)
    procore_id = models.BigIntegerField()
    name = models.CharField(max_length=255)
    project_number = models.CharField(max_length=100, blank=True, default="")
    active = models.BooleanField(default=True)
    fetched_at = models.DateTimeField(default=timezone.now)
    # When this project's cost codes / commitments were last read (None = never).
    cost_codes_fetched_at = models.DateTimeField(null=True, blank=True)
    commitments_fetched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "environment", "procore_id"], name="cachedproject_unique")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.procore_id})"


class CachedCostCode(TenantOwned):
    """A project's cost code, and the cost type (line item type) a direct-cost line uses with it.

    Procore's cost code objects carry `line_item_types` and no WBS code id; a direct-cost line
    names its cost code by `cost_code_id` + `line_item_type_id` (see docs/procore-contract.md).
    """

    environment = models.CharField(max_length=20, choices=ProcoreEnvironment.choices)
    project_id = models.BigIntegerField()
    procore_id = models.BigIntegerField(help_text="cost_code id")
    line_item_type_id = models.BigIntegerField(null=True, blank=True)
    code = models.CharField(max_length=64)
    name = models.CharField(max_length=255, blank=True, default="")
    fetched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "environment", "project_id", "procore_id"],
                name="cachedcostcode_unique",
            )
        ]
        indexes = [models.Index(fields=["tenant", "environment", "project_id", "code"])]
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class CachedCommitmentLine(TenantOwned):
    """One schedule-of-values line of a vendor's commitment in a project (where a bill's amount goes)."""

    environment = models.CharField(max_length=20, choices=ProcoreEnvironment.choices)
    project_id = models.BigIntegerField()
    commitment_id = models.BigIntegerField()
    commitment_kind = models.CharField(max_length=40)
    vendor_procore_id = models.BigIntegerField()
    line_item_id = models.BigIntegerField()
    cost_code_id = models.BigIntegerField()
    fetched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "environment", "project_id", "line_item_id"],
                name="cachedcommitmentline_unique",
            )
        ]
        indexes = [models.Index(fields=["tenant", "environment", "project_id", "vendor_procore_id"])]

    def __str__(self) -> str:
        return f"commitment {self.commitment_id} line {self.line_item_id}"


class ConnectionRate(models.Model):
    """The last rate-limit headers one Procore connection saw (X-Rate-Limit-*).

    Per connection, in the database: every worker pacing that connection reads the same
    window, and a job whose window is used up is rescheduled instead of sleeping in a worker.
    """

    connection = models.OneToOneField(ProcoreConnection, on_delete=models.CASCADE, related_name="rate")
    limit = models.IntegerField(null=True, blank=True)
    remaining = models.IntegerField(null=True, blank=True)
    reset_at = models.FloatField(null=True, blank=True, help_text="epoch seconds")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.remaining}/{self.limit} until {self.reset_at}"
