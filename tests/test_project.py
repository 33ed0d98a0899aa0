"""The repository's set-up: nbdev 3 configuration, exported modules, papermill's tag surviving nbdev-clean."""
import importlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CFG = tomllib.loads((ROOT / "pyproject.toml").read_text())
NBS = sorted((ROOT / "nbs").glob("[0-9]*.ipynb"))


def test_nbdev3_config():
    nb = CFG["tool"]["nbdev"]
    assert not (ROOT / "settings.ini").exists(), "nbdev 3 refuses to run beside a settings.ini"
    assert {"slow", "cuda"} <= set(nb["tst_flags"].split())
    assert "tags" in nb["allowed_cell_metadata_keys"]
    deps = CFG["project"]["dependencies"]
    assert not [d for d in deps if "==" in d], "the package's own dependencies stay unpinned ranges"
    assert "nbdev" in " ".join(CFG["project"]["optional-dependencies"]["dev"])


def _default_exp(nb_path):
    for cell in json.loads(nb_path.read_text())["cells"]:
        m = re.search(r"^#\|\s*default_exp\s+(\S+)", "".join(cell["source"]), re.M)
        if m: return m.group(1)


@pytest.mark.parametrize("nb_path", NBS, ids=lambda p: p.stem)
def test_each_component_notebook_exports_its_module(nb_path):
    mod = _default_exp(nb_path)
    if mod is None: pytest.skip("experiment notebook: exports nothing")
    src = (ROOT / "ama" / f"{mod.replace('.', '/')}.py").read_text()
    assert f"File to edit: ../nbs/{nb_path.name}" in src
    m = importlib.import_module(f"ama.{mod}")
    assert m.__all__, f"ama.{mod} exports nothing"


def test_parameters_tag_survives_nbdev_clean(tmp_path, monkeypatch):
    from nbdev.clean import clean_nb
    nb = {"cells": [{"cell_type": "code", "source": "epochs = 1", "outputs": [], "execution_count": 3,
                     "metadata": {"tags": ["parameters"], "scrolled": True}}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    clean_nb(nb, allowed_cell_metadata_keys=CFG["tool"]["nbdev"]["allowed_cell_metadata_keys"])
    assert nb["cells"][0]["metadata"] == {"tags": ["parameters"]}


def test_notebooks_are_committed_without_execution_counts():
    for p in NBS + [ROOT / "nbs" / "index.ipynb"]:
        for cell in json.loads(p.read_text())["cells"]:
            assert cell.get("execution_count") is None, f"{p.name} is not clean: run `make sync`"

def test_run_flagged_runs_the_flagged_cells_only_when_asked(tmp_path):
    "tools/run_flagged.py (nbdev-test's flags without nbdev, for a GPU machine): a flagged cell runs only when its flag is asked for."
    cell = lambda src: dict(cell_type='code', execution_count=None, metadata={}, outputs=[], source=src)
    nb = dict(cells=[cell('x = 1'), cell("#| cuda\nraise RuntimeError('the cuda cell ran')"), cell('#| eval: false\nraise SystemExit(3)'),
                     cell('assert x == 1')], metadata={}, nbformat=4, nbformat_minor=5)
    (tmp_path / 'a.ipynb').write_text(json.dumps(nb))
    run = lambda flags: subprocess.run([sys.executable, str(ROOT / 'tools' / 'run_flagged.py'), '--flags', flags, str(tmp_path / 'a.ipynb')],
                                       capture_output=True, text=True, timeout=60)
    r = run('')
    assert r.returncode == 0 and r.stdout.strip().endswith('1 passed, 0 failed'), r.stdout + r.stderr
    r = run('slow cuda')
    assert r.returncode == 1 and 'the cuda cell ran' in r.stdout and r.stdout.strip().endswith('0 passed, 1 failed')


def _cells(p): return json.loads(p.read_text())["cells"]

def test_experiment_notebooks_run_the_papers_settings_and_say_what_their_pages_show():
    "No notebook keeps papermill's injected-parameters cell (a run with no -p would execute it); each experiment page names the exact command of its stored outputs, and shows them."
    sys.path.insert(0, str(ROOT / "tools"))
    from render_pages import stored_run_command
    for p in sorted((ROOT / "nbs").glob("*.ipynb")):
        cells = _cells(p)
        assert not any("injected-parameters" in c.get("metadata", {}).get("tags", []) for c in cells), p.name
        if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells): continue
        cmd = stored_run_command(p)
        assert cmd and cmd[:3] == ["papermill", f"nbs/{p.name}", f"out/render/{p.name}"], (p.name, cmd)
        shown = [c for c in cells if c["cell_type"] == "code" and c.get("outputs")]
        assert len(shown) >= 3, f"{p.name} stores no outputs: run python tools/render_pages.py {p.stem}"

def test_no_cell_mixes_imports_with_code_the_docs_build_would_run():
    """nbdev's docs build executes every cell that imports something, and warns ("Found cells containing imports and
    other code") when such a cell also holds checks or set-up, which then run while the docs render: imports go in
    cells of their own. Judged by nbdev's own rule, cell by cell, as its docs build reads the notebooks."""
    import warnings
    from nbdev.process import NBProcessor
    from nbdev.processors import add_show_docs, _do_eval    # nbdev-docs' rules: which notebooks run, which cells
    found = []
    for p in NBS + [ROOT / "nbs" / "index.ipynb"]:
        proc = NBProcessor(p, procs=[add_show_docs])
        proc.process()
        if not proc.nb.has_docs_: continue        # a notebook that documents no function is not run at all
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for cell in proc.nb.cells: _do_eval(cell)
        found += [f"{p.name}: {str(w.message).split('---')[1].strip().splitlines()[0][:80]}"
                  for w in caught if "imports and other code" in str(w.message)]
    assert not found, "move the imports of these cells into a cell of their own:\n" + "\n".join(found)
