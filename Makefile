# Two commands do all the set-up on a fresh machine with only Python:
#   make demo   build the example project end to end on the embedded DuckDB warehouse
#   make test   lint, type-check and run the test suite
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: demo test lint unit bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/sqlml build
	$(BIN)/sqlml unit-test
	$(BIN)/sqlml freshness
	$(BIN)/sqlml ls -s tag:marts
	$(BIN)/sqlml models list
	$(BIN)/sqlml report

test: lint unit

lint: $(BIN)/.installed
	$(BIN)/ruff check sqlml tests bench data
	$(BIN)/ruff format --check sqlml tests bench data
	$(BIN)/mypy

unit: $(BIN)/.installed
	$(BIN)/python -m pytest -q

bench: $(BIN)/.installed
	$(BIN)/python bench/compile_run.py

clean:
	rm -rf target warehouse.duckdb warehouse.duckdb.wal warehouse.duckdb.lock
