"""KaTeX, the library that typesets the docs' equations, fetched from the npm registry when the docs are built.

Quarto (`nbs/_quarto.yml`: `html-math-method: katex`, `url: katex/`) points every page at `katex/` beside it, and
runs this script before every full render (`pre-render: ../tools/katex.py katex`) to put the files below into the
Quarto project, whence they go into the site: `_docs/` shows its equations without a network, and a hosted copy of it
needs no CDN either. The repository does not carry KaTeX: `ensure()` runs `npm pack` for the
pinned version once, checks the tarball against the pinned SHA-512, and keeps the files it needs (`katex.min.js`,
`katex.min.css`, `fonts/`, `LICENSE`) in `_katex/katex-VERSION/`, or under `$AMA_KATEX_DIR` when that is set (CI keeps
it in its cache folder). npm's own cache makes a second fetch work offline.
Usage: python tools/katex.py [DEST]   (fetch if needed; with DEST, also copy the files into DEST)
"""
import base64, hashlib, os, shutil, subprocess, sys, tarfile, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSION = '0.19.1'
# `npm view katex@0.19.1 dist.integrity`
INTEGRITY = 'sha512-jG8uKntjSEcm2EpQOh0XturpPuuC9r3Sq5HLHdsFdWZT27E672SF19QEi+of0/YeOy15lDgRhKvr5614uRrEfA=='
KEEP = ('dist/katex.min.js', 'dist/katex.min.css', 'dist/fonts/', 'LICENSE')

class KatexError(RuntimeError): pass

def home():
    "The folder that holds this version's files once fetched."
    return Path(os.environ.get('AMA_KATEX_DIR') or ROOT/'_katex')/f'katex-{VERSION}'

def _complete(d): return (d/'katex.min.js').is_file() and (d/'katex.min.css').is_file() and any((d/'fonts').glob('*.woff2'))

def ensure(log=print):
    "This version's files, fetched with `npm pack` unless already there; the folder that holds them."
    d = home()
    if _complete(d): return d
    npm = shutil.which('npm')
    if not npm:
        raise KatexError(f'The docs typeset their equations with KaTeX {VERSION}, which is fetched from the npm registry, '
                         f'and npm is not on PATH: install Node.js with npm (https://nodejs.org, or Debian\'s `npm`), '
                         f'or unpack katex-{VERSION}.tgz yourself so that {d}/katex.min.js, katex.min.css and fonts/ '
                         f'exist, then run `make docs` again.')
    d.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix='katex-', dir=d.parent) as tmp:
        tmp = Path(tmp)
        log(f'docs: fetching KaTeX {VERSION} from the npm registry (npm pack katex@{VERSION})')
        r = subprocess.run([npm, 'pack', f'katex@{VERSION}', '--prefer-offline', '--silent', '--pack-destination', str(tmp)],
                           capture_output=True, text=True)
        tgz = tmp/f'katex-{VERSION}.tgz'
        if r.returncode or not tgz.exists():
            raise KatexError(f'npm could not fetch katex@{VERSION} (exit status {r.returncode}): '
                             f'{(r.stderr or r.stdout).strip()[-500:]}')
        got = 'sha512-' + base64.b64encode(hashlib.sha512(tgz.read_bytes()).digest()).decode()
        if got != INTEGRITY: raise KatexError(f'katex-{VERSION}.tgz from npm has checksum {got}; expected {INTEGRITY}.')
        new = tmp/'katex'
        with tarfile.open(tgz) as tf:
            for m in tf.getmembers():
                rel = m.name.removeprefix('package/')
                if not m.isfile() or not any(rel == k or (k.endswith('/') and rel.startswith(k)) for k in KEEP): continue
                out = new/rel.removeprefix('dist/')
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(tf.extractfile(m).read())
        if not _complete(new): raise KatexError(f'katex-{VERSION}.tgz lacks katex.min.js, katex.min.css or fonts/.')
        if d.exists(): shutil.rmtree(d)
        new.rename(d)
    return d

def copy_to(dest):
    "Fetch if needed, then copy the files into `dest` (a folder named `katex` in the Quarto project)."
    src, dest = ensure(), Path(dest)
    shutil.copytree(src, dest, dirs_exist_ok=True)
    return dest

if __name__ == '__main__':
    try: print(copy_to(sys.argv[1]) if len(sys.argv) > 1 else ensure())
    except KatexError as e: print(e, file=sys.stderr); sys.exit(1)
