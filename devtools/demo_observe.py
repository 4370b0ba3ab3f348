"""What an operator's monitoring would see at the end of the demo: /readyz and /metrics."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def _get(url: str, token: str = "") -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - our own local server
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own local server
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def observed_summary(base: str, token: str) -> list[str]:
    """Two lines: readiness, and totals pooled from every web and worker process."""
    status, body = _get(base + "/readyz")
    checks = json.loads(body).get("checks", {})
    failing = [name for name, check in checks.items() if not check.get("ok")]
    ready = "ready (" + ", ".join(checks) + ")" if status == 200 else "NOT ready: " + ", ".join(failing)
    status, text = _get(base + "/metrics", token)
    if status != 200:
        return [f"Readiness: {ready}", f"Metrics: /metrics answered {status}"]
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    metrics = (
        f"{totals.get('mlconnector_qbwc_soap_calls_total', 0):.0f} SOAP calls, "
        f"{totals.get('mlconnector_qbwc_sessions_total', 0):.0f} sessions ended, "
        f"{totals.get('mlconnector_push_attempts_total', 0):.0f} push attempts, "
        f"{totals.get('mlconnector_procore_requests_total', 0):.0f} Procore requests "
        f"({totals.get('mlconnector_procore_rate_limited_total', 0):.0f} answered 429)"
    )
    return [f"Readiness: {ready}", f"Metrics: {metrics}"]
