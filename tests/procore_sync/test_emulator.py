"""The emulator behaves like Procore where our client depends on it (plain requests, no client code)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from tests.harness_procore import ACME_COMPANY, Emu


def token(emu: Emu, **form: str) -> requests.Response:
    base = {"client_id": "acme-client", "client_secret": "acme-secret"}
    return requests.post(emu.url + "/oauth/token", data=base | form, timeout=5)


def api(emu: Emu, method: str, path: str, access: str, company: bool = True, **kw: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {access}"}
    if company:
        headers["Procore-Company-Id"] = str(ACME_COMPANY)
    return requests.request(method, emu.url + path, headers=headers, timeout=5, **kw)


def test_refresh_tokens_rotate_and_are_single_use(procore_emulator: Emu) -> None:
    code = procore_emulator.state.issue_code("acme-client")
    first = token(procore_emulator, grant_type="authorization_code", code=code, redirect_uri="x").json()
    assert first["expires_in"] == 5400 and first["token_type"] == "bearer"
    assert token(procore_emulator, grant_type="authorization_code", code=code).status_code == 400  # code used
    second = token(procore_emulator, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    again = token(procore_emulator, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    # The old access token died with the rotation; the new one works.
    assert api(procore_emulator, "GET", "/rest/v1.0/me", first["access_token"], company=False).status_code == 401
    assert api(procore_emulator, "GET", "/rest/v1.0/me", second["access_token"], company=False).status_code == 200


def test_client_credentials_have_no_refresh_token_and_bad_secrets_are_refused(procore_emulator: Emu) -> None:
    body = token(procore_emulator, grant_type="client_credentials").json()
    assert "refresh_token" not in body
    bad = requests.post(
        procore_emulator.url + "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "acme-client", "client_secret": "nope"},
        timeout=5,
    )
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"


def test_revoke_kills_both_tokens(procore_emulator: Emu) -> None:
    code = procore_emulator.state.issue_code("acme-client")
    grant = token(procore_emulator, grant_type="authorization_code", code=code).json()
    requests.post(procore_emulator.url + "/oauth/revoke", data={"token": grant["access_token"]}, timeout=5)
    assert api(procore_emulator, "GET", "/rest/v1.0/me", grant["access_token"], company=False).status_code == 401
    assert token(procore_emulator, grant_type="refresh_token", refresh_token=grant["refresh_token"]).status_code == 400


def test_company_header_rate_headers_and_pagination(procore_emulator: Emu) -> None:
    access = token(procore_emulator, grant_type="client_credentials").json()["access_token"]
    no_header = api(
        procore_emulator, "GET", "/rest/v1.0/projects", access, company=False, params={"company_id": ACME_COMPANY}
    )
    assert no_header.status_code == 403
    other = requests.get(
        procore_emulator.url + "/rest/v1.0/projects",
        headers={"Authorization": f"Bearer {access}", "Procore-Company-Id": "7000000002"},
        timeout=5,
    )
    assert other.status_code == 403  # the app is not installed in Globex's company
    page = api(
        procore_emulator,
        "GET",
        "/rest/v1.0/cost_codes",
        access,
        params={"project_id": procore_emulator.ids["project:Harbor Bridge"], "per_page": 3},
    )
    assert page.status_code == 200 and len(page.json()) == 3
    assert page.headers["Total"] == "4" and page.headers["Per-Page"] == "3" and 'rel="next"' in page.headers["Link"]
    for name in ("X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"):
        assert name in no_header.headers and name in page.headers


def test_validation_errors_are_422_with_an_errors_object(procore_emulator: Emu) -> None:
    access = token(procore_emulator, grant_type="client_credentials").json()["access_token"]
    dup = api(
        procore_emulator,
        "POST",
        "/rest/v1.0/vendors",
        access,
        json={"company_id": ACME_COMPANY, "vendor": {"name": "Copy", "origin_id": "V-APEX"}},
    )
    assert dup.status_code == 422 and dup.json() == {"errors": {"origin_id": ["has already been taken"]}}
    sync = api(
        procore_emulator,
        "PATCH",
        "/rest/v1.0/vendors/sync",
        access,
        json={
            "company_id": ACME_COMPANY,
            "updates": [{"origin_id": "N1", "name": "New One"}, {"origin_id": "N2", "name": ""}],
        },
    )
    assert sync.status_code == 200
    assert [e["origin_id"] for e in sync.json()["entities"]] == ["N1"]
    assert sync.json()["errors"][0]["origin_id"] == "N2"


def test_direct_cost_syncs_match_by_id_then_origin_and_answer_200_with_errors(procore_emulator: Emu) -> None:
    access = token(procore_emulator, grant_type="client_credentials").json()["access_token"]
    state, pid = procore_emulator.state, procore_emulator.ids["project:Main Street Office"]
    vid = procore_emulator.ids["vendor:V-APEX"]
    code = next(c for c in state.cost_codes.values() if c["project_id"] == pid)
    assert "wbs_code_id" not in code and code["line_item_types"]  # as Procore's cost code objects
    sync = f"/rest/v1.0/projects/{pid}/direct_costs/sync"
    head = {"direct_cost_type": "invoice", "vendor_id": vid, "invoice_number": "I-1", "origin_id": "T1"}
    answer = api(
        procore_emulator,
        "PATCH",
        sync,
        access,
        json={"updates": [head, {**head, "origin_id": "T2", "invoice_number": ""}]},
    )
    assert answer.status_code == 200
    [dc] = answer.json()["entities"]
    assert dc["origin_id"] == "T1" and "line_items" not in dc  # only documented fields
    assert [e["origin_id"] for e in answer.json()["errors"]] == ["T2"]
    again = api(procore_emulator, "PATCH", sync, access, json={"updates": [{**head, "description": "again"}]}).json()
    assert again["entities"][0]["id"] == dc["id"] and len(state.direct_costs) == 1  # matched by origin_id

    lines = f"/rest/v1.0/projects/{pid}/direct_costs/line_items/sync"
    line = {
        "direct_cost_id": dc["id"],
        "cost_code_id": code["id"],
        "line_item_type_id": code["line_item_types"][0]["id"],
        "amount": "10.00",
        "origin_id": "T1/1",
    }
    first = api(
        procore_emulator,
        "PATCH",
        lines,
        access,
        json={"updates": [line, {**line, "origin_id": "T1/2", "cost_code_id": 1}]},
    ).json()
    assert [e["origin_id"] for e in first["entities"]] == ["T1/1"] and first["errors"][0]["origin_id"] == "T1/2"
    line_id = first["entities"][0]["id"]
    api(procore_emulator, "PATCH", lines, access, json={"updates": [{"id": line_id, "amount": "7.25"}]})
    api(procore_emulator, "PATCH", lines, access, json={"updates": [{**line, "amount": "7.50"}]})  # by origin_id
    assert [li["amount"] for li in state.direct_costs[dc["id"]]["line_items"]] == [Decimal("7.50")]
    assert (
        api(procore_emulator, "GET", f"/rest/v1.1/projects/{pid}/direct_costs/{dc['id']}", access).json()["grand_total"]
        == "7.50"
    )
    path = f"/rest/v1.1/projects/{pid}/direct_costs/{dc['id']}"
    assert api(procore_emulator, "DELETE", path, access).status_code == 200
    assert api(procore_emulator, "DELETE", path, access).status_code == 404
    assert not state.unpermitted


def test_unknown_body_fields_are_ignored_and_recorded_as_unpermitted(procore_emulator: Emu) -> None:
    access = token(procore_emulator, grant_type="client_credentials").json()["access_token"]
    body = {"company_id": ACME_COMPANY, "updates": [{"origin_id": "U1", "name": "U One", "legal_name": "U One, Inc."}]}
    answer = api(procore_emulator, "PATCH", "/rest/v1.0/vendors/sync", access, json=body).json()
    assert not answer["entities"][0].get("legal_name")  # ignored, as Rails strong parameters do
    assert procore_emulator.state.unpermitted == [("vendors/sync updates[]", "legal_name")]
    procore_emulator.state.unpermitted.clear()  # this test sent it on purpose


def test_invoices_follow_procores_rules_for_non_admins(procore_emulator: Emu) -> None:
    access = token(procore_emulator, grant_type="client_credentials").json()["access_token"]
    state, ids = procore_emulator.state, procore_emulator.ids
    pid, cid = ids["project:Main Street Office"], ids["commitment:Main Street Office:V-APEX"]
    line_id = state.commitments[cid]["line_items"][0]["id"]

    def create(n: str) -> dict[str, Any]:
        body = {
            "project_id": pid,
            "commitment_id": cid,
            "requisition": {
                "invoice_number": n,
                "origin_id": n,
                "billing_date": "2026-11-02",
                "items": [
                    {"line_item_id": line_id, "item_type": "contract_item", "work_completed_this_period": "5.00"}
                ],
            },
        }
        answer = api(
            procore_emulator, "POST", "/rest/v1.1/requisitions", access, params={"view": "extended"}, json=body
        )
        assert answer.status_code == 201, answer.text
        return answer.json()  # type: ignore[no-any-return]

    first, second = create("R1"), create("R2")
    assert first["period_id"] == second["period_id"]  # the billing period containing the date
    assert [i["work_completed_this_period"] for i in first["items"] if i["line_item_id"] == line_id] == ["5.00"]
    item = first["items"][0]["id"]
    patch: dict[str, Any] = {
        "project_id": pid,
        "commitment_id": cid,
        "requisition": {"items": [{"id": item, "item_type": "contract_item", "work_completed_this_period": "6.00"}]},
    }
    older = api(
        procore_emulator,
        "PATCH",
        f"/rest/v1.1/requisitions/{first['id']}",
        access,
        params={"project_id": pid},
        json=patch,
    )
    assert older.status_code == 403  # only the latest invoice of a commitment
    assert (
        api(
            procore_emulator, "DELETE", f"/rest/v1.0/requisitions/{first['id']}", access, params={"project_id": pid}
        ).status_code
        == 403
    )
    state.requisitions[second["id"]]["status"] = "approved"
    patch["requisition"]["items"][0]["id"] = second["items"][0]["id"]
    approved = api(
        procore_emulator,
        "PATCH",
        f"/rest/v1.1/requisitions/{second['id']}",
        access,
        params={"project_id": pid},
        json=patch,
    )
    assert approved.status_code == 403  # not draft / revise and resubmit
    state.requisitions[second["id"]]["status"] = "revise_and_resubmit"
    assert api(
        procore_emulator,
        "PATCH",
        f"/rest/v1.1/requisitions/{second['id']}",
        access,
        params={"project_id": pid},
        json=patch,
    ).ok
    assert (
        api(
            procore_emulator, "DELETE", f"/rest/v1.0/requisitions/{second['id']}", access, params={"project_id": pid}
        ).status_code
        == 200
    )
    assert (
        api(
            procore_emulator, "DELETE", f"/rest/v1.0/requisitions/{first['id']}", access, params={"project_id": pid}
        ).status_code
        == 200
    )


def test_state_is_readable_over_http(procore_emulator: Emu) -> None:
    snap = requests.get(procore_emulator.url + "/_emulator/state", timeout=5).json()
    assert {p["name"] for p in snap["projects"]} >= {"Main Street Office", "Globex HQ"}
    requests.post(
        procore_emulator.url + "/_emulator/faults", json={"kind": "status", "status": 503, "count": 2}, timeout=5
    )
    assert len(procore_emulator.state.faults) == 1
