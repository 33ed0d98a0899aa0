"""Every experiment notebook (a notebook with a cell tagged `parameters`) runs through papermill with the tiny
parameters it declares itself (its cell tagged `tiny`), and writes the artifacts it declares; the cheap defaults that
users take (device, download, workers, stack_seeds) are left alone. Run as users type it: the papermill command line
with a few `-p`, and with none at all in a folder without data; bad parameters stop it before training, in one
sentence. No notebook has a branch of its own here."""
import json, math, os, re, struct, subprocess, sys
from pathlib import Path
import nbformat, pytest
import papermill as pm

NBS = Path(__file__).resolve().parent.parent / 'nbs'

def experiment_notebooks():
    return sorted(p for p in NBS.glob('*.ipynb')
                  if any('parameters' in c.metadata.get('tags', []) for c in nbformat.read(p, 4).cells))

def declared(nb_path:Path) -> dict:
    """What the notebook's `tiny` cell declares: `_tiny` (papermill parameters), `_artifacts`, `_tiny_runs`, and
    optionally `_fake_data` (data sets to write in their real format into a data_root first) and `_inputs` (experiment
    notebooks whose tiny runs it reads, passed as its `results` parameter)."""
    cells = [c for c in nbformat.read(nb_path, 4).cells if 'tiny' in c.metadata.get('tags', [])]
    assert len(cells) == 1, f"{nb_path.name} needs exactly one cell tagged 'tiny' declaring _tiny, _artifacts and _tiny_runs"
    ns = {}
    exec(cells[0].source, ns)
    return dict(params=ns['_tiny'], artifacts=ns['_artifacts'], runs=ns['_tiny_runs'], fake_data=ns.get('_fake_data', []),
                inputs=ns.get('_inputs', []))

def parameter_names(nb_path:Path) -> set:
    "The names the notebook's `parameters` cell assigns."
    cell = next(c for c in nbformat.read(nb_path, 4).cells if 'parameters' in c.metadata.get('tags', []))
    return {l.split('=')[0].strip() for l in cell.source.splitlines() if '=' in l and not l.startswith('#')}

def parameter_defaults(nb_path:Path) -> dict:
    "The values the notebook's `parameters` cell assigns (its defaults: the paper's settings)."
    cell = next(c for c in nbformat.read(nb_path, 4).cells if 'parameters' in c.metadata.get('tags', []))
    ns = {}; exec(cell.source, ns)
    return ns

def prepare(name:str, tmp:Path, done:dict) -> dict:
    "The tiny parameters of `name`, with its fake data written and its input notebooks run (once per test session)."
    decl = declared(NBS / f'{name}.ipynb')
    params = dict(decl['params'])
    if decl['fake_data']:
        from ama.data import write_fake_cifar, write_fake_tiny_imagenet
        for d in decl['fake_data']:            # in the real on-disk formats: CIFAR's pickles, Tiny-ImageNet's JPEG folders
            if d == 'tinyimagenet': write_fake_tiny_imagenet(tmp / 'data', per_class=8, n_val=6)
            else: write_fake_cifar(tmp / 'data', d, n_train=200, n_test=100)
        params['data_root'] = str(tmp / 'data')
    if decl['inputs']:
        outs = []
        for inp in decl['inputs']:
            if inp not in done:
                t = tmp / f'input-{inp}'; t.mkdir()
                run(NBS / f'{inp}.ipynb', t, out_dir=str(t / 'out'), **prepare(inp, t, done))
                done[inp] = t / 'out'
            outs.append(str(done[inp]))
        params['results'] = ','.join(outs)
    return params
def run(nb:Path, tmp:Path, **params):
    return pm.execute_notebook(str(nb), str(tmp / f'{nb.stem}-out.ipynb'), parameters=params, kernel_name='python3',
                               cwd=str(tmp), progress_bar=False, execution_timeout=600)

def outputs_text(nb) -> str:
    out = []
    for c in nb.cells:
        for o in c.get('outputs', []):
            out.append(o.get('text', '') if 'text' in o else ''.join(o.get('data', {}).get('text/markdown', '')))
    return '\n'.join(out)

