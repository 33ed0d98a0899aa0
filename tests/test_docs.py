"""The documentation site as a reader sees it: rendered by Quarto, opened in headless Chromium.

Renders the site with `tools/render_docs.py` (which fails on any Quarto warning) unless `_docs/` is newer than
everything in `nbs/`, serves `_docs/` on 127.0.0.1, and opens every page in Chromium through the DevTools protocol
(over a pipe: no extra package), with no network beyond that server. Each page is read after its scripts have run,
as a reader sees it: equations typeset by KaTeX, no TeX left in the text (checked to fail when KaTeX cannot load).
Screenshots of the home, toy and results pages and of the method page with the most equations go to
`out/docs-test/` (or `$AMA_DOCS_OUT`).
Without `quarto` or `chromium` on PATH these tests skip; CI sets `AMA_DOCS_REQUIRED=1`, which makes that a failure.
"""
import fcntl, functools, http.server, json, os, re, select, shutil, subprocess, sys, tempfile, threading, time
from pathlib import Path
from urllib.parse import urlsplit, unquote
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS, DOCS = ROOT/'nbs', ROOT/'_docs'
OUT = Path(os.environ.get('AMA_DOCS_OUT') or ROOT/'out'/'docs-test')
REQUIRED = os.environ.get('AMA_DOCS_REQUIRED') == '1'
NOTEBOOKS = sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith(('_', '.')))
FIGURE_PAGES = ('10_toy', '80_results')     # notebooks whose figures must all load (those of them that exist)
METHOD = re.compile(r'0\d')                   # the method pages: notebooks 00..09 (and 08a, 09a, ...), by number prefix

def page_of(nb):
    "The page nbdev renders notebook `nb` to: its name without the number prefix (nbdev's `nbpath2html`)."
    return re.sub(r'^\d+[a-zA-Z0-9]*_', '', Path(nb).name.lower()).rsplit('.', 1)[0] + '.html'

def _missing(what):
    if REQUIRED: pytest.fail(f'{what}, and AMA_DOCS_REQUIRED=1 says the docs must be checked here.')
    pytest.skip(f'{what}; the docs tests need it (CI installs it).')

def test_home_figures_are_the_toy_runs():
    "The home page shows Figure 2 as the toy notebook stored it (`tools/export_figures.py` copies it)."
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'export_figures.py'), '--check'], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr

# --- Chromium through the DevTools protocol --------------------------------------------------------------------------

CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync',
                  '--disable-extensions', '--hide-scrollbars', '--mute-audio',
                  # nothing leaves the machine: a page that needs the network to show a figure fails here
                  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1']

def _high_fd(fd):
    "A copy of `fd` numbered 10 or above (so that the shell's `3<&N 4>&M` cannot clobber it), inheritable."
    new = fcntl.fcntl(fd, fcntl.F_DUPFD, 10); os.close(fd); os.set_inheritable(new, True)
    return new

