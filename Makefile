# Quick start: `make demo` runs the demo, `make test` runs the tests.
# Both create .venv with the core and the bundled plugins when it is missing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := -e ".[test]" -e plugins/shopify -e "plugins/channels/whatsapp[test]" -e "plugins/channels/messenger[test]" -e "plugins/channels/twilio[test]" -e "plugins/hubspot[test]"

.PHONY: demo test test-fast lint bench clean

$(STAMP): pyproject.toml plugins/shopify/pyproject.toml plugins/channels/whatsapp/pyproject.toml plugins/channels/messenger/pyproject.toml plugins/channels/twilio/pyproject.toml plugins/hubspot/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "parley needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(PACKAGES)
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/parley demo

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/python -m pip install --quiet "ruff==0.17.6"
	$(BIN)/ruff check core plugins tests
	$(BIN)/ruff format --check core plugins tests

bench: $(STAMP)
	$(BIN)/python benchmarks/webhook_throughput.py

clean:
	rm -rf $(VENV)