def summaries(obj):
    "Every mean/std summary inside `obj` (dicts with mean, std, n and values)."
    if isinstance(obj, dict):
        if {'mean', 'std', 'n', 'values'} <= set(obj): yield obj
        else:
            for v in obj.values(): yield from summaries(v)

NAMES = [p.stem for p in experiment_notebooks()]
_INPUTS = {}     # tiny runs of notebooks that others read, made once per session

@pytest.fixture(scope='session')
def session_tmp(tmp_path_factory): return tmp_path_factory.mktemp('inputs')

def test_there_are_experiment_notebooks():
    assert {'10_toy', '15_readings', '20_motivation', '30_coarse2fine', '40_longtail', '50_classic', '60_ablation', '70_mixup', '80_results'} <= set(NAMES)

@pytest.mark.parametrize('name', NAMES)
def test_notebook_runs_and_writes_artifacts(name, tmp_path, session_tmp):
    nb_path, decl = NBS / f'{name}.ipynb', declared(NBS / f'{name}.ipynb')
    params = prepare(name, tmp_path if not decl['inputs'] else session_tmp, _INPUTS)
    out = tmp_path / 'out'
    nb = run(nb_path, tmp_path, out_dir=str(out), **params)
    _INPUTS.setdefault(name, out)                # a notebook that reads this one's results reuses this run
    for a in decl['artifacts']: assert (out / a).is_file() and (out / a).stat().st_size > 0, a
    for png in out.glob('*.png'):
        head = png.read_bytes()[:24]
        assert head[:8] == b'\x89PNG\r\n\x1a\n'
        w, h = struct.unpack('>II', head[16:24]); assert w > 300 and h > 200, (png.name, w, h)
    text = outputs_text(nb)
    if 'results.json' in decl['artifacts']:
        res = json.loads((out / 'results.json').read_text())
        assert len(res['runs']) == decl['runs'] and len({r['run'] for r in res['runs']}) == decl['runs']
        for r in res['runs']:                        # every record carries its spec's fields and its numbers
            assert {'dataset', 'model', 'method', 'seed', 'epochs', 'test_acc'} <= set(r) and (out / 'runs' / r['run'] / 'metrics.json').is_file()
        all_values = [v for r in res['runs'] for v in r.values() if isinstance(v, float)] + \
                     [v for r in res['runs'] for vs in r.values() if isinstance(vs, list) for v in vs if isinstance(v, float)]
        sums = list(summaries(res['summary']))
        assert sums, "results.json has no mean ± std summary"
        for s in sums:                               # mean and std recomputed from the values, which are the runs' own
            v = s['values']; assert s['n'] == len(v)
            if v:
                assert s['mean'] == pytest.approx(sum(v) / len(v))
                assert s['std'] == pytest.approx(0.0 if len(v) == 1 else math.sqrt(sum((x - s['mean']) ** 2 for x in v) / (len(v) - 1)))
                assert all(x in all_values for x in v)
        env = res['environment']
        assert env['device'] in ('cpu', 'cuda') and env['device_name'] and env['packages']['torch'] and env['date'][:2] == '20'
        assert sorted(res['figures']) == sorted(a for a in decl['artifacts'] if a.endswith('.png'))
        for line in res.get('claims_text', []): assert line in text       # the prose shown is the prose recorded
        for md in (a for a in decl['artifacts'] if a.endswith('.md')):      # the tables written are the tables shown
            for row in (out / md).read_text().splitlines():
                if row.startswith('| ') and '±' in row: assert row in text, row
        if 'dataset' in res['params']:           # a stand-in says so above its tables
            assert ('stand-in run' in text) == (not res.get('full_length', True))
    # running it again into the same folder is refused: it holds a finished run; overwrite must be a real boolean
    with pytest.raises(pm.PapermillExecutionError, match="already holds a finished"):
        run(nb_path, tmp_path, out_dir=str(out), **params)
    before = sorted(p.relative_to(out) for p in out.rglob('*'))
    for bad in ('false', 'no'):
        with pytest.raises(pm.PapermillExecutionError, match=f"overwrite='{bad}' is not valid: expected True or False"):
            run(nb_path, tmp_path, out_dir=str(out), **{**params, 'overwrite': bad})
    assert sorted(p.relative_to(out) for p in out.rglob('*')) == before     # nothing deleted

