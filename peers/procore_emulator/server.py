"""The emulator's HTTP side: a stdlib ThreadingHTTPServer that answers like Procore.

Login and API share one host here (point both PROCORE_*_LOGIN_URL and
PROCORE_*_API_URL at it). Per request: faults are applied, the app's rate
windows are spent (every request counts, failures too), the bearer token and
the `Procore-Company-Id` header are checked, then api.py does the work.
`/_emulator/state` and `/_emulator/faults` are an unauthenticated control
plane for demos; tests use the EmulatorState object directly.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from peers.procore_emulator.api import VENDOR_VIEW, Api, ApiError, view
from peers.procore_emulator.state import EmulatorState, Logged

Route = tuple[str, re.Pattern[str], Callable[..., Any], bool]  # method, path, handler, needs company


class Ctx:
    """One parsed request, handed to the route functions."""

    def __init__(self, query: dict[str, str], body: Any, company_id: int, client_id: str) -> None:
        self.query, self.body, self.company_id, self.client_id = query, body, company_id, client_id

    def int_q(self, name: str) -> int:
        raw = self.query.get(name)
        if raw is None and isinstance(self.body, dict):
            raw = self.body.get(name)
        try:
            return int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ApiError(400, {"errors": {name: ["is missing or not a number"]}}) from None


SHUTDOWN_POLL_SECONDS = 0.01


class ProcoreEmulator:
    """Owns the state and the server thread. `with ProcoreEmulator() as emu: emu.url`."""

    def __init__(self, state: EmulatorState | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state or EmulatorState()
        self.api = Api(self.state)
        self.routes = _routes(self)
        handler = type("Handler", (_Handler,), {"emulator": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ProcoreEmulator:
        # serve_forever notices shutdown() only between polls; its default 0.5 s poll made
        # every stop (one per test) wait half a second.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="procore-emulator",
            daemon=True,
        )
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def __enter__(self) -> ProcoreEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    emulator: ProcoreEmulator
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle + delayed ACK each answer would stall ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the state's request log is the record

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_PUT(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # --- plumbing ------------------------------------------------------------------

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = b"" if body is None else json.dumps(body, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def _hang_up(self) -> None:
        # The client sees a connection closed with no answer.
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _body(self) -> tuple[Any, bytes]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type", "")
        if not raw:
            return {}, raw
        if "application/x-www-form-urlencoded" in ctype:
            return {k: v[-1] for k, v in parse_qs(raw.decode()).items()}, raw
        try:
            return json.loads(raw), raw
        except ValueError:
            return None, raw

    def _handle(self, method: str) -> None:
        _emu, state = self.emulator, self.emulator.state
        parts = urlsplit(self.path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        body, _raw = self._body()
        if path.startswith("/_emulator/"):
            self._control(method, path, body)
            return
        fault = state.take_fault(method, path)
        if fault is not None and fault.kind in ("latency", "timeout"):
            time.sleep(fault.delay)
            if fault.kind == "timeout":
                self._hang_up()
                return
        if path.startswith("/oauth/"):
            status, out, headers = self._oauth(method, path, query, body)
            self._finish(method, path, status, out, headers, "", fault)
            return
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        with state.lock:
            info = state.access_tokens.get(token)
        client_id = info["client_id"] if info else ""
        allowed, limit, remaining, reset = state.spend(client_id or "anonymous")
        headers = {
            "X-Rate-Limit-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(remaining),
            "X-Rate-Limit-Reset": str(math.ceil(reset)),
        }
        if fault is not None and fault.kind == "status":
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            self._finish(method, path, fault.status, {"error": "Internal Server Error"}, headers, client_id, None)
            return
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(reset - time.time())))
            self._finish(method, path, 429, {"error": "Rate limit exceeded"}, headers, client_id, fault)
            return
        if info is None or info["revoked"] or info["expires_at"] < time.time():
            self._finish(method, path, 401, {"error": "invalid_token"}, headers, client_id, fault)
            return
        status, out, extra = self._dispatch(method, path, query, body, client_id)
        self._finish(method, path, status, out, headers | extra, client_id, fault)

    def _finish(
        self, method: str, path: str, status: int, out: Any, headers: dict[str, str], client_id: str, fault: Any
    ) -> None:
        with self.emulator.state.lock:
            self.emulator.state.requests.append(Logged(method, path, status, client_id))
        if fault is not None and fault.kind == "drop":
            self._hang_up()  # the work above is committed; the answer is lost
            return
        self._send(status, out, headers)

    def _dispatch(
        self, method: str, path: str, query: dict[str, str], body: Any, client_id: str
    ) -> tuple[int, Any, dict[str, str]]:
        emu, state = self.emulator, self.emulator.state
        for route_method, pattern, fn, needs_company in emu.routes:
            m = pattern.fullmatch(path)
            if not m or route_method != method:
                continue
            company_id = 0
            if needs_company:
                header = self.headers.get("Procore-Company-Id", "")
                allowed = state.clients.get(client_id, {}).get("companies", set())
                if not header.isdigit() or int(header) not in allowed:
                    return 403, {"errors": "App is not connected to this company"}, {}
                company_id = int(header)
            ctx = Ctx(query, body if isinstance(body, dict) else {}, company_id, client_id)
            try:
                with state.lock:
                    status, out = fn(ctx, *[int(g) if g.isdigit() else g for g in m.groups()])
                    # Serialise under the lock: the state keeps changing in other threads.
                    out = json.loads(json.dumps(out, default=str))
            except ApiError as exc:
                return exc.status, exc.body, {}
            if isinstance(out, list):
                return self._page(path, query, out, status)
            return status, out, {}
        return 404, {"error": "Not Found"}, {}

    def _page(self, path: str, query: dict[str, str], items: list[Any], status: int) -> tuple[int, Any, dict[str, str]]:
        per_page = min(max(int(query.get("per_page") or 100), 1), 100)  # capped like Procore
        page = max(int(query.get("page") or 1), 1)
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        base = f"http://{self.headers.get('Host')}{path}?"

        def link(p: int) -> str:
            return base + urlencode({**query, "page": p, "per_page": per_page})

        links = [f'<{link(1)}>; rel="first"', f'<{link(last)}>; rel="last"']
        if page < last:
            links.append(f'<{link(page + 1)}>; rel="next"')
        if page > 1:
            links.append(f'<{link(page - 1)}>; rel="prev"')
        return status, chunk, {"Total": str(len(items)), "Per-Page": str(per_page), "Link": ", ".join(links)}

    # --- OAuth -------------------------------------------------------------------

    def _oauth(self, method: str, path: str, query: dict[str, str], form: Any) -> tuple[int, Any, dict[str, str]]:
        state = self.emulator.state
        form = form if isinstance(form, dict) else {}
        if method == "GET" and path == "/oauth/authorize":
            client = state.clients.get(query.get("client_id", ""))
            if client is None:
                return 401, {"error": "invalid_client"}, {}
            code = state.issue_code(query["client_id"])
            target = query.get("redirect_uri", "urn:ietf:wg:oauth:2.0:oob")
            sep = "&" if "?" in target else "?"
            # RFC 6749 §4.1.2: the client's `state` comes back unchanged (it guards against CSRF).
            extra = f"&{urlencode({'state': query['state']})}" if query.get("state") else ""
            return 302, {"code": code}, {"Location": f"{target}{sep}code={code}{extra}"}
        if method == "GET" and path == "/oauth/token/info":
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
            info = state.access_tokens.get(token)
            if info is None or info["revoked"] or info["expires_at"] < time.time():
                return 401, {"error": "invalid_token"}, {}
            return 200, {"expires_in_seconds": int(info["expires_at"] - time.time())}, {}
        if method == "POST" and path == "/oauth/revoke":
            token = form.get("token", "")
            with state.lock:
                grant = (state.access_tokens.get(token) or state.refresh_tokens.get(token) or {}).get("grant")
            if grant:
                state.revoke_grant(grant)
            return 200, {}, {}
        if method != "POST" or path != "/oauth/token":
            return 404, {"error": "Not Found"}, {}
        with state.lock:
            client = state.clients.get(form.get("client_id", ""))
            if client is None or client["secret"] != form.get("client_secret"):
                return 401, {"error": "invalid_client", "error_description": "Client authentication failed"}, {}
            grant = form.get("grant_type")
            if grant == "client_credentials":
                return 200, state.issue_tokens(form["client_id"], with_refresh=False), {}
            if grant == "authorization_code":
                issued = state.auth_codes.pop(str(form.get("code", "")), None)
                if issued is None or issued["expires_at"] < time.time() or issued["client_id"] != form["client_id"]:
                    return 400, {"error": "invalid_grant", "error_description": "code is invalid or expired"}, {}
                return 200, state.issue_tokens(form["client_id"], with_refresh=True), {}
            if grant == "refresh_token":
                rt = state.refresh_tokens.get(form.get("refresh_token", ""))
                if rt is None or rt["used"] or rt["client_id"] != form["client_id"]:
                    return 400, {"error": "invalid_grant", "error_description": "The refresh token is invalid"}, {}
                rt["used"] = True  # single use, even if our answer never arrives
                for t in state.access_tokens.values():
                    if t["grant"] == rt["grant"]:
                        t["revoked"] = True
                return 200, state.issue_tokens(form["client_id"], with_refresh=True, grant=rt["grant"]), {}
            return 400, {"error": "unsupported_grant_type"}, {}

    # --- control plane -----------------------------------------------------------

    def _control(self, method: str, path: str, body: Any) -> None:
        state = self.emulator.state
        if method == "GET" and path == "/_emulator/state":
            self._send(200, state.snapshot())
        elif method == "POST" and path == "/_emulator/faults":
            body = body if isinstance(body, dict) else {}
            if body.get("clear"):
                state.clear_faults()
            else:
                state.inject(**body)
            self._send(200, {"faults": len(state.faults)})
        elif method == "POST" and path == "/_emulator/rate_limits":
            state.set_rate_limits([(int(w[0]), float(w[1])) for w in (body or {}).get("windows", [])])
            self._send(200, {"ok": True})
        else:
            self._send(404, {"error": "Not Found"})


def _routes(emu: ProcoreEmulator) -> list[Route]:
    api = emu.api

    def me(ctx: Ctx) -> tuple[int, Any]:
        return 200, {"id": 1, "login": f"{ctx.client_id}@service-account", "name": "Service Account"}

    def companies(ctx: Ctx) -> tuple[int, Any]:
        ids = emu.state.clients.get(ctx.client_id, {}).get("companies", set())
        return 200, [emu.state.companies[i] for i in sorted(ids) if i in emu.state.companies]

    def vendors(ctx: Ctx) -> tuple[int, Any]:
        if ctx.int_q("company_id") != ctx.company_id:
            raise ApiError(404, {"error": "Company not found"})
        return 200, api.vendor_list(ctx.company_id, ctx.query.get("filters[origin_id]"))

    def inactive(ctx: Ctx, cid: int) -> tuple[int, Any]:
        if cid != ctx.company_id:
            raise ApiError(404, {"error": "Company not found"})
        return 200, api.vendor_list(cid, ctx.query.get("filters[origin_id]"), active=False)

    def vendor_show(ctx: Ctx, vid: int) -> tuple[int, Any]:
        return 200, view(api.vendor_get(ctx.company_id, vid), VENDOR_VIEW)

    def vendor_create(ctx: Ctx) -> tuple[int, Any]:
        return 201, api.vendor_create(ctx.company_id, ctx.body.get("vendor") or {})

    def vendor_update(ctx: Ctx, vid: int) -> tuple[int, Any]:
        return 200, api.vendor_update(ctx.company_id, vid, ctx.body.get("vendor") or {})

    def vendor_sync(ctx: Ctx) -> tuple[int, Any]:
        return 200, api.vendor_sync(ctx.company_id, ctx.body.get("updates") or [])

    def project_vendors(ctx: Ctx, pid: int) -> tuple[int, Any]:
        return 200, api.project_vendor_list(ctx.company_id, pid)

    def project_vendor_add(ctx: Ctx, pid: int, vid: int) -> tuple[int, Any]:
        return 201, api.project_vendor_add(pid, vid, ctx.company_id)

    def projects(ctx: Ctx) -> tuple[int, Any]:
        return 200, api.projects(ctx.company_id)

    def cost_codes(ctx: Ctx) -> tuple[int, Any]:
        return 200, api.cost_codes(ctx.company_id, ctx.int_q("project_id"))

    def commitments(ctx: Ctx, kind: str) -> tuple[int, Any]:
        return 200, api.commitments(ctx.company_id, ctx.int_q("project_id"), kind)

    def lines(ctx: Ctx, kind: str, cid: int) -> tuple[int, Any]:
        return 200, api.commitment_lines(ctx.company_id, ctx.int_q("project_id"), kind, cid)

    def req_list(ctx: Ctx, version: str) -> tuple[int, Any]:
        extended = version == "1.1" and ctx.query.get("view") == "extended"
        return 200, api.requisition_list(
            ctx.company_id, ctx.int_q("project_id"), ctx.query.get("filters[origin_id]"), extended=extended
        )

    def req_create(ctx: Ctx) -> tuple[int, Any]:
        record = api.requisition_create(ctx.company_id, ctx.body, ctx.client_id)
        return 201, api.requisition_view(record, extended=ctx.query.get("view") == "extended")

    def req_show(ctx: Ctx, version: str, rid: int) -> tuple[int, Any]:
        record = api._requisition(ctx.company_id, ctx.int_q("project_id"), rid)
        return 200, api.requisition_view(record, extended=ctx.query.get("view") == "extended")

    def req_update(ctx: Ctx, rid: int) -> tuple[int, Any]:
        record = api.requisition_update(ctx.company_id, ctx.int_q("project_id"), rid, ctx.body, ctx.client_id)
        return 200, api.requisition_view(record, extended=ctx.query.get("view") == "extended")

    def req_delete(ctx: Ctx, version: str, rid: int) -> tuple[int, Any]:
        api.requisition_delete(ctx.company_id, ctx.int_q("project_id"), rid, ctx.client_id)
        return 200, None  # empty 200, as documented

    def dc_list(ctx: Ctx, pid: int) -> tuple[int, Any]:
        return 200, api.direct_cost_list(ctx.company_id, pid, ctx.query.get("filters[origin_id]"))

    def dc_show(ctx: Ctx, pid: int, did: int) -> tuple[int, Any]:
        return 200, api.direct_cost_view(api._direct_cost(ctx.company_id, pid, did))

    def dc_sync(ctx: Ctx, pid: int) -> tuple[int, Any]:
        return 200, api.direct_costs_sync(ctx.company_id, pid, ctx.body.get("updates"))

    def dc_lines_sync(ctx: Ctx, pid: int) -> tuple[int, Any]:
        return 200, api.direct_cost_lines_sync(ctx.company_id, pid, ctx.body.get("updates"))

    def dc_lines(ctx: Ctx, pid: int) -> tuple[int, Any]:
        return 200, api.direct_cost_lines_list(ctx.company_id, pid)

    def dc_delete(ctx: Ctx, pid: int, did: int) -> tuple[int, Any]:
        api.direct_cost_delete(ctx.company_id, pid, did)
        return 200, {"id": did}  # RestV11ProjectsProjectIdDirectCostsIdDelete200Response

    r = re.compile
    kinds = r"(work_order_contracts|purchase_order_contracts)"
    return [
        ("GET", r(r"/rest/v1\.0/me"), me, False),
        ("GET", r(r"/rest/v1\.0/companies"), companies, False),
        ("GET", r(r"/rest/v1\.0/vendors"), vendors, True),
        ("PATCH", r(r"/rest/v1\.0/vendors/sync"), vendor_sync, True),
        ("GET", r(r"/rest/v1\.0/vendors/(\d+)"), vendor_show, True),
        ("POST", r(r"/rest/v1\.0/vendors"), vendor_create, True),
        ("PATCH", r(r"/rest/v1\.0/vendors/(\d+)"), vendor_update, True),
        ("GET", r(r"/rest/v1\.0/companies/(\d+)/vendors/inactive"), inactive, True),
        ("GET", r(r"/rest/v1\.0/projects/(\d+)/vendors"), project_vendors, True),
        ("POST", r(r"/rest/v1\.0/projects/(\d+)/vendors/(\d+)/actions/add"), project_vendor_add, True),
        ("GET", r(r"/rest/v1\.0/projects"), projects, True),
        ("GET", r(r"/rest/v1\.0/cost_codes"), cost_codes, True),
        ("GET", r(rf"/rest/v1\.0/{kinds}"), commitments, True),
        ("GET", r(rf"/rest/v1\.0/{kinds}/(\d+)/line_items"), lines, True),
        ("GET", r(r"/rest/v(1\.0|1\.1)/requisitions"), req_list, True),
        ("POST", r(r"/rest/v1\.1/requisitions"), req_create, True),
        ("GET", r(r"/rest/v(1\.0|1\.1)/requisitions/(\d+)"), req_show, True),
        ("PATCH", r(r"/rest/v1\.1/requisitions/(\d+)"), req_update, True),
        ("DELETE", r(r"/rest/v(1\.0|1\.1)/requisitions/(\d+)"), req_delete, True),
        ("PATCH", r(r"/rest/v1\.0/projects/(\d+)/direct_costs/sync"), dc_sync, True),
        ("PATCH", r(r"/rest/v1\.0/projects/(\d+)/direct_costs/line_items/sync"), dc_lines_sync, True),
        ("GET", r(r"/rest/v1\.0/projects/(\d+)/direct_costs/line_items"), dc_lines, True),
        ("GET", r(r"/rest/v1\.1/projects/(\d+)/direct_costs"), dc_list, True),
        ("GET", r(r"/rest/v1\.1/projects/(\d+)/direct_costs/(\d+)"), dc_show, True),
        ("DELETE", r(r"/rest/v1\.1/projects/(\d+)/direct_costs/(\d+)"), dc_delete, True),
    ]
