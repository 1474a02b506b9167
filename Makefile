# Two entry points that work on a fresh machine of this kind (Debian 12, Python 3.11, no GPU):
#   make demo   set up .venv and repair a real clip end to end on the embedded default
#   make test   set up .venv with the test extras and run the whole suite (ruff first)
# torch always comes first and pinned (a local CPU wheel); an unpinned torch pulls a multi-GB CUDA build.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip install -q -c constraints.txt
DEPS   := pyproject.toml constraints.txt requirements-nodeps.txt

.PHONY: demo test lint system-deps services bench clean

demo: $(VENV)/.demo
	$(BIN)/avagent demo

test: $(VENV)/.test system-deps services
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Debian packages the tests read real recordings from, and Chromium for the dashboard test.
system-deps:
	scripts/system-deps.sh

bench: $(VENV)/.test system-deps
	$(BIN)/python -m bench.actions

$(VENV)/.base: $(DEPS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U "pip>=24"
	$(PIP) torch==2.13.0
	$(PIP) -e .
	$(PIP) --no-deps -r requirements-nodeps.txt
	touch $@

$(VENV)/.demo: $(VENV)/.base
	$(PIP) -e ".[demo]"
	touch $@

$(VENV)/.test: $(VENV)/.base
	$(PIP) -e ".[test]"
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
