"""docker-compose.yml, the Dockerfile and .env.example stay in step with the code.

Docker does not run on the build machines, so these checks parse the files and
verify that every command they run exists in the project.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import yaml
from django.core.management import get_commands

from connector.webserver import PRODUCTION_ARGS

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_six_services() -> None:
    assert set(compose()["services"]) == {"proxy", "postgres", "redis", "web", "worker", "beat"}


def test_every_manage_py_command_in_compose_exists() -> None:
    known = set(get_commands())
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"manage\.py (\w+)", text))
    assert used, "compose runs no manage.py command"
    assert used <= known, f"unknown commands: {used - known}"


def test_worker_and_beat_use_our_celery_app_and_wsgi_exists() -> None:
    import importlib

    services = compose()["services"]
    for name in ("worker", "beat"):
        command = services[name]["command"]
        assert command[:3] == ["celery", "-A", "connector"]
    scheduler = services["beat"]["command"][services["beat"]["command"].index("--scheduler") + 1]
    module, attr = scheduler.split(":")
    assert hasattr(importlib.import_module(module), attr)
    # The web server runs exactly connector/webserver.py's production arguments, in compose and in the image.
    assert "exec granian " + " ".join(PRODUCTION_ARGS) in " ".join(services["web"]["command"])
    cmd = re.search(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.M)
    assert cmd is not None and json.loads(cmd.group(1)) == ["granian", *PRODUCTION_ARGS]
    # Its sizing comes from the environment, with defaults in the image.
    assert re.search(r"^ENV GRANIAN_WORKERS=\d+ GRANIAN_BLOCKING_THREADS=\d+$", (ROOT / "Dockerfile").read_text(), re.M)
    assert hasattr(importlib.import_module("connector.wsgi"), "application")
    from connector import celery_app

    assert celery_app.main == "connector"


def test_dockerfile_copies_every_app() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for app in ("connector", "tenants", "qbwc", "procore_sync", "audit", "templates", "manage.py"):
        assert f"COPY {app}" in dockerfile


def test_production_image_and_package_leave_the_peers_out() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for dev_only in ("peers", "devtools", "tests", "bench"):
        assert not re.search(rf"^COPY\s+(\.\s|{dev_only}\b)", dockerfile, re.M), dev_only
    shipped = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    assert not [name for name in shipped if name.startswith(("peers", "devtools"))]


def test_env_example_documents_every_variable_settings_read() -> None:
    sources = (ROOT / "connector" / "settings.py").read_text()
    read = set(re.findall(r'env_\w+\(\s*"([A-Z_]+)"', sources))
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read, "found no variables in settings"
    assert read <= documented, f"undocumented: {sorted(read - documented)}"
