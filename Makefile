# The two set-up commands of the README: `make demo` and `make test`. Both install what is missing.
VENV ?= $(HOME)/.cache/graphsona/venv
export GRAPHSONA_VENV := $(VENV)
BIN := $(VENV)/bin

.PHONY: demo test lint neo4j bench env

env:
	@bash scripts/bootstrap.sh

demo: env
	$(BIN)/graphsona demo

neo4j: env
	@$(BIN)/python scripts/neo4j_test_server.py assemble >/dev/null

test: env neo4j
	$(BIN)/python -m pytest

lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: env neo4j
	$(BIN)/python bench/run_all.py
