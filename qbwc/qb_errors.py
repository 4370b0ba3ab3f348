"""Web Connector and QuickBooks errors in words a bookkeeper can act on.

PURE: no database, no HTTP. One table from the codes QuickBooks and the Web
Connector actually return to a plain-language cause and the fix, shown on the
tenant dashboard, in the QBWC sessions admin and in getLastError, always with
the raw code beside it (support staff search Intuit's docs by the code).

Two kinds of code reach us:
- HRESULTs from QuickBooks' request processor (QBXMLRP2), passed by QBWC to
  connectionError(hresult, message) or receiveResponseXML(hresult, message).
- qbXML statusCode attributes on a response (0 OK, 1 no match, 500-999
  warnings, 1000+ errors), which the session stores as "QuickBooks status N: …".

Sources (the comment beside each entry names the one it comes from):
- [OSR]  Intuit, QuickBooks SDK On-screen Reference, "Error codes" (statusCode
         table and HRESULT values):
         https://developer.intuit.com/qbSDK-current/OSR/OnscreenRef/QBD-errorcodes.html
- [SC]   Intuit, "Status codes in response messages":
         https://developer.intuit.com/app/developer/qbdesktop/docs/develop/exploring-the-quickbooks-desktop-sdk/status-codes-in-response-messages
- [ROB]  Intuit, "Making your application robust" (HRESULT 0x80040416 quoted):
         https://developer.intuit.com/app/developer/qbdesktop/docs/go-live/making-your-application-robust
- [SUP]  Intuit, "Supporting your user" (start/open/mode problems and their fixes):
         https://developer.intuit.com/app/developer/qbdesktop/docs/go-live/supporting-your-user
- [CON]  Conductor API errors (0x80040420 with its user-facing fix):
         https://docs.conductor.is/api-ref/errors
- [LOG]  QBWC logs and error handlers in public QBWC servers (e.g. the
         consolibyte/quickbooks-php Web Connector integrations), which quote the
         request processor's message for each HRESULT verbatim.
- [QBWC] Intuit, QBWC Programmer's Guide: connectionError / receiveResponseXML
         pass the HRESULT and message QuickBooks gave the Web Connector.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Our own code for "QuickBooks offers no qbXML version we speak" (no Intuit code:
#: the session decides it from the host query response, see qbwc.send._negotiate).
QBXML_VERSION_UNSUPPORTED = "qbxml-version"


@dataclass(frozen=True)
class QbError:
    code: str  # "0x80040408", "3200" or QBXML_VERSION_UNSUPPORTED
    cause: str  # what happened, in the bookkeeper's words
    fix: str  # what to do about it

    def text(self) -> str:
        return f"{self.cause} {self.fix} (code {self.code})"


def _e(code: str, cause: str, fix: str) -> tuple[str, QbError]:
    return code, QbError(code=code, cause=cause, fix=fix)


UPDATE = "then click Update Selected in the Web Connector."

HRESULTS: dict[str, QbError] = dict(
    [
        # [QBWC][LOG] "QuickBooks found an error when parsing the provided XML text stream."
        _e(
            "0x80040400",
            "QuickBooks could not read the request ml-connector sent.",
            "Nothing to change on the office PC: send this message to support; the next update tries again.",
        ),
        # [OSR][LOG] "Could not access QuickBooks."
        _e(
            "0x80040401",
            "The Web Connector could not reach QuickBooks on the office PC.",
            "Check that QuickBooks Desktop is installed and opens normally, " + UPDATE,
        ),
        # [OSR][LOG] "Could not open the specified QuickBooks company data file."
        _e(
            "0x80040403",
            "QuickBooks could not open the company file.",
            "Open the company file in QuickBooks once by hand to check it opens (and is not being "
            "repaired or upgraded), " + UPDATE,
        ),
        # [QBWC][LOG][SUP] "Could not start QuickBooks."
        _e(
            "0x80040408",
            "QuickBooks could not be started on the office PC.",
            "Make sure QuickBooks Desktop is installed and that the company file opens there, " + UPDATE,
        ),
        # [OSR][LOG] "QuickBooks company data file is already open and it is different from the one requested."
        _e(
            "0x8004040A",
            "QuickBooks has a different company file open.",
            "Close the other company file (or open this company's file) in QuickBooks, " + UPDATE,
        ),
        # [OSR][LOG] "The QuickBooks company data file is currently open in a mode other than the one
        # specified by your application." [SUP] multi-user vs single-user.
        _e(
            "0x80040410",
            "The company file is open in a different mode (single-user vs multi-user) than the Web Connector needs.",
            "In QuickBooks choose File > Switch to Multi-user Mode (or close the file and let the Web "
            "Connector open it), " + UPDATE,
        ),
        # [OSR][LOG] "A modal dialog box is showing in the QuickBooks user interface."
        _e(
            "0x80040414",
            "A QuickBooks window is waiting for someone to click it.",
            "Go to the office PC, close the open QuickBooks dialog box, " + UPDATE,
        ),
        # [ROB] "If QuickBooks is not running, the company data file name must be supplied to BeginSession."
        _e(
            "0x80040416",
            "QuickBooks is not running and the Web Connector was not told which company file to open.",
            "Open QuickBooks and the company file on the office PC, " + UPDATE,
        ),
        # [OSR][LOG] no company file open in the running QuickBooks: a file name must be supplied.
        _e(
            "0x80040417",
            "QuickBooks is running but no company file is open.",
            "Open this company's file in QuickBooks on the office PC, " + UPDATE,
        ),
        # [OSR][LOG] "This application has not accessed this QuickBooks company data file before. Only the
        # QuickBooks administrator can grant an application permission ... for the first time."
        _e(
            "0x80040418",
            "ml-connector has not been allowed into this company file yet.",
            "Log in to QuickBooks as Admin in single-user mode, click Update Selected, and answer "
            '"Yes, always" when QuickBooks asks about ml-connector.',
        ),
        # [OSR][LOG] "This application does not have permission to access this QuickBooks company data
        # file. The QuickBooks administrator can grant access permission through the Integrated
        # Application preferences."
        _e(
            "0x8004041A",
            "QuickBooks does not allow ml-connector into this company file.",
            "As QuickBooks Admin open Edit > Preferences > Integrated Applications > Company Preferences, "
            "tick ml-connector, " + UPDATE,
        ),
        # [OSR][LOG] "Unable to lock the necessary information to allow this application to access this
        # company data file. Try again later."
        _e("0x8004041B", "QuickBooks was busy with this company file.", "Wait a few minutes, " + UPDATE),
        # [OSR][LOG] "This application is not allowed to log into this QuickBooks company data file
        # automatically."
        _e(
            "0x8004041D",
            "ml-connector may not log in to QuickBooks automatically.",
            "As QuickBooks Admin open Edit > Preferences > Integrated Applications > Company Preferences, "
            'select ml-connector, Properties, tick "Allow this application to login automatically", ' + UPDATE,
        ),
        # [CON][LOG] "The QuickBooks user has denied access."
        _e(
            "0x80040420",
            "Someone at QuickBooks declined ml-connector's access, or the permission was removed.",
            "As QuickBooks Admin open Edit > Preferences > Integrated Applications > Company Preferences, "
            'select ml-connector, Properties, tick "Allow this application to login automatically", ' + UPDATE,
        ),
        # [OSR][LOG] "This application requires Single User file access mode and there is already another
        # application sharing data with this QuickBooks company data file."
        _e(
            "0x80040422",
            "Another program is sharing the company file in a way that blocks the Web Connector.",
            "Close the other program that works with QuickBooks (or the other user's session), " + UPDATE,
        ),
        # [OSR][LOG] "The version of qbXML that was requested is not supported or is unknown."
        _e(
            "0x80040423",
            "This QuickBooks does not understand the qbXML version ml-connector asked for.",
            "Install the latest QuickBooks Desktop updates (Help > Update QuickBooks Desktop), " + UPDATE,
        ),
        # [OSR][LOG] "QuickBooks did not finish its initialization. Please try again later."
        _e(
            "0x80040424",
            "QuickBooks was still starting up.",
            "Wait until QuickBooks has finished opening the company file, " + UPDATE,
        ),
    ]
)

STATUS_CODES: dict[str, QbError] = dict(
    [
        # [SC][OSR] 500 "One or more objects cannot be found" (warning: the query was not fully completed).
        _e(
            "500",
            "QuickBooks left out some records it could not find.",
            "Nothing is lost: the next update asks again. If it repeats, run File > Utilities > Verify Data.",
        ),
        # [SC] 530 "Unsupported field" / 531 "Unsupported enum value" (warnings).
        _e(
            "530",
            "This QuickBooks edition ignored a field ml-connector asked for.",
            "Nothing to do; records still arrive. Support can check the QuickBooks edition if it matters.",
        ),
        _e(
            "531",
            "This QuickBooks edition ignored a value ml-connector asked for.",
            "Nothing to do; records still arrive.",
        ),
        # [SC] 1000 "Internal error" / 1010 "System not available".
        _e("1000", "QuickBooks hit an internal error while reading.", "Close and reopen QuickBooks, " + UPDATE),
        _e(
            "1010",
            "QuickBooks was not available.",
            "Make sure QuickBooks is open and not busy (backups, updates), " + UPDATE,
        ),
        # [OSR] 3100 "The name ... of the list element is already in use."
        _e(
            "3100",
            "QuickBooks reports a name that is already in use.",
            "Look for two vendors (or a vendor and a customer/employee) with the same name in QuickBooks "
            "and rename one, " + UPDATE,
        ),
        # [OSR][SC] 3120 "Object ... specified in the request cannot be found."
        _e(
            "3120",
            "QuickBooks could not find a record ml-connector asked about (it may have been deleted).",
            "Nothing to do: the next update reads the current list again.",
        ),
        # [OSR] 3140 "There is an invalid reference to QuickBooks ... in the ...".
        _e(
            "3140",
            "A QuickBooks record points at something that no longer exists.",
            "Open the record named in the message in QuickBooks and pick a valid vendor, account or job.",
        ),
        # [OSR] 3170 / 3180 "There was an error when modifying / saving a ...".
        _e(
            "3170",
            "QuickBooks could not change a record.",
            "Make sure nobody is editing that record in QuickBooks, " + UPDATE,
        ),
        _e(
            "3180",
            "QuickBooks could not save a record.",
            "Make sure nobody is editing that record in QuickBooks, " + UPDATE,
        ),
        # [OSR][SC] 3200 "The provided edit sequence ... is out-of-date."
        _e(
            "3200",
            "The record changed in QuickBooks while it was being read.",
            "Nothing to do: the next update picks up the newest version.",
        ),
        # [OSR] 3250 "This feature is not enabled or not available in this version of QuickBooks."
        _e(
            "3250",
            "This QuickBooks edition or its preferences do not offer what ml-connector reads.",
            "Check that the company file uses bills (Edit > Preferences > Bills), or ask support.",
        ),
        # [OSR] 3260 "Insufficient permission level to perform this action."
        _e(
            "3260",
            "The QuickBooks user ml-connector logs in as may not read these records.",
            "As QuickBooks Admin give that user access to vendors and bills (Company > Users), " + UPDATE,
        ),
    ]
)

VERSION_ERROR = QbError(
    code=QBXML_VERSION_UNSUPPORTED,
    cause="This QuickBooks is too old for ml-connector (it does not speak a qbXML version we need).",
    fix="Update QuickBooks Desktop to a supported release (Help > Update QuickBooks Desktop), " + UPDATE,
)

_HRESULT_RE = re.compile(r"0x[0-9a-fA-F]{8}")
_STATUS_RE = re.compile(r"QuickBooks status (\d{1,5})")
_VERSION_RE = re.compile(r"QuickBooks offers qbXML")


def normalize_hresult(raw: str) -> str:
    """'0x80040408', '80040408' or '-2147220472' -> '0x80040408'; '' if it is none of those."""
    value = raw.strip()
    if not value or len(value) > 20:
        return ""
    try:
        if value.lower().startswith("0x"):
            number = int(value, 16)
        elif value.lstrip("-").isdigit() and value.startswith("-"):
            number = int(value) & 0xFFFFFFFF  # signed 32-bit, as some COM layers print it
        elif re.fullmatch(r"[0-9a-fA-F]{8}", value):
            number = int(value, 16)
        else:
            return ""
    except ValueError:
        return ""
    return f"0x{number:08X}"


def explain(*, hresult: str = "", message: str = "") -> QbError | None:
    """The table entry for an error, from the HRESULT field or from the stored error text.

    Returns None when the code is not in the table (callers then show the raw text alone).
    """
    code = normalize_hresult(hresult)
    if not code:
        found = _HRESULT_RE.search(message or "")
        code = normalize_hresult(found.group(0)) if found else ""
    if code:
        return HRESULTS.get(code)
    status = _STATUS_RE.search(message or "")
    if status:
        return STATUS_CODES.get(status.group(1))
    if _VERSION_RE.search(message or ""):
        return VERSION_ERROR
    return None


def for_bookkeeper(*, hresult: str = "", message: str = "") -> str:
    """Plain cause and fix followed by what QuickBooks said; the raw text alone when the code is unknown."""
    raw = (message or "").strip()
    found = explain(hresult=hresult, message=raw)
    if found is None:
        return raw
    return f"{found.text()}. QuickBooks said: {raw}" if raw else found.text()
