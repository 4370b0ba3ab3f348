from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from connector.health import CHECKS, readiness_cached


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: this process answers HTTP. Touches nothing else (a restart would not fix a database)."""
    return JsonResponse({"ok": True})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: database, migrations, broker, worker and beat heartbeats. 503 when any fails.

    `?check=database,migrations` runs only those (e.g. a load balancer that should keep
    sending Web Connector traffic while the worker is down).
    """
    names = tuple(n for n in request.GET.get("check", "").split(",") if n) or CHECKS
    try:
        ok, checks = readiness_cached(names)
    except ValueError as exc:
        return JsonResponse({"ready": False, "error": str(exc)}, status=400)
    return JsonResponse({"ready": ok, "checks": checks}, status=200 if ok else 503)
