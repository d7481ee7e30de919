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

# mypy cannot follow setuptools' editable finder for a package whose directory is the repo root,
# so it checks the package through a symlink named graphsona in a scratch folder.
lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@mkdir -p "$(VENV)/mypy-view" && ln -sfn "$(CURDIR)" "$(VENV)/mypy-view/graphsona"
	cd "$(VENV)/mypy-view" && MYPYPATH=. $(BIN)/mypy --config-file "$(CURDIR)/pyproject.toml" -p graphsona

bench: env neo4j
	$(BIN)/python bench/run_all.py
