"""Run notebooks' code cells in order, as `nbdev-test --flags "slow cuda"` does, but with no nbdev or IPython: only fastcore.

    python tools/run_flagged.py [--flags "slow cuda"] [NOTEBOOK ...]

For a GPU machine whose Python has torch but not nbdev (and cannot install it from the network): the notebooks'
tests need only fastcore, whose wheel travels in `.whl/` (`bench/gpu_check.sh`). Without notebooks named, it runs
every notebook in `nbs/` that has a cell flagged with one of `--flags`. A cell flagged with a flag that is not
asked for is skipped, as are `#| eval: false` cells and notebooks whose front matter says `skip_exec: true`; each
notebook runs in its own namespace with `nbs/` as the working folder, as nbdev-test runs it. Ends with the line
'N passed, M failed' and exits non-zero if any notebook failed.
"""
import argparse, json, os, re, sys, time, traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'
TST_FLAGS = ('slow', 'cuda')                 # pyproject.toml's tst_flags

def directives(src:str) -> dict:
    "The `#| key: value` / `#| flag` lines at the top of a cell."
    out = {}
    for line in src.splitlines():
        m = re.match(r'\s*#\|\s*([\w-]+)\s*(?::\s*(.*))?$', line)
        if not m: break
        out[m[1]] = (m[2] or '').strip()
    return out

def skipped(nb:dict) -> bool:
    first = next((''.join(c['source']) for c in nb['cells'] if c['cell_type'] in ('markdown', 'raw')), '')
    return bool(re.search(r'^-?\s*skip_exec:\s*true', first, re.M))

def cells(nb:dict, flags) -> list:
    "The code cells to run, in order."
    out = []
    for c in nb['cells']:
        if c['cell_type'] != 'code': continue
        src = ''.join(c['source']); d = directives(src)
        if d.get('eval') == 'false' or any(f in d and f not in flags for f in TST_FLAGS): continue
        out.append(src)
    return out

def has_flagged(nb:dict, flags) -> bool:
    return any(set(directives(''.join(c['source']))) & set(flags) for c in nb['cells'] if c['cell_type'] == 'code')

def run(path:Path, flags) -> tuple[bool, str]:
    nb = json.loads(path.read_text())
    if skipped(nb): return True, 'skipped (skip_exec)'
    ns, cwd, t0 = {'__name__': '__main__'}, os.getcwd(), time.time()
    os.chdir(path.parent)
    try:
        for k, src in enumerate(cells(nb, flags)): exec(compile(src, f'{path.name} (code cell {k})', 'exec'), ns)
        return True, f'ok ({time.time() - t0:.1f} s)'
    except Exception:
        return False, traceback.format_exc(limit=-6)
    finally: os.chdir(cwd)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--flags', default=' '.join(TST_FLAGS), help='flags whose cells run, as nbdev-test takes them (default: "slow cuda"; "" for none)')
    p.add_argument('notebooks', nargs='*')
    a = p.parse_args()
    a.flags = a.flags.replace(',', ' ').split()
    sys.path.insert(0, str(ROOT))
    paths = [Path(n).resolve() for n in a.notebooks] or [f for f in sorted(NBS.glob('[0-9]*.ipynb')) if has_flagged(json.loads(f.read_text()), a.flags)]
    ok = 0
    for f in paths:
        good, msg = run(f, a.flags)
        ok += good
        print(f"{f.name}: {msg}", flush=True)
    print(f"{ok} passed, {len(paths) - ok} failed")
    sys.exit(0 if ok == len(paths) else 1)
