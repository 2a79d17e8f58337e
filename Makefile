# The two set-up commands of the README. Each creates .venv on first use and installs kesu into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Mermaid (npm package), only to check in the browser tests that `diagram --format mermaid`
# output parses and renders; kesu's own pages never use it.
MERMAID := $(VENV)/node/node_modules/mermaid/dist/mermaid.min.js

.PHONY: demo test lint worker bench fuzz clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## make demo: sample cases through the shipped processes on embedded defaults
demo: $(STAMP)
	$(BIN)/python starter.py demo

## make test: lint (ruff), types (mypy) and the test suite (pytest)
test: $(STAMP) lint browser $(MERMAID)
	$(BIN)/pytest

# The diagram tests open the pages in Debian's chromium (never a browser Playwright downloads),
# with a CJK font so Chinese titles render. A no-op when both are there; where apt cannot
# install them the browser tests skip, and fail under KESU_REQUIRE_SERVICES=1.
$(MERMAID):
	@if command -v npm >/dev/null 2>&1; then \
		npm install --silent --no-audit --no-fund --prefix $(VENV)/node mermaid@11 \
		|| echo "could not install mermaid: its browser test will skip"; \
	else echo "npm is missing: the mermaid browser test will skip"; fi

browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
		echo "installing chromium and fonts-wqy-microhei (Debian packages) for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium fonts-wqy-microhei >/dev/null) \
		|| echo "could not install chromium: the browser tests will skip"; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

worker: $(STAMP)
	$(BIN)/python worker.py

## make bench: kesu vs plain Temporal, measured in one run (minutes; not part of make test)
bench: $(STAMP)
	$(BIN)/python -m bench.definition_load
	$(BIN)/python -m bench.simulate
	$(BIN)/python -m bench.overhead
	$(BIN)/python -m bench.throughput
	$(BIN)/python -m bench.deadlines
	$(BIN)/python -m bench.open_cases
	$(BIN)/python -m bench.reports
	$(BIN)/python -m bench.long_case

## make fuzz N=10000: mutated definitions through the loader and the engine; prints the outcome table
N ?= 1000
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz_support --n $(N)

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache *.egg-info
