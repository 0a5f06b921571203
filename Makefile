# Set-up-and-go targets. `make demo` and `make test` work on a fresh machine: they create the
# venv, install the npm/PyPI assets, and install Chromium (and, for `make test`, Firefox ESR,
# WebKitGTK's WebDriver with Xvfb, and libfaketime) with apt where they are missing.
# Nothing is fetched from a CDN; only the PyPI, npm and Debian registries are used.

PYTHON   ?= python3
VENV     := .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium
FIREFOX  ?= /usr/bin/firefox-esr
WEBKIT   ?= /usr/bin/WebKitWebDriver

.PHONY: test demo reliability bench lint typecheck unit browser-assets chromium engines faketime clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## The main job: the PyScript shop against the local emulator, driven in headless Chromium.
demo: $(STAMP) browser-assets chromium
	$(PY) -m masivo_web demo --headless

## The whole suite: lint, types, unit, emulator, Pyodide-under-Node and browser tests.
test: $(STAMP) browser-assets chromium engines faketime lint typecheck
	$(PY) -m pytest

## The proof: 10 500 events under seeded faults (CPython), 50 reloads mid-flush and every way of
## leaving a page, 5 runs each (Chromium).
reliability: $(STAMP) browser-assets chromium faketime
	$(PY) -m masivo_web reliability --events 1500 --navigations 50 --departures 5 --field 200

## masivo_web's speed and size figures, rewritten into BENCHMARKS.md (not part of the suite),
## with its figures in Chromium, Firefox and WebKit.
bench: $(STAMP) browser-assets chromium engines
	$(PY) benchmarks/bench.py
	$(PY) benchmarks/worker_cost.py 3
	$(PY) benchmarks/engines.py 3
	$(PY) benchmarks/bfcache.py 10

lint: $(STAMP)
	$(VENV)/bin/ruff check masivo_web tests tools benchmarks playwright.config.py
	$(VENV)/bin/ruff format --check masivo_web tests tools benchmarks playwright.config.py

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest tests/unit -q

browser-assets: $(STAMP)
	$(PY) tools/browser_assets.py

chromium:
	@test -x $(CHROMIUM) || command -v apt-get >/dev/null || \
	  { echo "Chromium is missing at $(CHROMIUM) and apt-get is unavailable"; exit 1; }
	@test -x $(CHROMIUM) || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

## Firefox ESR and WebKitGTK (its WebDriver, MiniBrowser and Xvfb): the suite's other engines.
engines:
	@test -x $(FIREFOX) -a -x $(WEBKIT) -a -x /usr/bin/Xvfb || command -v apt-get >/dev/null || \
	  { echo "Firefox ESR, WebKitWebDriver or Xvfb is missing and apt-get is unavailable"; exit 1; }
	@test -x $(FIREFOX) -a -x $(WEBKIT) -a -x /usr/bin/Xvfb || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq firefox-esr webkit2gtk-driver xvfb; }

## libfaketime: the clock-skew tests move a real process's wall clock with it.
faketime:
	@command -v faketime >/dev/null || command -v apt-get >/dev/null || \
	  { echo "faketime is missing and apt-get is unavailable"; exit 1; }
	@command -v faketime >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime; }

clean:
	rm -rf $(VENV) dist build .mypy_cache .ruff_cache .pytest_cache node_modules static/vendor \
	  benchmarks/peers/node_modules
