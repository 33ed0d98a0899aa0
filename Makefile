# `make test` is the one command that tests this repository on a fresh machine:
# it creates .venv, installs ama with its dev extra, then checks and tests.
VENV ?= .venv
BIN := $(VENV)/bin
export MPLBACKEND ?= Agg

.PHONY: install sync check test nbtest pytest demo
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
	$(BIN)/python -m pytest tests/ --durations=15

test: check nbtest pytest

# The toy experiment of §3.3 (Figure 2), run by papermill into a new folder out/toy-<date-time>; a few minutes on
# two CPU cores. Extra papermill arguments go in DEMO_ARGS, e.g. make demo DEMO_ARGS="-p seeds 0 -p epochs 20";
# OUT=out/toy-<date-time> reruns into that folder, which resumes an interrupted run (a finished one is refused).
# The runs train in WORKERS processes side by side (default: one per CPU core, at most 4), each with one thread;
# WORKERS=1 runs them one after another. (Passed as the notebook's `workers` parameter, when it has one.)
WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)
demo: install
	@out=$(or $(OUT),out/toy-$$(date +%Y%m%d-%H%M%S)); mkdir -p $$out; \
	w=$$(grep -q '"workers = ' nbs/10_toy.ipynb && echo "-p workers $(WORKERS)"); \
	echo "Running nbs/10_toy.ipynb into $$out $$w $(DEMO_ARGS) (the defaults: orig, SupCon and AMA, seeds 0-2) ..."; \
	$(BIN)/papermill nbs/10_toy.ipynb $$out/10_toy.ipynb -k python3 --log-output --no-progress-bar -p out_dir $$out $$w $(DEMO_ARGS) && \
	echo "" && echo "Done. Figures: $$out/figure2a.png $$out/figure2b.png" && \
	echo "Numbers (params, environment, every run, mean ± std, the paper's claims checked): $$out/results.json" && \
	echo "The executed notebook: $$out/10_toy.ipynb"

# The documentation site (Quarto): `make docs` renders every notebook into _docs/ with nbdev-docs and fails on any
# Quarto warning (tools/render_docs.py); `make preview` serves it and re-renders a page when its notebook changes;
# `make docstest` opens the rendered pages in headless Chromium (tests/test_docs.py). Quarto must be on PATH, and npm:
# the equations are typeset by KaTeX, fetched from the npm registry once (tools/katex.py, into _katex/) and copied into
# the site by Quarto's pre-render step (nbs/_quarto.yml).
.PHONY: docs preview docstest
QUARTO_HELP := make docs needs Quarto on PATH: install it from https://quarto.org/docs/get-started/

docs: install
	@command -v quarto >/dev/null || { echo "$(QUARTO_HELP)"; exit 1; }
	$(BIN)/python tools/render_docs.py

preview: install
	@command -v quarto >/dev/null || { echo "$(QUARTO_HELP)"; exit 1; }
	$(BIN)/nbdev-preview

docstest: install
	$(BIN)/python -m pytest tests/test_docs.py