BAD = [('methods', 'orig,amma', "methods='orig,amma' is not valid: expected names from orig,"),
       ('epochs', -1, "epochs=-1 is not valid: expected an integer >= 1"),
       ('seeds', '0,x', "seeds='0,x' is not valid"),
       ('imb', '0.5', "imb='0.5' is not valid"),
       ('dataset', 'imagenet', "dataset='imagenet' is not valid"),
       ('lr', 'fast', "lr='fast' is not valid: expected a finite number > 0"),
       ('device', 'gpu', "device='gpu' is not valid"),
       ('stack_seeds', 'yes', "stack_seeds='yes' is not valid: expected True or False"),
       ('workers', 0, "workers=0 is not valid: expected an integer >= 1")]

def notebook_section(nb_path:Path) -> str:
    "The section key a notebook hands to `ama.sections.setup`."
    src = '\n'.join(c.source for c in nbformat.read(nb_path, 4).cells if c.cell_type == 'code')
    return re.search(r"setup\('([^']+)'", src)[1]

SETUP_NOTEBOOKS = [n for n in NAMES if 'setup(' in ''.join(c.source for c in nbformat.read(NBS / f'{n}.ipynb', 4).cells)]

@pytest.mark.parametrize('name', SETUP_NOTEBOOKS)
def test_bad_parameters_stop_in_setup_with_one_sentence(name, tmp_path):
    "Each bad value, handed to the notebook's own set-up call with its other defaults, is one sentence; nothing is claimed."
    from ama.core import ParameterError
    from ama.sections import setup
    defaults = {k: v for k, v in parameter_defaults(NBS / f'{name}.ipynb').items() if not k.startswith('__')}
    for param, value, message in BAD:
        if param not in defaults: continue
        out = tmp_path / param
        kw = {**defaults, param: value, 'out_dir': str(out)}
        if 'data_root' in defaults: kw.update(data_root=str(tmp_path / 'nodata'), download=False)
        with pytest.raises(ParameterError) as e: setup(notebook_section(NBS / f'{name}.ipynb'), log=lambda m: None, **kw)
        assert message in str(e.value) and str(e.value).count('\n') == 0, (param, str(e.value))
        assert not out.exists()                  # nothing claimed, nothing trained

NO_NETWORK = dict(http_proxy='http://127.0.0.1:9', https_proxy='http://127.0.0.1:9', HTTP_PROXY='http://127.0.0.1:9',
                  HTTPS_PROXY='http://127.0.0.1:9', no_proxy='', NO_PROXY='')      # a download fails at once, as without a network

def papermill_cli(nb:Path, cwd:Path, *args):
    "Run `papermill NB out.ipynb ARGS` as a user types it, in `cwd`, without a network."
    exe = Path(sys.executable).parent / 'papermill'
    return subprocess.run([str(exe), str(nb), 'out.ipynb', *args, '--no-progress-bar'], cwd=cwd, capture_output=True, text=True,
                          timeout=900, env={**os.environ, **NO_NETWORK})

@pytest.mark.parametrize('name', [n for n in NAMES if 'data_root' in parameter_names(NBS / f'{n}.ipynb')])
def test_no_parameters_in_a_folder_without_data_stops_before_training(name, tmp_path):
    "papermill with no -p at all (the paper's settings, as Run All uses them), no data and no network: one sentence naming the data set, nothing trained."
    r = papermill_cli(NBS / f'{name}.ipynb', tmp_path)
    assert r.returncode != 0
    msg = r.stdout + r.stderr
    assert 'DataNotFoundError' in msg and re.search(r'(CIFAR-10|CIFAR-100|Tiny-ImageNet) was not found in .data.', msg), msg[-2000:]
    assert 'expected' in msg and 'could not be downloaded' in msg
    defaults = parameter_defaults(NBS / f'{name}.ipynb')
    assert not (tmp_path / defaults['out_dir']).exists()                 # nothing claimed, nothing trained

