"""GET /metrics: Prometheus text format. Off unless METRICS_TOKEN is set; then a bearer token.

Prometheus sends it with `authorization: {type: Bearer, credentials: <token>}` in the
scrape config. Counters come from this process, or from every process when
PROMETHEUS_MULTIPROC_DIR is set (audit.metrics); gauges from the database.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.registry import Collector

from audit.metrics import MULTIPROC_DIR
from connector.metrics_collector import DatabaseCollector


class _ThisProcess(Collector):
    """The default registry's samples (single-process mode)."""

    def collect(self) -> Iterable:  # type: ignore[type-arg]
        return REGISTRY.collect()


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if MULTIPROC_DIR:
        multiprocess.MultiProcessCollector(registry, path=MULTIPROC_DIR)
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseCollector())
    return registry


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("metrics are off (set METRICS_TOKEN)")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = HttpResponse("a valid bearer token is required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
