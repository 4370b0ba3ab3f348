"""The client's address, for throttling (QBWC logins, admin logins via django-axes).

Behind our nginx (BEHIND_PROXY=1) the peer is the proxy, and nginx sets
X-Forwarded-For to the one address it saw; without a proxy that header is the
client's to forge, so it is ignored.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return ""


def client_ip(request: HttpRequest) -> str:
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            # The proxy appends the peer it saw: the last entry is the one we can trust.
            return _valid(forwarded.split(",")[-1])
    return _valid(request.META.get("REMOTE_ADDR", ""))
