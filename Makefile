# paperwire: `make demo` sets up and serves the bundled sample; `make test` sets up and runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test setup test-setup lint bench clean

$(BIN)/paperwire: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "torch==2.13.0"
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

test: test-setup
	$(BIN)/ruff check src tests bench
	$(BIN)/pytest -q

bench: setup
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache
