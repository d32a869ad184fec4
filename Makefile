# The two commands of the README: `make demo` and `make test`. Each creates or refreshes .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
STAMP_RUN := $(VENV)/.installed

.PHONY: test demo lint bench clean venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e . chiapos
	touch $@

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_RUN)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check plotman_tui tests bench
	$(BIN)/ruff format --check plotman_tui tests bench
	$(BIN)/mypy plotman_tui
	$(BIN)/lint-imports --no-cache

# Plotting loops count every plot job on the machine, so their tests (marked exclusive) run
# alone, after the parallel run.
test: lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not exclusive" $(PYTEST_ARGS)
	$(BIN)/python -m pytest -m exclusive $(PYTEST_ARGS)

demo: $(STAMP_RUN)
	$(BIN)/plotman-tui demo $(DEMO_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/status.py
	$(BIN)/python bench/schedule.py
	$(BIN)/python bench/archive.py
	$(BIN)/python bench/analyze.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
