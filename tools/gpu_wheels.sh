#!/usr/bin/env bash
# The wheels that bench/gpu_check.sh needs on a GPU machine that has torch but no network: fastcore, for the
# notebooks' tests (pure Python, the version our .venv has). They go into .whl/, which git ignores; copy .whl/ along
# with the checkout to the GPU machine.
set -euo pipefail
cd "$(dirname "$0")/.."
v=$(.venv/bin/python -c 'import fastcore; print(fastcore.__version__)' 2>/dev/null || true)
python3 -m pip download -q --no-deps --only-binary=:all: -d .whl "fastcore${v:+==$v}"
ls -l .whl
