"""WebConnector: plays the QuickBooks Web Connector against our endpoint over real HTTP.

It builds its own SOAP envelopes (QBWC's proxy is compiled from Intuit's WSDL; it
never reads ours) and reacts to each answer as QBWC does: nvu/none/busy end the
run; sendRequestXML "" -> getLastError -> closeConnection; negative progress ->
getLastError ("NoOp" pauses then sendRequestXML again, else closeConnection);
100 -> closeConnection.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from lxml import etree

from peers.qbwc_simulator.company import RESPONSE_FOR, Answer, FakeCompany

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
QBWC_NS = "http://developer.intuit.com/"
QBWC_VERSION = "2.3.0.215"
RET_TAGS = tuple(ret for _, ret in RESPONSE_FOR.values())
MAX_EXCHANGES = 10_000  # a server that never finishes must not hang a test forever


class SoapFaultError(RuntimeError):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status}: {text}")
        self.status = status
        self.text = text


@dataclass
class RunResult:
    outcome: str = ""  # done | none | nvu | busy | error | dropped | refused | fault
    ticket: str = ""
    auth: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # qbXML requests received
    progress: list[int] = field(default_factory=list)
    last_error: str = ""
    close_message: str = ""
    calls: list[str] = field(default_factory=list)  # SOAP operations, in order


def envelope(method: str, params: dict[str, str | int]) -> bytes:
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    call = etree.SubElement(body, f"{{{QBWC_NS}}}{method}", nsmap={None: QBWC_NS})  # type: ignore[dict-item]
    for name, value in params.items():
        etree.SubElement(call, f"{{{QBWC_NS}}}{name}").text = str(value)
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def describe(request: str, kind: str) -> str:
    """One line for a qbXML request: its kind, iterator and date filter."""
    parts = [kind]
    if 'iterator="Continue"' in request:
        parts.append("continue")
    for tag in ("FromModifiedDate", "FromDeletedDate"):
        if f"<{tag}>" in request:
            parts.append("since " + request.split(f"<{tag}>", 1)[1].split("<", 1)[0])
    return " ".join(parts)


def describe_answer(answer: Answer) -> str:
    if answer.hresult:
        return f"HRESULT {answer.hresult} {answer.message}"
    found = [(tag, answer.response.count(f"<{tag}>")) for tag in RET_TAGS]
    counted = ", ".join(f"{n} {tag}" for tag, n in found if n) or "no records"
    status = answer.response.split('statusCode="', 1)[1].split('"', 1)[0] if 'statusCode="' in answer.response else "?"
    return f"status {status}, {counted} ({len(answer.response) // 1024} KB)"


class WebConnector:
    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        company: FakeCompany,
        *,
        say: Callable[[str], None] | None = None,
        noop_pause: float = 0.0,
        timeout: float = 120.0,
    ) -> None:
        self.url = url
        self.username = username
        self.password = password
        self.company = company
        self.say = say or (lambda _line: None)
        self.noop_pause = noop_pause
        self.timeout = timeout
        self.http = requests.Session()

    def call(self, method: str, **params: str | int) -> Any:
        """One SOAP call; the result text, or the list of strings for authenticate."""
        response = self.http.post(
            self.url,
            data=envelope(method, params),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{QBWC_NS}{method}"'},
            timeout=self.timeout,
        )
        if response.status_code != 200:
            raise SoapFaultError(response.status_code, response.text)
        root = etree.fromstring(response.content, etree.XMLParser(resolve_entities=False, no_network=True))
        result = root.find(f"{{{SOAP_ENV}}}Body/{{{QBWC_NS}}}{method}Response/{{{QBWC_NS}}}{method}Result")
        if result is None:
            raise SoapFaultError(response.status_code, f"no {method}Result in the answer")
        if method == "authenticate":
            return [s.text or "" for s in result.iterfind(f"{{{QBWC_NS}}}string")]
        return result.text or ""

    def run(self) -> RunResult:
        result = RunResult()
        try:
            self._run(result)
        except SoapFaultError as fault:
            result.outcome = "fault"
            result.last_error = fault.text
            self.say(f"  ! SOAP fault: {fault.text[:200]}")
        return result

    def _call(self, result: RunResult, method: str, **params: str | int) -> str | list[str]:
        result.calls.append(method)
        return self.call(method, **params)

    def _run(self, result: RunResult) -> None:
        faults = self.company.faults
        self.say(f"serverVersion -> {self._call(result, 'serverVersion')!r}")
        answer = str(self._call(result, "clientVersion", strVersion=QBWC_VERSION))
        if answer.startswith(("E:", "O:")):
            result.outcome, result.last_error = "refused", answer
            return
        auth = self._call(result, "authenticate", strUserName=self.username, strPassword=self.password)
        assert isinstance(auth, list)
        result.auth = auth
        ticket, status = [*auth, "", ""][:2]
        result.ticket = ticket
        self.say(f"authenticate -> {status or 'go'}" + (f" (next run in {auth[2]} s)" if len(auth) > 2 else ""))
        if status in ("nvu", "none", "busy"):
            result.outcome = status
            return
        if faults.connection_error:
            hresult, message = faults.connection_error
            reply = self._call(result, "connectionError", ticket=ticket, hresult=hresult, message=message)
            self.say(f"connectionError({hresult}) -> {reply!r}")
            result.outcome = "error"
            result.close_message = str(self._call(result, "closeConnection", ticket=ticket))
            return
        first = True
        responses = 0
        for _ in range(MAX_EXCHANGES):
            request = str(
                self._call(
                    result,
                    "sendRequestXML",
                    ticket=ticket,
                    strHCPResponse=self.company.host_response() if first else "",
                    strCompanyFileName=r"C:\Users\Public\Documents\Intuit\QuickBooks\Company Files\Keystone.QBW",
                    qbXMLCountry="US",
                    qbXMLMajorVers=16,
                    qbXMLMinorVers=0,
                )
            )
            first = False
            if not request:
                result.last_error = str(self._call(result, "getLastError", ticket=ticket))
                if result.last_error == "NoOp":
                    time.sleep(self.noop_pause)
                    continue
                self.say(f"sendRequestXML -> nothing to send; getLastError -> {result.last_error!r}")
                result.outcome = "error" if result.last_error else "done"
                break
            result.requests.append(request)
            answer_qb = self.company.process(request)
            if faults.stop_after_responses is not None and responses >= faults.stop_after_responses:
                self.say("  (QuickBooks closed: the session stops here, no closeConnection)")
                result.outcome = "dropped"
                return
            kind = self.company.requests_seen[-1] if self.company.requests_seen else "?"
            progress = int(
                str(
                    self._call(
                        result,
                        "receiveResponseXML",
                        ticket=ticket,
                        response=answer_qb.response,
                        hresult=answer_qb.hresult,
                        message=answer_qb.message,
                    )
                )
            )
            responses += 1
            if faults.duplicate_responses:
                repeat = int(
                    str(
                        self._call(
                            result,
                            "receiveResponseXML",
                            ticket=ticket,
                            response=answer_qb.response,
                            hresult=answer_qb.hresult,
                            message=answer_qb.message,
                        )
                    )
                )
                if repeat != progress:
                    raise SoapFaultError(200, f"retried receiveResponseXML answered {repeat}, first {progress}")
            result.progress.append(progress)
            self.say(f"  {describe(request, kind)} -> {describe_answer(answer_qb)} -> progress {progress}")
            if progress < 0:
                result.last_error = str(self._call(result, "getLastError", ticket=ticket))
                if result.last_error == "NoOp":
                    time.sleep(self.noop_pause)
                    continue
                self.say(f"getLastError -> {result.last_error!r}")
                result.outcome = "error"
                break
            if progress >= 100:
                result.outcome = "done"
                break
        else:
            result.outcome = "error"
            result.last_error = f"no end after {MAX_EXCHANGES} exchanges"
        result.close_message = str(self._call(result, "closeConnection", ticket=ticket))
        self.say(f"closeConnection -> {result.close_message!r}")
