"""Re-render the stored outputs of the experiment pages: run the command each page names, then copy its outputs in.

Each experiment notebook in nbs/ keeps the paper's settings in its parameters cell (what papermill with no `-p`, and
Jupyter's Run All, use), and shows the outputs of one stored run: a CPU stand-in, or for the toy task a real run. The
markdown cell tagged `stored-run` names the exact command that made them, e.g.

    papermill nbs/40_longtail.ipynb out/render/40_longtail.ipynb -p dataset digits ... -p out_dir out/render/longtail

This tool runs that command (from the repository root), then copies the executed notebook's outputs into the cells of
nbs/<name>.ipynb with the same ids (papermill's injected-parameters cell is not copied, so the notebook in nbs/ still
runs the paper's settings). The results page (80) runs last: it reads what the others wrote under out/render/.

A page whose output folder already holds its finished experiment is refused by the notebook (as any run would be);
`--reuse` removes only that experiment's results.json, so that the command loads its finished runs instead of training
them again and renders the page from them (its log then says "loaded (finished earlier)").

Usage: python tools/render_pages.py [NAME ...] [--copy-only] [--reuse]   (NAME: e.g. 40_longtail; default: every page, in order)
"""
import argparse, json, re, shlex, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'

def stored_run_command(nb_path:Path) -> list[str]|None:
    "The papermill command of a notebook's `stored-run` cell, as a list of arguments (None when it has none)."
    nb = json.loads(nb_path.read_text())
    cells = [c for c in nb['cells'] if 'stored-run' in c.get('metadata', {}).get('tags', [])]
    if not cells: return None
    if len(cells) > 1: raise SystemExit(f"{nb_path.name} has {len(cells)} cells tagged stored-run; keep one.")
    m = re.search(r'^(papermill .*)$', ''.join(cells[0]['source']), re.M)
    if not m: raise SystemExit(f"{nb_path.name}'s stored-run cell names no `papermill nbs/...` command.")
    return shlex.split(m[1])

def copy_outputs(executed:Path, target:Path) -> int:
    "Copy the outputs of `executed` into the code cells of `target` with the same ids; the number of cells that got outputs."
    ex = {c.get('id'): c for c in json.loads(executed.read_text())['cells']}
    nb = json.loads(target.read_text())
    n = 0
    for c in nb['cells']:
        if c['cell_type'] != 'code': continue
        src = ex.get(c.get('id'))
        c['outputs'] = [o for o in src.get('outputs', [])] if src is not None else []
        c['execution_count'] = None
        for o in c['outputs']:
            if 'execution_count' in o: o['execution_count'] = None
        n += bool(c['outputs'])
    target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    return n

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('names', nargs='*', help='notebooks to re-render (default: every one with a stored-run cell)')
    ap.add_argument('--copy-only', action='store_true', help='copy the outputs of earlier runs (out/render/NAME.ipynb) without running')
    ap.add_argument('--reuse', action='store_true', help="load the finished runs of an earlier rendering instead of training them again")
    a = ap.parse_args(argv)
    pages = [p for p in sorted(NBS.glob('[1-8]*.ipynb')) if stored_run_command(p)]
    if a.names: pages = [p for p in pages if p.stem in a.names]
    for p in pages:
        cmd = stored_run_command(p)
        if cmd[1] != f'nbs/{p.name}': raise SystemExit(f"{p.name}'s stored-run command runs {cmd[1]}, not nbs/{p.name}.")
        executed = ROOT / cmd[2]
        if not a.copy_only:
            executed.parent.mkdir(parents=True, exist_ok=True)
            if a.reuse and '-p' in cmd:
                pairs = dict(zip(cmd[4::3], cmd[5::3])) if all(x == '-p' for x in cmd[3::3]) else {}
                if not pairs.get('out_dir') and not p.stem.startswith('80'):
                    raise SystemExit(f"{p.name}: --reuse needs the stored-run command as `-p name value` pairs with an out_dir, "
                                     f"to know which folder's results to write again; it is: {shlex.join(cmd)}")
                out = ROOT / pairs.get('out_dir', '')
                if pairs.get('out_dir') and not p.stem.startswith('80'):
                    for f in ('results.json', 'results.partial.json'): (out / f).unlink(missing_ok=True)
            print('$', shlex.join(cmd), flush=True)
            exe = Path(sys.executable).parent / 'papermill'
            r = subprocess.run([str(exe), *cmd[1:], '--log-output', '--no-progress-bar'], cwd=ROOT)
            if r.returncode: raise SystemExit(f"{p.name}: the stored-run command failed (exit {r.returncode}); nothing copied.")
        n = copy_outputs(executed, p)
        print(f"{p.name}: outputs of {n} cells copied from {executed.relative_to(ROOT)}")
    print("Now run `make sync` (nbdev-clean, nbdev-export) and commit the notebooks.")

if __name__ == '__main__': main()
