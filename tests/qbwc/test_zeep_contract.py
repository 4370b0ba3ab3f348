"""A real SOAP client (zeep) loads our WSDL and drives a whole session through it.

QBWC never fetches the WSDL, but a generic client built from it must be able to
talk to the endpoint: this proves the WSDL and the wire format agree.
"""

from __future__ import annotations

import zeep
from zeep.transports import Transport

from audit.models import SyncRecord
from qbwc.models import QbwcSession, SessionState
from tests.factories import PASSWORD
from tests.harness_qbwc import QbwcHarness


def test_zeep_drives_a_whole_session_through_our_wsdl(qbwc: QbwcHarness) -> None:
    client = zeep.Client(qbwc.url + "?wsdl", transport=Transport(timeout=30, operation_timeout=60))
    service = client.service
    company = qbwc.company()

    assert service.serverVersion().startswith("ml-connector")
    assert service.clientVersion(strVersion="2.3.0.215") is None  # "" comes back as an empty element
    auth = service.authenticate(strUserName=qbwc.tenant.qbwc_username, strPassword=PASSWORD)
    ticket, status = auth[0], auth[1]
    assert status in ("", None) and ticket

    hcp = company.host_response()
    progress = 0
    for _ in range(50):
        request = service.sendRequestXML(
            ticket=ticket,
            strHCPResponse=hcp,
            strCompanyFileName="C:\\Keystone.QBW",
            qbXMLCountry="US",
            qbXMLMajorVers=16,
            qbXMLMinorVers=0,
        )
        hcp = ""
        assert request
        answer = company.process(request)
        progress = service.receiveResponseXML(
            ticket=ticket, response=answer.response, hresult=answer.hresult, message=answer.message
        )
        assert isinstance(progress, int)
        if progress >= 100 or progress < 0:
            break
    assert progress == 100
    assert service.getLastError(ticket=ticket) in ("", None)
    assert service.closeConnection(ticket=ticket).startswith("8 vendors, 40 bills, 0 deletions received")
    assert QbwcSession.objects.get().state == SessionState.CLOSED
    assert SyncRecord.objects.filter(tenant=qbwc.tenant).count() == 48

    assert service.authenticate(strUserName=qbwc.tenant.qbwc_username, strPassword="nope") == [
        None,
        "nvu",
    ]  # "" is an empty <string/>
    assert service.connectionError(ticket="unknown", hresult="0x80040408", message="x") == "done"
    client.transport.session.close()


def test_the_wsdl_names_intuits_service_and_our_address(qbwc: QbwcHarness) -> None:
    client = zeep.Client(qbwc.url + "?wsdl")
    service = client.wsdl.services["QBWebConnectorSvc"]
    port = service.ports["QBWebConnectorSvcSoap"]
    assert port.binding_options["address"] == qbwc.url
    operations = set(port.binding._operations)
    assert operations == {
        "serverVersion",
        "clientVersion",
        "authenticate",
        "sendRequestXML",
        "receiveResponseXML",
        "connectionError",
        "getLastError",
        "closeConnection",
        "getInteractiveURL",
        "interactiveDone",
        "interactiveRejected",
    }
    op = port.binding._operations["receiveResponseXML"]
    assert op.soapaction == "http://developer.intuit.com/receiveResponseXML"
    client.transport.session.close()