class Chromium:
    "Headless Chromium driven over `--remote-debugging-pipe`: commands go to its fd 3, replies come from its fd 4."
    def __init__(self, exe, profile, log):
        cmd_r, self.cmd_w = os.pipe()
        self.res_r, res_w = os.pipe()
        cmd_r, res_w = _high_fd(cmd_r), _high_fd(res_w)
        self.proc = subprocess.Popen(
            ['bash', '-c', f'exec "$0" "$@" 3<&{cmd_r} 4>&{res_w} {cmd_r}<&- {res_w}>&-', exe, *CHROMIUM_FLAGS,
             f'--user-data-dir={profile}', '--remote-debugging-pipe', 'about:blank'],
            pass_fds=(cmd_r, res_w), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        os.close(cmd_r); os.close(res_w)
        self.buf, self.next_id, self.events = b'', 0, []
        target = self.send('Target.createTarget', url='about:blank')['targetId']
        self.session = self.send('Target.attachToTarget', targetId=target, flatten=True)['sessionId']
        for domain in ('Page', 'Runtime'): self.send(f'{domain}.enable', session=True)
        self.send('Emulation.setDeviceMetricsOverride', session=True, width=1280, height=900, deviceScaleFactor=1, mobile=False)

    def _read(self, deadline):
        while b'\0' not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.res_r], [], [], left)[0]: raise TimeoutError('Chromium did not answer')
            chunk = os.read(self.res_r, 1 << 20)
            if not chunk: raise RuntimeError(f'Chromium closed its pipe (exit status {self.proc.poll()})')
            self.buf += chunk
        msg, self.buf = self.buf.split(b'\0', 1)
        return json.loads(msg)

    def send(self, method, session=False, timeout=30, **params):
        self.next_id += 1
        msg = {'id': self.next_id, 'method': method, 'params': params}
        if session: msg['sessionId'] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b'\0')
        deadline = time.monotonic() + timeout
        while True:
            m = self._read(deadline)
            if m.get('id') == self.next_id:
                if 'error' in m: raise RuntimeError(f'{method}: {m["error"]}')
                return m.get('result', {})
            if 'method' in m: self.events.append(m)

    def wait_event(self, name, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.events):
                if m['method'] == name and m.get('sessionId') == self.session: return self.events.pop(i)
            self.events.append(self._read(deadline))

    def open(self, url):
        self.events.clear()
        nav = self.send('Page.navigate', session=True, url=url)
        if nav.get('errorText'): raise AssertionError(f'{url} did not load: {nav["errorText"]}')
        self.wait_event('Page.loadEventFired')

    def eval(self, js, timeout=30):
        r = self.send('Runtime.evaluate', session=True, timeout=timeout, expression=js, returnByValue=True, awaitPromise=True)
        if 'exceptionDetails' in r: raise RuntimeError(f'page script failed: {r["exceptionDetails"]}')
        return r['result'].get('value')

    def screenshot(self, path, max_height=4000):
        "A PNG of the page from its top, full width, at most `max_height` CSS pixels tall."
        h = min(self.eval('document.documentElement.scrollHeight'), max_height)
        r = self.send('Page.captureScreenshot', session=True, format='png', captureBeyondViewport=True,
                      clip=dict(x=0, y=0, width=1280, height=h, scale=1))
        import base64
        Path(path).write_bytes(base64.b64decode(r['data']))

    def close(self):
        try: self.send('Browser.close', timeout=5)
        except Exception: pass
        try: self.proc.wait(10)
        except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait()
        os.close(self.cmd_w); os.close(self.res_r)

# What a reader sees on a page, read once every image has loaded or failed (lazy ones are made eager first).
PAGE_JS = r"""(async () => {
  const imgs = [...document.images];
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.race([Promise.all(imgs.map(i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; }))),
                      new Promise(r => setTimeout(r, 15000))]);
  const main = document.querySelector('main') || document.body;
  return {
    title: document.title,
    h1: (document.querySelector('h1.title') || {}).innerText || '',
    images: imgs.map(i => ({src: i.currentSrc || i.src, width: i.naturalWidth, inMain: main.contains(i)})),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
    errors: [...document.querySelectorAll('.cell-output-error')].map(e => e.innerText),
    outputs: [...main.querySelectorAll('.cell-output, .cell-output-stderr, .cell-output-stdout')].map(e => e.innerText),
    // the sidebar in reading order: section headers (an empty section has no link) and page links
    sidebar: [...document.querySelectorAll('#quarto-sidebar li.sidebar-item-section, #quarto-sidebar a.sidebar-link[href]')]
               .map(e => e.tagName === 'LI' ? {section: true, text: e.querySelector('.menu-text').innerText.trim()}
                                            : {section: false, text: e.innerText.trim(), href: e.href}),
  };
})()"""

