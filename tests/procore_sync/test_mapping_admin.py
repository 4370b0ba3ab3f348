"""Mapping services, screens and commands: saving a mapping releases the bills that waited on it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from audit.models import JobReason, JobState, PushJob
from procore_sync.models import CachedCostCode, CostCodeMapping, JobProjectMapping
from procore_sync.services.mappings import costcode_map, job_map, vendor_resolve, vendors_unmapped
from tests import builders
from tests.conftest import Cast


def _waiting_bills(cast: Cast):  # type: ignore[no-untyped-def]
    v = builders.vendor(cast.acme, "Acme Concrete Supply")
    jobs = [builders.park_for_mapping(builders.bill(cast.acme, v, f"INV-{n}")) for n in (1, 2)]
    return v, jobs


def test_costcode_map_saves_and_releases_the_tenants_waiting_jobs(cast: Cast) -> None:
    v, jobs = _waiting_bills(cast)
    gv = builders.vendor(cast.globex, "Globex Steel")
    other = builders.park_for_mapping(builders.bill(cast.globex, gv, "G-1"))
    result = costcode_map(tenant=cast.acme, vendor_list_id=v.qb_id, vendor_name=v.label, cost_code=" 03-300 ")
    assert (result.created, result.released) == (True, 2)
    mapping = CostCodeMapping.objects.get(tenant=cast.acme)
    assert (mapping.vendor_list_id, mapping.cost_code, mapping.project_id) == (v.qb_id, "03-300", 0)
    for job in jobs:
        job.refresh_from_db()
        assert (job.state, job.reason) == (JobState.PENDING, JobReason.NONE)
    other.refresh_from_db()
    assert other.state == JobState.WAITING  # globex's bill is not acme's business
    again = costcode_map(tenant=cast.acme, vendor_list_id=v.qb_id, cost_code="03-310", project_id=0)
    assert (again.created, again.released) == (False, 0)
    assert CostCodeMapping.objects.get(tenant=cast.acme).cost_code == "03-310"


def test_job_map_saves_and_releases(cast: Cast) -> None:
    _waiting_bills(cast)
    result = job_map(tenant=cast.acme, customer_full_name="Smith:Kitchen", project_id=777)
    assert result.released == 2
    assert JobProjectMapping.objects.get(tenant=cast.acme).project_id == 777


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vendor_list_id": "X", "cost_code": "  "}, "cost code must not be empty"),
        ({"vendor_list_id": " ", "cost_code": "03-300"}, "vendor ListID must not be empty"),
        ({"vendor_list_id": "X", "cost_code": "03-300", "project_id": -1}, "project id must be 0"),
    ],
)
def test_costcode_map_rejects_bad_input(cast: Cast, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        costcode_map(tenant=cast.acme, **kwargs)  # type: ignore[arg-type]


def test_job_map_rejects_bad_input(cast: Cast) -> None:
    with pytest.raises(ValidationError, match="must not be empty"):
        job_map(tenant=cast.acme, customer_full_name=" ", project_id=1)
    with pytest.raises(ValidationError, match="positive"):
        job_map(tenant=cast.acme, customer_full_name="Smith:Kitchen", project_id=0)


def test_vendor_resolve_by_name_or_list_id_within_the_tenant(cast: Cast) -> None:
    v = builders.vendor(cast.acme, "Acme Concrete Supply")
    builders.vendor(cast.globex, "Globex Steel")
    assert vendor_resolve(tenant=cast.acme, text="acme concrete supply") == (v.qb_id, v.label)
    assert vendor_resolve(tenant=cast.acme, text=v.qb_id) == (v.qb_id, v.label)
    with pytest.raises(ValidationError, match="no QuickBooks vendor"):
        vendor_resolve(tenant=cast.acme, text="Globex Steel")


def test_unmapped_vendors_come_with_waiting_counts_most_first(cast: Cast) -> None:
    v, _ = _waiting_bills(cast)
    quiet = builders.vendor(cast.acme, "Quiet Vendor")
    mapped = builders.vendor(cast.acme, "Mapped Vendor")
    CostCodeMapping.objects.create(tenant=cast.acme, vendor_list_id=mapped.qb_id, cost_code="01-100")
    found = vendors_unmapped(tenant_ids=[cast.acme.pk])
    assert [(x.name, x.bills_waiting) for _, x in found] == [(v.label, 2), (quiet.label, 0)]


# --- screens -----------------------------------------------------------------


def test_mapping_list_puts_unmapped_vendors_first_and_charlie_sees_none(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    _waiting_bills(cast)
    page = login("alice").get(reverse("admin:procore_sync_costcodemapping_changelist"))
    assert page.status_code == 200
    assert "Vendors without a cost code" in page.text
    assert "Acme Concrete Supply" in page.text and '<td class="bills-waiting">2</td>' in page.text
    charlie = login("charlie").get(reverse("admin:procore_sync_costcodemapping_changelist"))
    assert charlie.status_code == 200
    assert "Acme Concrete Supply" not in charlie.text and "Acme Builders" not in charlie.text


def test_add_form_offers_the_catalog_and_saving_releases_bills(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    v, _jobs = _waiting_bills(cast)
    env = cast.acme.procore_environment
    CachedCostCode.objects.create(
        tenant=cast.acme, environment=env, project_id=1, procore_id=11, code="03-300", name="Concrete"
    )
    CachedCostCode.objects.create(
        tenant=cast.globex, environment=env, project_id=2, procore_id=22, code="77-700", name="Globex secret"
    )
    alice = login("alice")
    url = reverse("admin:procore_sync_costcodemapping_add")
    form = alice.get(url, {"tenant": cast.acme.pk, "vendor_list_id": v.qb_id, "vendor_name": v.label})
    assert form.status_code == 200
    assert '<option value="03-300">03-300 Concrete</option>' in form.text
    assert "77-700" not in form.text and "Globex" not in form.text
    bad = alice.post(
        url,
        {
            "tenant": cast.acme.pk,
            "vendor_list_id": v.qb_id,
            "vendor_name": v.label,
            "project_id": "0",
            "cost_code": "99-999",
        },
    )
    assert bad.status_code == 200 and "is not a cost code" in bad.text
    ok = alice.post(
        url,
        {
            "tenant": cast.acme.pk,
            "vendor_list_id": v.qb_id,
            "vendor_name": v.label,
            "project_id": "0",
            "cost_code": "03-300",
        },
    )
    assert ok.status_code == 302
    assert CostCodeMapping.objects.get(tenant=cast.acme).cost_code == "03-300"
    assert PushJob.objects.filter(record__tenant=cast.acme, state=JobState.PENDING, record__kind="bill").count() == 2


def test_charlie_cannot_map_for_acme_nor_open_acme_mappings(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    mapping = CostCodeMapping.objects.create(tenant=cast.acme, vendor_list_id="80000001-1", cost_code="03-300")
    charlie = login("charlie")
    assert charlie.get(reverse("admin:procore_sync_costcodemapping_change", args=[mapping.pk])).status_code == 404
    response = charlie.post(
        reverse("admin:procore_sync_costcodemapping_add"),
        {"tenant": cast.acme.pk, "vendor_list_id": "X", "project_id": "0", "cost_code": "1"},
    )
    assert response.status_code == 200 and "Select a valid choice" in response.text
    assert CostCodeMapping.objects.count() == 1
    assert (
        charlie.post(
            reverse("admin:procore_sync_costcodemapping_refresh_catalog"), {"tenant": cast.acme.pk}
        ).status_code
        == 404
    )


def test_job_mapping_screen_lists_jobs_seen_on_bills(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    _waiting_bills(cast)
    page = login("alice").get(reverse("admin:procore_sync_jobprojectmapping_changelist"))
    assert "Smith:Kitchen" in page.text
    assert "Smith:Kitchen" not in login("charlie").get(reverse("admin:procore_sync_jobprojectmapping_changelist")).text
    ok = login("alice").post(
        reverse("admin:procore_sync_jobprojectmapping_add"),
        {"tenant": cast.acme.pk, "customer_full_name": "Smith:Kitchen", "project_id": "42"},
    )
    assert ok.status_code == 302
    assert JobProjectMapping.objects.get(tenant=cast.acme).project_id == 42


def test_push_queue_is_for_support_only(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    _waiting_bills(cast)
    assert login("sam").get(reverse("admin:audit_pushjob_changelist")).status_code == 200
    assert login("alice").get(reverse("admin:audit_pushjob_changelist")).status_code == 403
    assert login("charlie").get(reverse("admin:audit_pushjob_changelist")).status_code == 403
    job = PushJob.objects.filter(record__tenant=cast.acme).first()
    assert job is not None
    assert login("sam").get(reverse("admin:audit_pushjob_change", args=[job.pk])).status_code == 200
    assert login("charlie").get(reverse("admin:audit_pushjob_change", args=[job.pk])).status_code == 404
    assert login("sam").get(reverse("admin:procore_sync_externalid_changelist"), {"q": "123"}).status_code == 200
    assert login("alice").get(reverse("admin:procore_sync_externalid_changelist")).status_code == 403


# --- commands ----------------------------------------------------------------


def test_costcodes_map_command(cast: Cast, capsys: pytest.CaptureFixture[str]) -> None:
    v, _ = _waiting_bills(cast)
    call_command("costcodes", "map", "acme", "--vendor", "Acme Concrete Supply", "--cost-code", "03-300")
    out = capsys.readouterr().out
    assert f"mapped Acme Concrete Supply ({v.qb_id}) → 03-300 for every project; 2 waiting bill(s) released" in out
    call_command("costcodes", "map", "acme", "--vendor", v.qb_id, "--cost-code", "03-310", "--project-id", "55")
    assert CostCodeMapping.objects.get(project_id=55).cost_code == "03-310"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--vendor", "x", "--cost-code", "1"], "no tenant with slug 'nope'"),
        (["acme", "--vendor", "Nobody", "--cost-code", "1"], "no QuickBooks vendor"),
        (["acme", "--vendor", "x", "--cost-code", "1", "--project-id", "abc"], "must be a number"),
    ],
)
def test_costcodes_command_errors(cast: Cast, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("costcodes", "map", *args)


def test_jobs_map_command(cast: Cast, capsys: pytest.CaptureFixture[str]) -> None:
    _waiting_bills(cast)
    call_command("jobs", "map", "acme", "--job", "Smith:Kitchen", "--project-id", "9001")
    assert "mapped Smith:Kitchen → project 9001; 2 waiting bill(s) released" in capsys.readouterr().out
    with pytest.raises(CommandError, match="positive"):
        call_command("jobs", "map", "acme", "--job", "Smith:Kitchen", "--project-id", "0")


def test_forms_check_projects_against_the_catalog_and_fill_the_vendor_name(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    from procore_sync.models import CachedProject

    v, _ = _waiting_bills(cast)
    env = cast.acme.procore_environment
    CachedProject.objects.create(tenant=cast.acme, environment=env, procore_id=5001, name="Riverside Medical Office")
    alice = login("alice")
    job_url = reverse("admin:procore_sync_jobprojectmapping_add")
    unknown = alice.post(job_url, {"tenant": cast.acme.pk, "customer_full_name": "Smith:Kitchen", "project_id": "9"})
    assert unknown.status_code == 200 and "9 is not a project in Acme Builders" in unknown.text
    zero = alice.post(job_url, {"tenant": cast.acme.pk, "customer_full_name": "Smith:Kitchen", "project_id": "0"})
    assert zero.status_code == 200 and "project id must be a positive Procore project id" in zero.text
    form = alice.get(job_url)
    assert '<option value="5001">Riverside Medical Office (5001)</option>' in form.text
    cc_url = reverse("admin:procore_sync_costcodemapping_add")
    negative = alice.post(
        cc_url, {"tenant": cast.acme.pk, "vendor_list_id": v.qb_id, "project_id": "-3", "cost_code": "1"}
    )
    assert negative.status_code == 200 and "project id must be 0 (every project)" in negative.text
    ok = alice.post(
        cc_url, {"tenant": cast.acme.pk, "vendor_list_id": v.qb_id, "project_id": "5001", "cost_code": "03-300"}
    )
    assert ok.status_code == 302
    assert CostCodeMapping.objects.get(tenant=cast.acme).vendor_name == "Acme Concrete Supply"


def test_the_command_line_and_the_form_refuse_the_same_cost_code_outside_the_catalog(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    from procore_sync.models import CachedCostCode

    v, _ = _waiting_bills(cast)
    env = cast.acme.procore_environment
    CachedCostCode.objects.create(tenant=cast.acme, environment=env, project_id=5001, procore_id=1, code="03-300")
    with pytest.raises(ValidationError, match="99-999 is not a cost code in Acme Builders"):
        costcode_map(tenant=cast.acme, vendor_list_id=v.qb_id, cost_code="99-999")
    response = login("alice").post(
        reverse("admin:procore_sync_costcodemapping_add"),
        {"tenant": cast.acme.pk, "vendor_list_id": v.qb_id, "project_id": "0", "cost_code": "99-999"},
    )
    assert response.status_code == 200 and "99-999 is not a cost code in Acme Builders" in response.text
    assert not CostCodeMapping.objects.filter(tenant=cast.acme).exists()
    assert costcode_map(tenant=cast.acme, vendor_list_id=v.qb_id, cost_code="03-300").created
