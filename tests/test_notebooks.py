"""Every experiment notebook (a notebook with a cell tagged `parameters`) runs through papermill with the tiny
parameters it declares itself (its cell tagged `tiny`), and writes the artifacts it declares; bad parameters stop
it before training, in one sentence. No notebook has a branch of its own here."""
import json, math, struct
from pathlib import Path
import nbformat, pytest
import papermill as pm

NBS = Path(__file__).resolve().parent.parent / 'nbs'

def experiment_notebooks():
    return sorted(p for p in NBS.glob('*.ipynb')
                  if any('parameters' in c.metadata.get('tags', []) for c in nbformat.read(p, 4).cells))

def declared(nb_path:Path) -> dict:
    "What the notebook's `tiny` cell declares: `_tiny` (papermill parameters), `_artifacts`, `_tiny_runs`."
    cells = [c for c in nbformat.read(nb_path, 4).cells if 'tiny' in c.metadata.get('tags', [])]
    assert len(cells) == 1, f"{nb_path.name} needs exactly one cell tagged 'tiny' declaring _tiny, _artifacts and _tiny_runs"
    ns = {}
    exec(cells[0].source, ns)
    return dict(params=ns['_tiny'], artifacts=ns['_artifacts'], runs=ns['_tiny_runs'])

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

def test_there_are_experiment_notebooks():
    assert '10_toy' in NAMES

@pytest.mark.parametrize('name', NAMES)
def test_notebook_runs_and_writes_artifacts(name, tmp_path):
    nb_path, decl = NBS / f'{name}.ipynb', declared(NBS / f'{name}.ipynb')
    out = tmp_path / 'out'
    nb = run(nb_path, tmp_path, out_dir=str(out), **decl['params'])
    for a in decl['artifacts']: assert (out / a).is_file() and (out / a).stat().st_size > 0, a
    for png in out.glob('*.png'):
        head = png.read_bytes()[:24]
        assert head[:8] == b'\x89PNG\r\n\x1a\n'
        w, h = struct.unpack('>II', head[16:24]); assert w > 300 and h > 200, (png.name, w, h)
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
    assert env['device'] == 'cpu' and env['packages']['torch'] and env['date'][:2] == '20'
    assert sorted(res['figures']) == sorted(a for a in decl['artifacts'] if a.endswith('.png'))
    text = outputs_text(nb)
    for line in res.get('claims_text', []): assert line in text       # the prose shown is the prose recorded
    # running it again into the same folder is refused: it holds a finished run; overwrite must be a real boolean
    with pytest.raises(pm.PapermillExecutionError, match="already holds a finished experiment"):
        run(nb_path, tmp_path, out_dir=str(out), **decl['params'])
    before = sorted(p.relative_to(out) for p in out.rglob('*'))
    for bad in ('false', 'no'):
        with pytest.raises(pm.PapermillExecutionError, match=f"overwrite='{bad}' is not valid: expected True or False"):
            run(nb_path, tmp_path, out_dir=str(out), overwrite=bad, **decl['params'])
    assert sorted(p.relative_to(out) for p in out.rglob('*')) == before     # nothing deleted

@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('params, message', [
    (dict(methods='orig,amma'), "methods='orig,amma' is not valid: expected names from orig, ama"),
    (dict(epochs=-1), "epochs=-1 is not valid: expected an integer >= 1"),
    (dict(seeds='0,x'), "seeds='0,x' is not valid"),
])
def test_bad_parameter_stops_before_training(name, params, message, tmp_path):
    out = tmp_path / 'out'
    with pytest.raises(pm.PapermillExecutionError) as e:
        run(NBS / f'{name}.ipynb', tmp_path, out_dir=str(out), **{**declared(NBS / f'{name}.ipynb')['params'], **params})
    assert message in str(e.value)
    assert not (out / 'runs').exists()          # nothing trained