# The equations as a reader sees them, read once the page's fonts have loaded (KaTeX typesets on DOMContentLoaded).
# raw: TeX in the visible text outside code (delimiters, a command such as \mathbf, a sub- or superscript group);
# unrendered: pandoc's math spans that hold no typeset math; errors: KaTeX's (or MathJax's) error elements.
MATH_JS = r"""(async () => {
  await Promise.race([document.fonts.ready, new Promise(r => setTimeout(r, 15000))]);
  const RAW = /\$\$|\\[\[\]()]|\\[A-Za-z]{2,}|[_^]\{|\$[^$\s](?:[^$\n]*[^$\s])?\$/;
  const skip = 'script, style, noscript, textarea, pre, code, .katex, .katex-error, mjx-container, #quarto-search-results';
  const raw = [], walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n; (n = walk.nextNode()); ) {
    const el = n.parentElement, m = n.data.match(RAW);
    if (!m || !el || el.closest(skip) || !el.checkVisibility()) continue;
    raw.push(n.data.slice(Math.max(0, m.index - 40), m.index + 60).replace(/\s+/g, ' ').trim());
  }
  const spans = [...document.querySelectorAll('span.math')];
  return {
    raw,
    spans: spans.length,
    rendered: document.querySelectorAll('.katex, mjx-container').length,
    unrendered: spans.filter(s => !s.querySelector('.katex, .katex-error, mjx-container')).map(s => s.textContent.slice(0, 80)),
    errors: [...document.querySelectorAll('.katex-error, merror, mjx-merror')]
              .map(e => `${e.getAttribute('title') || 'error'}: ${e.textContent.slice(0, 80)}`),
    fonts: [...new Set([...document.fonts].filter(f => f.status === 'error').map(f => f.family))],
  };
})()"""

# TeX in a notebook's markdown: $...$ or $$...$$ outside code (what pandoc turns into math)
TEX = re.compile(r'\$\$.+?\$\$|\$[^$\s`](?:[^$\n`]*[^$\s`])?\$', re.S)
CODE = re.compile(r'```.*?```|`[^`\n]*`', re.S)

def has_tex(nb):
    "Whether notebook `nb`'s markdown holds an equation."
    cells = json.loads(Path(nb).read_text())['cells']
    return any(TEX.search(CODE.sub('', ''.join(c['source']))) for c in cells if c['cell_type'] == 'markdown')

def math_problems(name, m, tex):
    "What is wrong with the equations of page `name`, from `MATH_JS`'s reading `m`; `tex`: its notebook has equations."
    out = [f'{name}: TeX shown as text: {r!r}' for r in m['raw']]
    out += [f'{name}: an equation not typeset: {u!r}' for u in m['unrendered']]
    out += [f'{name}: KaTeX could not typeset an equation: {e}' for e in m['errors']]
    if m['fonts']: out.append(f'{name}: the math fonts did not load: {m["fonts"]}')
    if tex and not m['rendered']: out.append(f'{name}: its notebook has equations, and the page shows no typeset math')
    return out

@pytest.fixture(scope='module')
def site():
    "`_docs/`, rendered now if it is missing or older than anything in `nbs/`."
    # (not pyproject.toml: nbdev-export rewrites it unchanged, which would make every `make test` render again)
    sources = [p for p in NBS.iterdir() if p.is_file() and not p.name.startswith('.')]
    index = DOCS/'index.html'
    if not index.exists() or index.stat().st_mtime < max(p.stat().st_mtime for p in sources):
        if not shutil.which('quarto'): _missing('quarto is not on PATH and _docs/ is missing or older than nbs/')
        r = subprocess.run([sys.executable, str(ROOT/'tools'/'render_docs.py')], cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 0, f'the docs did not render cleanly:\n{r.stdout}\n{r.stderr}'
    return DOCS

@pytest.fixture(scope='module')
def server(site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}/'
    httpd.shutdown(); httpd.server_close()

@pytest.fixture(scope='module')
def browser():
    exe = os.environ.get('CHROMIUM') or shutil.which('chromium') or shutil.which('chromium-browser')
    if not exe: _missing("chromium is not on PATH (Debian: apt-get install chromium)")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix='ama-chromium-') as profile, open(OUT/'chromium.log', 'wb') as log:
        b = Chromium(exe, profile, log)
        try: yield b
        finally: b.close()

@pytest.fixture(scope='module')
def pages(site, server, browser):
    """What the reader sees on every page of the site, by file name; screenshots of the home, toy and results pages
    and of the method page with the most equations."""
    seen, shots = {}, ('index.html', page_of('10_toy.ipynb'), page_of('80_results.ipynb'), math_page())
    for html in sorted(site.glob('*.html')):
        browser.open(server + html.name)
        seen[html.name] = browser.eval(PAGE_JS)
        seen[html.name]['math'] = browser.eval(MATH_JS)
        if html.name in shots:
            browser.screenshot(OUT/('home.png' if html.name == 'index.html' else html.name.replace('.html', '.png')))
    return seen

