# paperwire: `make demo` sets up and serves the bundled sample; `make check` is the fast gate (lint, format,
# types, fast tests: < 60 s); `make test` sets up and runs every gate and every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# PyTorch's CPU-only wheel (a 192 MB download, 754 MB installed) instead of the CUDA build that PyPI serves
# on Linux (several GB of nvidia-* wheels); when that index cannot be reached, the configured index is used.
TORCH ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
PYTEST_WORKERS ?= 2
SOURCES := src tests bench scripts

.PHONY: demo test check lint format-check types test-fast test-all setup test-setup bench clean

$(BIN)/paperwire: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)" --index-url "$(TORCH_INDEX)" --timeout 15 --retries 1 \
		|| $(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[search,test]"
	touch $(BIN)/paperwire

# The bulk model's word-piece table is built once here, into the data directory (never committed), so
# the first `PAPERWIRE_EMBEDDER=static paperwire embed` starts embedding at once.
setup: $(BIN)/paperwire
	$(BIN)/paperwire embed --prepare

# Debian's chromium for the browser tests (Playwright drives /usr/bin/chromium; no browser download).
test-setup: setup
	@command -v chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium; }

demo: setup
	$(BIN)/paperwire demo --host $(HOST) --port $(PORT)

lint:
	$(BIN)/ruff check $(SOURCES)

format-check:
	$(BIN)/ruff format --check $(SOURCES)

types:
	$(BIN)/mypy

# The fast lane: no test marked slow, no browser, SQLite only (PostgreSQL variants run in `make test`).
test-fast:
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) -m "not slow and not browser and not postgres"

test-all:
	$(BIN)/pytest -q -n $(PYTEST_WORKERS)

check: lint format-check types test-fast

test: test-setup lint format-check types test-all

bench: setup
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache
