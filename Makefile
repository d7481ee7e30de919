# The two set-up commands of the README: `make demo` and `make test`. Both install what is missing.
VENV ?= $(HOME)/.cache/graphsona/venv
export GRAPHSONA_VENV := $(VENV)
BIN := $(VENV)/bin

.PHONY: demo test lint neo4j bench env upgrade

# Installs requirements.lock, then this checkout (--no-deps -e); a changed lock re-installs.
env:
	@bash scripts/bootstrap.sh

# Re-resolves pyproject.toml's ranges in a fresh temporary venv and rewrites requirements.lock
# from what it installed, then runs the suite, which first installs the new pins into $(VENV).
# Review and commit the lock if it passes; `git checkout requirements.lock && make env` goes back.
upgrade:
	@bash scripts/bootstrap.sh --upgrade-lock
	$(MAKE) test

demo: env
	$(BIN)/graphsona demo

neo4j: env
	@$(BIN)/python scripts/neo4j_test_server.py assemble >/dev/null

test: env neo4j
	$(BIN)/python -m pytest

# mypy cannot follow setuptools' editable finder for a package whose directory is the repo root,
# so it checks the package through a symlink named graphsona, whatever the checkout's folder is
# called. The view (and mypy's cache in it) is per checkout, so two checkouts never share one.
MYPY_VIEW := $(VENV)/mypy-view/$(shell printf %s "$(CURDIR)" | sha256sum | cut -c1-16)
lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@mkdir -p "$(MYPY_VIEW)" && ln -sfn "$(CURDIR)" "$(MYPY_VIEW)/graphsona"
	cd "$(MYPY_VIEW)" && MYPYPATH=. $(BIN)/mypy --config-file "$(CURDIR)/pyproject.toml" -p graphsona

bench: env neo4j
	$(BIN)/python bench/run_all.py