def math_page():
    "The method page with the most equations in its notebook (the one the math checks and the screenshot use)."
    counts = {nb: sum(len(TEX.findall(CODE.sub('', ''.join(c['source']))))
                      for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'markdown')
              for nb in NOTEBOOKS if METHOD.match(nb.name)}
    nb = max(counts, key=counts.get, default=None)
    if not nb or not counts[nb]: pytest.fail(f'no method notebook (00-09) in {NBS} has an equation')
    return page_of(nb)

def test_every_notebook_has_its_page(site, pages):
    assert NOTEBOOKS, f'no notebooks in {NBS}'
    for nb in NOTEBOOKS:
        p = pages.get(page_of(nb))
        assert p is not None, f'{nb.name} has no page {page_of(nb)} in {site}'
        assert p['h1'].strip(), f'{page_of(nb)} ({nb.name}) shows no title'

def test_sidebar_goes_method_experiments_results(pages):
    "Every notebook is in the sidebar, in number order, under Method (00-09), Experiments (10-79) or Results (80-99)."
    items = pages['index.html']['sidebar']
    sections = [i['text'] for i in items if i['section']]
    assert sections == ['Method', 'Experiments', 'Results'], sections
    section, placed = None, []
    for i in items:
        if i['section']: section = i['text']; continue
        name = unquote(urlsplit(i['href']).path).rsplit('/', 1)[-1]
        placed.append((name, section))
    want = []
    for nb in NOTEBOOKS:
        m = re.match(r'(\d+)', nb.name)
        if not m: continue
        n = int(m.group(1))
        want.append((page_of(nb), 'Method' if n < 10 else 'Experiments' if n < 80 else 'Results'))
    assert [p for p in placed if p[1]] == want   # the home page comes before the sections

def test_figures_load(pages):
    "Every figure on the toy and results pages (and every image anywhere) loads: a non-zero natural width."
    for nb in FIGURE_PAGES:
        if not (NBS/f'{nb}.ipynb').exists(): continue
        figs = [i for i in pages[page_of(nb)]['images'] if i['inMain']]
        assert len(figs) >= 2, f'{page_of(nb)} shows {len(figs)} figures; its notebook stores its outputs, expected them on the page'
    for name, p in pages.items():
        broken = [i['src'] for i in p['images'] if not i['width']]
        assert not broken, f'{name}: these images do not load: {broken}'
    home = [urlsplit(i['src']).path for i in pages['index.html']['images']]
    assert '/figure2a.png' in home and '/figure2b.png' in home, f"the home page does not show Figure 2: {home}"

def test_no_broken_internal_links(site, server, pages):
    broken = []
    for name, p in pages.items():
        for href in p['links']:
            u = urlsplit(href)
            if not href.startswith(server): continue
            path = unquote(u.path).lstrip('/')
            target = site/path
            if target.is_dir(): target, path = target/'index.html', (path.rstrip('/') + '/index.html').lstrip('/')
            if not target.exists(): broken.append(f'{name} -> {path}'); continue
            if u.fragment and path in pages and unquote(u.fragment) not in pages[path]['ids']:
                broken.append(f'{name} -> {path}#{u.fragment} (no such anchor)')
    assert not broken, 'broken internal links:\n  ' + '\n  '.join(sorted(set(broken)))

def test_home_page_links_every_experiment(pages):
    "The home page links each experiment notebook that exists (and its table's row stops saying 'not yet available')."
    linked = {unquote(urlsplit(h).path).rsplit('/', 1)[-1] for h in pages['index.html']['links']}
    for nb in NOTEBOOKS:
        if re.match(r'[1-9]\d_', nb.name):
            assert page_of(nb) in linked, f'the home page (nbs/index.ipynb) does not link {nb.name}: link it in its table'

def test_search_index(site, pages):
    data = json.loads((site/'search.json').read_text())
    assert isinstance(data, list) and data, 'search.json is empty'
    hrefs = {e['href'].split('#')[0] for e in data}
    missing = [page_of(nb) for nb in NOTEBOOKS if page_of(nb) not in hrefs]
    assert not missing, f'pages missing from the search index: {missing}'

