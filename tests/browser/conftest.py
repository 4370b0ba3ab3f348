"""Browser harness: Debian's Chromium driven by Playwright against pytest-django's live server.

No browser download: Chromium comes from the system package (/usr/bin/chromium).
The Procore emulator runs on an ephemeral local port; `drain()` plays the Celery
worker by running every due outbox job through the real pusher (HTTP to the emulator).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Playwright's sync API keeps an event loop on the test thread; the ORM calls the
# tests make between page actions are ordinary synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(
        reason="browser tests need Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
    )
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_as(chromium: Any, live_server: Any) -> Iterator[Callable[[str], Any]]:
    """open_as("alice") -> a Playwright page signed in to the admin as that user."""
    from tests.factories import PASSWORD

    contexts: list[Any] = []

    def _open(username: str) -> Any:
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        return page

    yield _open
    for context in contexts:
        context.close()


def shot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def procore_seeds() -> list[dict[str, Any]]:
    """The emulator (tests/harness_procore.py) holds the demo company for these tests."""
    from peers.procore_emulator.state import DEFAULT_SEED

    return [json.loads(DEFAULT_SEED.read_text())]


def drain(rounds: int = 20) -> int:
    """Run due outbox jobs until none is left, as a Celery worker would. Returns jobs run."""
    from django.utils import timezone

    from audit.models import JobState, PushJob
    from procore_sync.services.outbox_runner import push_job_run

    ran = 0
    for _ in range(rounds):
        due = list(
            PushJob.objects.filter(state=JobState.PENDING, not_before__lte=timezone.now())
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not due:
            return ran
        for job_id in due:
            push_job_run(job_id=job_id)
            ran += 1
    return ran
