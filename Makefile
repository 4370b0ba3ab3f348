# ml-connector — the two commands: `make demo` and `make test`.
# Works on a fresh machine with only Python 3.11 (python3.11 on PATH, or PYTHON=...).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck check bench install clean browser-deps

$(PY):
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "ml-connector needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The product's main job on embedded defaults (SQLite, filesystem broker, local emulators).
demo: $(STAMP)
	DEBUG=1 $(PY) -m devtools.demo

## Every test. Uses PostgreSQL/Redis when DATABASE_URL/CELERY_BROKER_URL are set, SQLite otherwise.
test: $(STAMP) browser-deps
	$(PY) -m pytest

browser-deps:
	@bash scripts/ensure-test-peers || true

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy .

check: lint typecheck test

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) var build .pytest_cache .mypy_cache .ruff_cache