TRACEBACK = re.compile(r'Traceback \(most recent call last\)|^\s*\w*(Error|Exception): |\b\w*Warning: |warnings\.warn', re.M)

def test_no_traceback_or_warning_in_outputs(pages):
    bad = []
    for name, p in pages.items():
        bad += [f'{name}: an error output: {e[:300]}' for e in p['errors']]
        bad += [f'{name}: {m.group(0)!r} in an output: {o[:300]}' for o in p['outputs'] if (m := TRACEBACK.search(o))]
    assert not bad, '\n'.join(bad)

def test_method_pages_show_typeset_equations(pages):
    "Every method page (notebooks 00-09) shows its equations typeset: no TeX as text, no KaTeX error, none left raw."
    method = [nb for nb in NOTEBOOKS if METHOD.match(nb.name)]
    assert method, f'no method notebooks (00-09) in {NBS}'
    assert any(has_tex(nb) for nb in method), 'no method notebook has an equation: the check below would prove nothing'
    bad = [p for nb in method for p in math_problems(page_of(nb), pages[page_of(nb)]['math'], has_tex(nb))]
    assert not bad, 'equations as a reader sees them:\n  ' + '\n  '.join(bad)

def test_no_page_shows_tex(pages):
    "No other page (home, experiments, results) shows TeX as text or a KaTeX error either."
    bad = []
    for nb in NOTEBOOKS:
        if METHOD.match(nb.name) or page_of(nb) not in pages: continue
        bad += math_problems(page_of(nb), pages[page_of(nb)]['math'], has_tex(nb))
    assert not bad, 'equations as a reader sees them:\n  ' + '\n  '.join(bad)

def test_math_check_fails_without_katex(pages, server, browser):
    "The check above, on a method page whose KaTeX cannot load (blocked in Chromium), reports it."
    page = math_page()
    browser.send('Network.enable', session=True)
    browser.send('Network.setCacheDisabled', session=True, cacheDisabled=True)
    browser.send('Network.setBlockedURLs', session=True, urls=['*/katex/*'])
    try:
        browser.open(server + page)
        assert browser.eval('typeof katex') == 'undefined', 'KaTeX loaded although it was blocked'
        m = browser.eval(MATH_JS)
    finally:
        browser.send('Network.setBlockedURLs', session=True, urls=[])
        browser.send('Network.disable', session=True)
    bad = math_problems(page, m, True)
    assert m['spans'] and len(m['unrendered']) == m['spans'], m
    assert any('shows no typeset math' in b for b in bad) and any('TeX shown as text' in b for b in bad), bad
    # ... and the page with KaTeX reads clean, so the difference is KaTeX
    assert not math_problems(page, pages[page]['math'], True)

def test_math_check_catches_tex_errors(server, browser):
    "A KaTeX error, an equation left as TeX, and dollar-delimited TeX in the text, added to a good page, are reported."
    page = math_page()
    browser.open(server + page)
    browser.eval(r"""(() => {
      const main = document.querySelector('main') || document.body, add = html => main.insertAdjacentHTML('beforeend', html);
      add('<p id="t1">$$x^2$$ in a paragraph</p><p><span class="math inline">\\alpha_i</span></p><p><span id="t3"></span></p>');
      katex.render('\\frac{1}{', document.getElementById('t3'), {throwOnError: false});
    })()""")
    bad = '\n'.join(math_problems(page, browser.eval(MATH_JS), True))
    assert "TeX shown as text: '$$x^2$$ in a paragraph'" in bad, bad
    assert 'an equation not typeset: ' + repr('\\alpha_i') in bad, bad
    assert 'KaTeX could not typeset an equation: ParseError' in bad, bad

def test_screenshots(pages):
    shots = ['home.png', math_page().replace('.html', '.png')]
    shots += [page_of(nb).replace('.html', '.png') for nb in FIGURE_PAGES if (NBS/f'{nb}.ipynb').exists()]
    for name in shots:
        f = OUT/name
        assert f.exists() and f.stat().st_size > 10_000, f'no screenshot {f}'
        w, h = int.from_bytes(f.read_bytes()[16:20], 'big'), int.from_bytes(f.read_bytes()[20:24], 'big')
        assert w == 1280 and h >= 900, f'{f} is {w}x{h}'
