# The two set-up commands of the README. Each creates .venv on first use and installs kesu into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint worker bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## make demo: sample cases through the shipped processes on embedded defaults
demo: $(STAMP)
	$(BIN)/python starter.py demo

## make test: lint (ruff), types (mypy) and the test suite (pytest)
test: $(STAMP) lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

worker: $(STAMP)
	$(BIN)/python worker.py

## make bench: kesu vs plain Temporal, measured in one run (minutes; not part of make test)
bench: $(STAMP)
	$(BIN)/python -m bench.definition_load
	$(BIN)/python -m bench.overhead
	$(BIN)/python -m bench.throughput
	$(BIN)/python -m bench.deadlines
	$(BIN)/python -m bench.open_cases

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache *.egg-info
