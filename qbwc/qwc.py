"""PURE: render a tenant's .qwc file, the one-time import that tells QBWC where we are.

Reference: QBWC Programmer's Guide, "The QWC file". AppURL must be https except for
localhost; OwnerID/FileID are GUIDs in braces and must stay stable for a tenant,
or QuickBooks treats a re-import as a new application.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import etree

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


class QwcError(ValueError):
    """The .qwc cannot be rendered as asked (for example a plain-http public URL)."""


@dataclass(frozen=True)
class QwcSpec:
    app_name: str
    app_url: str
    support_url: str
    username: str
    owner_id: uuid.UUID
    file_id: uuid.UUID
    run_every_minutes: int
    description: str = "Sends QuickBooks vendors and bills to Procore (read-only)."


def validate_app_url(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        raise QwcError(f"{url!r} is not an absolute URL")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and host in LOCAL_HOSTS:
        return url
    raise QwcError(f"{url!r}: the Web Connector requires https (http only for localhost)")


def render_qwc(spec: QwcSpec) -> bytes:
    validate_app_url(spec.app_url)
    root = etree.Element("QBWCXML")
    for tag, text in (
        ("AppName", spec.app_name),
        ("AppID", ""),
        ("AppURL", spec.app_url),
        ("AppDescription", spec.description),
        ("AppSupport", spec.support_url),
        ("UserName", spec.username),
        ("OwnerID", "{" + str(spec.owner_id).upper() + "}"),
        ("FileID", "{" + str(spec.file_id).upper() + "}"),
        ("QBType", "QBFS"),
    ):
        etree.SubElement(root, tag).text = text
    scheduler = etree.SubElement(root, "Scheduler")
    etree.SubElement(scheduler, "RunEveryNMinutes").text = str(spec.run_every_minutes)
    etree.SubElement(root, "IsReadOnly").text = "true"
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def support_url_for(app_url: str) -> str:
    """AppSupport must share AppURL's domain; we serve a help page beside the endpoint."""
    parts = urlsplit(app_url)
    return f"{parts.scheme}://{parts.netloc}/qbwc/support/"
