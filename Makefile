# `make test` is the one command that tests this repository on a fresh machine:
# it creates .venv, installs ama with its dev extra, then checks and tests.
VENV ?= .venv
BIN := $(VENV)/bin
export MPLBACKEND ?= Agg

.PHONY: install sync check test nbtest pytest
all: test

$(BIN)/.ama-installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

install: $(BIN)/.ama-installed

# Clean the notebooks and export ama/ from them (what to run before a commit).
sync: install
	$(BIN)/nbdev-clean
	$(BIN)/nbdev-export

# Fail if the committed notebooks are not clean or ama/ is out of sync with them.
check: install
	bash tools/check_sync.sh $(BIN)

nbtest: install
	$(BIN)/nbdev-test

pytest: install
	$(BIN)/python -m pytest tests/

test: check nbtest pytest
