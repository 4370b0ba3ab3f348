"""The emulator behaves like Procore where our client depends on it (plain requests, no client code)."""

from __future__ import annotations

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
    no_header = api(procore_emulator, "GET", "/rest/v1.0/projects", access, company=False, params={"company_id": ACME_COMPANY})
    assert no_header.status_code == 403
    other = requests.get(
        procore_emulator.url + "/rest/v1.0/projects",
        headers={"Authorization": f"Bearer {access}", "Procore-Company-Id": "7000000002"},
        timeout=5,
    )
    assert other.status_code == 403  # the app is not installed in Globex's company
    page = api(procore_emulator, "GET", "/rest/v1.0/cost_codes", access, params={"project_id": procore_emulator.ids["project:Harbor Bridge"], "per_page": 3})
    assert page.status_code == 200 and len(page.json()) == 3
    assert page.headers["Total"] == "4" and page.headers["Per-Page"] == "3" and 'rel="next"' in page.headers["Link"]
    for name in ("X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"):
        assert name in no_header.headers and name in page.headers


def test_validation_errors_are_422_with_an_errors_object(procore_emulator: Emu) -> None:
    access = token(procore_emulator, grant_type="client_credentials").json()["access_token"]
    dup = api(procore_emulator, "POST", "/rest/v1.0/vendors", access, json={"company_id": ACME_COMPANY, "vendor": {"name": "Copy", "origin_id": "V-APEX"}})
    assert dup.status_code == 422 and dup.json() == {"errors": {"origin_id": ["has already been taken"]}}
    sync = api(
        procore_emulator, "PATCH", "/rest/v1.0/vendors/sync", access,
        json={"company_id": ACME_COMPANY, "updates": [{"origin_id": "N1", "name": "New One"}, {"origin_id": "N2", "name": ""}]},
    )
    assert sync.status_code == 200
    assert [e["origin_id"] for e in sync.json()["entities"]] == ["N1"]
    assert sync.json()["errors"][0]["origin_id"] == "N2"


def test_direct_cost_lines_without_an_id_are_added(procore_emulator: Emu) -> None:
    access = token(procore_emulator, grant_type="client_credentials").json()["access_token"]
    state, pid = procore_emulator.state, procore_emulator.ids["project:Main Street Office"]
    vid = procore_emulator.ids["vendor:V-APEX"]
    wbs = next(c["wbs_code_id"] for c in state.cost_codes.values() if c["project_id"] == pid)
    body = {"direct_cost_type": "invoice", "vendor_id": vid, "invoice_number": "I-1", "origin_id": "T1",
            "line_items": [{"wbs_code_id": wbs, "description": "a", "manual_amount": "10.00"}]}
    created = api(procore_emulator, "POST", f"/rest/v1.1/projects/{pid}/direct_costs", access, json={"direct_cost": body}).json()
    path = f"/rest/v1.1/projects/{pid}/direct_costs/{created['id']}"
    added = api(procore_emulator, "PATCH", path, access, json={"direct_cost": {"line_items": [{"wbs_code_id": wbs, "manual_amount": "5.00"}]}}).json()
    assert [li["manual_amount"] for li in added["line_items"]] == ["10.00", "5.00"]
    line_id = added["line_items"][0]["id"]
    changed = api(procore_emulator, "PATCH", path, access, json={"direct_cost": {"line_items": [{"id": line_id, "wbs_code_id": wbs, "manual_amount": "7.25"}]}}).json()
    assert [li["manual_amount"] for li in changed["line_items"]] == ["7.25", "5.00"]
    assert api(procore_emulator, "DELETE", path, access).status_code == 204
    assert api(procore_emulator, "DELETE", path, access).status_code == 404


def test_state_is_readable_over_http(procore_emulator: Emu) -> None:
    snap = requests.get(procore_emulator.url + "/_emulator/state", timeout=5).json()
    assert {p["name"] for p in snap["projects"]} >= {"Main Street Office", "Globex HQ"}
    requests.post(procore_emulator.url + "/_emulator/faults", json={"kind": "status", "status": 503, "count": 2}, timeout=5)
    assert len(procore_emulator.state.faults) == 1
