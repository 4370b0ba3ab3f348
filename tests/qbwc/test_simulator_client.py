"""The simulated Web Connector reacts to answers our endpoint never gives (NoOp, E:, O:) as QBWC does.

A scripted SOAP peer on 127.0.0.1 plays the server here, because our endpoint has no
reason to send those answers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from lxml import etree

from peers.qbwc_simulator.client import SOAP_ENV, WebConnector
from peers.qbwc_simulator.company import FakeCompany
from peers.qbwc_simulator.dataset import build
from qbwc.soap import render_result


class Script:
    def __init__(self, answers: dict[str, list[str | int | list[str]]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def answer(self, method: str) -> str | int | list[str]:
        self.calls.append(method)
        queue = self.answers[method]
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
def peer() -> Iterator[tuple[str, Script]]:
    script = Script({})

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            call = etree.fromstring(body).find(f"{{{SOAP_ENV}}}Body")[0]  # type: ignore[index]
            method = etree.QName(call).localname
            out = render_result(method, script.answer(method))
            self.send_response(200)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/qbwc/", script
    server.shutdown()


def _connector(url: str) -> WebConnector:
    return WebConnector(url, "u", "p", FakeCompany(build(bills=2, vendors=1, changes=False)), noop_pause=0.0)


def test_noop_makes_it_pause_and_ask_again(peer: tuple[str, Script]) -> None:
    url, script = peer
    script.answers.update(
        {
            "serverVersion": ["x"],
            "clientVersion": [""],
            "authenticate": [["t", ""]],
            "sendRequestXML": [
                "",
                '<?xml version="1.0"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="stopOnError"><VendorQueryRq requestID="1"/></QBXMLMsgsRq></QBXML>',
            ],
            "getLastError": ["NoOp"],
            "receiveResponseXML": [100],
            "closeConnection": ["ok"],
        }
    )
    result = _connector(url).run()
    assert result.outcome == "done"
    assert script.calls == [
        "serverVersion",
        "clientVersion",
        "authenticate",
        "sendRequestXML",
        "getLastError",
        "sendRequestXML",
        "receiveResponseXML",
        "closeConnection",
    ]


def test_negative_progress_then_an_error_text_ends_with_close(peer: tuple[str, Script]) -> None:
    url, script = peer
    script.answers.update(
        {
            "serverVersion": ["x"],
            "clientVersion": ["W:old"],
            "authenticate": [["t", ""]],
            "sendRequestXML": [
                '<?xml version="1.0"?><QBXML><QBXMLMsgsRq onError="stopOnError"><VendorQueryRq requestID="1"/></QBXMLMsgsRq></QBXML>'
            ],
            "receiveResponseXML": [-1],
            "getLastError": ["it broke"],
            "closeConnection": ["bye"],
        }
    )
    result = _connector(url).run()
    assert (result.outcome, result.last_error, result.close_message) == ("error", "it broke", "bye")
    assert script.calls[-3:] == ["receiveResponseXML", "getLastError", "closeConnection"]


@pytest.mark.parametrize("answer", ["E:go away", "O:2.3.0.300"])
def test_a_refused_client_version_stops_before_authenticate(peer: tuple[str, Script], answer: str) -> None:
    url, script = peer
    script.answers.update({"serverVersion": ["x"], "clientVersion": [answer]})
    result = _connector(url).run()
    assert (result.outcome, result.last_error) == ("refused", answer)
    assert script.calls == ["serverVersion", "clientVersion"]


def test_a_company_file_path_in_authenticate_is_a_go(peer: tuple[str, Script]) -> None:
    url, script = peer
    script.answers.update(
        {
            "serverVersion": ["x"],
            "clientVersion": [""],
            "authenticate": [["t", r"C:\Company.QBW"]],
            "sendRequestXML": [""],
            "getLastError": [""],
            "closeConnection": ["nothing to do"],
        }
    )
    result = _connector(url).run()
    assert result.outcome == "done" and result.close_message == "nothing to do"
