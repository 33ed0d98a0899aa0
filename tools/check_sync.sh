#!/usr/bin/env bash
# Fail when the notebooks are not clean or `ama/` is not what the notebooks export.
# Runs nbdev-clean and nbdev-export, then compares the tree with what it was before:
# anything they changed is something that was not committed in sync.
set -euo pipefail
bin=${1:-.venv/bin}
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "check_sync: not a git checkout, so nothing to compare against; skipped."; exit 0
fi
state() { git status --porcelain --untracked-files=all -- nbs ama; git diff -- nbs ama | sha1sum; }
before=$(state)
"$bin/nbdev-clean" >/dev/null
"$bin/nbdev-export"
after=$(state)
if [ "$before" != "$after" ]; then
  echo "check_sync: nbdev-clean / nbdev-export changed files, so the notebooks are not clean or ama/ is out of sync:"
  git status --short -- nbs ama | sed 's/^/  /'
  echo "Run 'make sync' and commit the result."
  exit 1
fi
echo "check_sync: notebooks are clean and ama/ matches them."