@pytest.mark.parametrize('name, sizes, args', [
    ('40_longtail', dict(cifar10=1200), ['-p', 'imb', '100', '-p', 'epochs', '2']),      # 120 a class: imbalance 100 and batch 256 fit
    ('30_coarse2fine', dict(cifar10=128), ['-p', 'epochs', '1'])])                        # batch 128 fits: one step an epoch
def test_papermill_command_line_as_users_type_it(name, sizes, args, tmp_path):
    """The headline command, through papermill's command line, on CIFAR files in the real format, with only -p imb,
    dataset, epochs, seeds and methods (no device, no milestones, no warm-up): it trains, the schedule fits the short
    run, and results.json names the device it resolved. One data set, so that CI stays short; both data sets, the
    defaults, run the same code (and the paper's networks: ResNet50 for 30)."""
    from ama.data import write_fake_cifar
    for d, n in sizes.items(): write_fake_cifar(tmp_path / 'data', d, n_train=n, n_test=50)
    args = [*args, '-p', 'dataset', 'cifar10', '-p', 'seeds', '0', '-p', 'methods', 'orig,ama']
    r = papermill_cli(NBS / f'{name}.ipynb', tmp_path, *args)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    out = tmp_path / parameter_defaults(NBS / f'{name}.ipynb')['out_dir']
    res = json.loads((out / 'results.json').read_text())
    env = res['environment']
    assert env['device'] == ('cuda' if __import__('torch').cuda.is_available() else 'cpu') and env['device_name']
    assert {r['method'] for r in res['runs']} == {'orig', 'ama'} and all(r['seed'] == 0 for r in res['runs'])
    text = outputs_text(nbformat.read(tmp_path / 'out.ipynb', 4))
    assert 'Plan: ' in text and 'First epoch: ' in text and 'done around' in text      # the plan, and the projected finish

def test_results_page_puts_ours_beside_the_papers(tmp_path, session_tmp):
    "80_results, on the tiny runs of the experiment notebooks: Tables 4 and 6 carry every number the paper gives, ours beside them with Δ/σ, each of our cells marked as not full-length."
    from ama.paper import PAPER_TABLE4, PAPER_TABLE6
    params = prepare('80_results', session_tmp, _INPUTS)
    out = tmp_path / 'out'
    nb = run(NBS / '80_results.ipynb', tmp_path, out_dir=str(out), **params)
    text, md = outputs_text(nb), (out / 'results.md').read_text()
    t4 = md[md.index('Table 4 (§4.4)'):md.index('Table 5 (§4.5)')]
    t6 = md[md.index('Table 6, coarse'):md.index('Table 7, long')]
    for table, paper in ((t4, [v for ds in PAPER_TABLE4.values() for v in ds.values()]),
                         (t6, [v for ds in PAPER_TABLE6.values() for v in ds.values()])):
        for mean, std in paper: assert f"| {mean:.2f} ± {std:.2f} |" in table, (mean, std)
        ours = [l.split(' | ') for l in table.splitlines() if l.startswith('| ') and '‡' in l]
        assert ours, "no cell of ours in the table"
        for cells in ours:                        # a cell of ours, then the paper's, then Δ/σ, per column
            for k in range(1, len(cells) - 1, 3):
                if cells[k] != '–' and cells[k + 1] != '–':
                    assert cells[k].endswith('‡') and cells[k + 2].strip(' |').lstrip('+-').replace('.', '').isdigit()
        for row in (l for l in table.splitlines() if l.startswith('| ')): assert row in text      # shown as written
    assert "VGG11, Orig." in t4 and "AMA + Mixup" in t6 and 'stand-in run' in t4
    for png in ('table4.png', 'table6.png'): assert (out / png).stat().st_size > 10_000
