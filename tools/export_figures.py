"""Copy figures out of an experiment notebook's stored outputs into `nbs/`, for the docs home page.

The home page (`nbs/index.ipynb`) shows the toy experiment's Figure 2 as the images `nbs/figure2a.png` and
`nbs/figure2b.png`. They are the PNG outputs of the cells of `nbs/10_toy.ipynb` that save `figure2a` and
`figure2b` (`exp.figure('figure2a', fig)`), byte for byte. After the toy notebook's stored run changes, run

    python tools/export_figures.py            # rewrites nbs/figure2a.png and nbs/figure2b.png
    python tools/export_figures.py --check    # exits 1 when they differ from the notebook's outputs (tests/test_docs.py)
"""
import argparse, base64, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = {'figure2a': 'nbs/10_toy.ipynb', 'figure2b': 'nbs/10_toy.ipynb'}   # image name: the notebook that draws it
DEST = ROOT/'nbs'    # top level: nbdev stages only nbs/'s top level for Quarto (recursive = false)

def stored_png(nb_path, name):
    "The PNG bytes that the cell of `nb_path` saving figure `name` displays (its first image output)."
    nb = json.loads(Path(nb_path).read_text(encoding='utf-8'))
    saves = re.compile(r"""(savefig|figure)\(\s*(fig\s*,\s*)?['"]""" + re.escape(name) + r"""['"]""")   # exp.figure('figure2a', fig), or exp.savefig(fig, ...)
    for cell in nb['cells']:
        if cell['cell_type'] != 'code' or not saves.search(''.join(cell['source'])): continue
        for out in cell.get('outputs', []):
            png = out.get('data', {}).get('image/png')
            if png: return base64.b64decode(''.join(png) if isinstance(png, list) else png)
        raise SystemExit(f"{nb_path}: the cell that saves '{name}' has no stored PNG output; run the notebook and save it with its outputs first.")
    raise SystemExit(f"{nb_path}: no cell saves a figure named '{name}' (expected a call like exp.figure('{name}', fig)).")

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--check', action='store_true', help='only compare; exit 1 when an image differs from the notebook')
    args = ap.parse_args(argv)
    stale = []
    for name, nb in FIGURES.items():
        png, dest = stored_png(ROOT/nb, name), DEST/f'{name}.png'
        if dest.exists() and dest.read_bytes() == png: continue
        if args.check: stale.append(f'{dest.relative_to(ROOT)} (from {nb})'); continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(png)
        print(f'wrote {dest.relative_to(ROOT)} from {nb}')
    if stale:
        print('These home-page figures differ from the notebooks\' stored outputs: ' + ', '.join(stale)
              + '. Run `python tools/export_figures.py` and commit the images.')
        return 1
    return 0

if __name__ == '__main__': sys.exit(main())
