"""Render the documentation site into `_docs/` with nbdev-docs, and fail when Quarto warns.

`nbdev-docs` runs Quarto with its output captured and shows it only when Quarto fails, so a warning (a link Quarto
cannot resolve, a bad option, math it cannot convert) passes unseen. This runs the same `nbdev_docs`, keeps what
Quarto prints, saves it to `_proc/quarto-render.log`, and exits 1 when any of it is a warning or an error.
It fetches KaTeX first (`tools/katex.py`, which Quarto's pre-render step then copies into the site), so that a
missing npm stops it with one sentence, and checks that every page's equations will be typeset from `_docs/katex/`.
`make docs` runs it; so does `tests/test_docs.py` when `_docs/` is missing or older than the notebooks.
Usage: python tools/render_docs.py [--workers N]   (N Quarto workers; 1, the default, is as fast on two cores)
"""
import argparse, re, shutil, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
import katex

NO_QUARTO = ("Quarto is not on PATH: install it from https://quarto.org/docs/get-started/, "
             "then run `make docs` again.")
# Quarto's own warnings ("WARN: ..."), pandoc's ("[WARNING] ..."), and errors of either.
WARNING = re.compile(r'^\s*(WARN\b|WARNING\b|ERROR\b|\[WARNING\]|\[ERROR\])')
ANSI = re.compile(r'\x1b\[[0-9;]*m')

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--workers', type=int, default=1, help='Quarto workers (nbdev-docs --n_workers)')
    args = ap.parse_args(argv)
    if not shutil.which('quarto'): print(NO_QUARTO, file=sys.stderr); return 2
    try: katex.ensure()
    except katex.KatexError as e: print(f'docs: {e}', file=sys.stderr); return 2
    import nbdev.quarto_render as qr
    from nbdev.quarto import nbdev_docs
    if not hasattr(qr, '_quarto'):
        print('tools/render_docs.py: this nbdev has no nbdev.quarto_render._quarto to watch Quarto through; '
              'update this script for it.', file=sys.stderr); return 2
    logs = []
    def _quarto(path, *qargs):   # nbdev's own `_quarto`, keeping stderr, where Quarto and pandoc write their warnings
        res = subprocess.run(['quarto', *map(str, qargs)], cwd=path, capture_output=True, text=True)
        if qargs and qargs[0] == 'render': logs.append(ANSI.sub('', res.stderr))
        if res.returncode: raise RuntimeError(res.stderr or res.stdout or f'Quarto exited with status {res.returncode}')
        return res.stdout
    qr._quarto = _quarto
    t0 = time.time()
    try: nbdev_docs.__wrapped__(n_workers=args.workers)
    finally:
        log = ROOT/'_proc'/'quarto-render.log'
        log.parent.mkdir(exist_ok=True)
        log.write_text('\n'.join(logs))
    warnings = [l.rstrip() for text in logs for l in text.splitlines() if WARNING.match(l)]
    pages = sorted(p.name for p in (ROOT/'_docs').glob('*.html'))
    if warnings:
        print(f'docs: Quarto warned while rendering (full log: {log.relative_to(ROOT)}); fix these:', file=sys.stderr)
        for w in warnings: print('  ' + w, file=sys.stderr)
        return 1
    if not (ROOT/'_docs'/'katex'/'katex.min.js').is_file():
        print('docs: _docs/katex/katex.min.js is missing, so no equation would render: Quarto did not copy KaTeX into '
              'the site (nbs/_quarto.yml runs tools/katex.py before rendering and lists katex/ under project: '
              'resources).', file=sys.stderr)
        return 1
    print(f'docs: rendered {len(pages)} pages into _docs/ in {time.time() - t0:.0f} s, without a warning '
          f'(Quarto log: {log.relative_to(ROOT)}). Open _docs/index.html, or run `make preview`.')
    return 0

if __name__ == '__main__': sys.exit(main())
