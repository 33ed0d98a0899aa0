"""Every experiment notebook (a notebook with a cell tagged `parameters`) runs through papermill with tiny
parameters, and writes the artifacts it promises; bad parameters stop it before training, in one sentence."""
import json, struct
from pathlib import Path
import nbformat, pytest
import papermill as pm

NBS = Path(__file__).resolve().parent.parent / 'nbs'

def experiment_notebooks():
    return sorted(p for p in NBS.glob('*.ipynb')
                  if any('parameters' in c.metadata.get('tags', []) for c in nbformat.read(p, 4).cells))

# Tiny parameters per experiment notebook: small enough for CI, large enough to exercise every method and two seeds.
TINY = {
    '10_toy': dict(seeds='0,1', methods='orig,supcon,ama', epochs=2, supcon_epochs=2, betas='0.3'),
}
# What each notebook must write into its out_dir.
ARTIFACTS = {
    '10_toy': ['figure2a.png', 'figure2b.png', 'beta_sweep.png', 'results.json'],
}

def run(nb:Path, tmp:Path, **params):
    return pm.execute_notebook(str(nb), str(tmp / f'{nb.stem}-out.ipynb'), parameters=params, kernel_name='python3',
                               cwd=str(tmp), progress_bar=False, execution_timeout=600)

def outputs_text(nb) -> str:
    out = []
    for c in nb.cells:
        for o in c.get('outputs', []):
            out.append(o.get('text', '') if 'text' in o else ''.join(o.get('data', {}).get('text/markdown', '')))
    return '\n'.join(out)

def test_every_experiment_notebook_has_tiny_parameters():
    names = [p.stem for p in experiment_notebooks()]
    assert '10_toy' in names
    missing = [n for n in names if n not in TINY]
    assert not missing, f"experiment notebooks without tiny test parameters in tests/test_notebooks.py: {missing}"

@pytest.mark.parametrize('name', sorted(TINY))
def test_notebook_runs_and_writes_artifacts(name, tmp_path):
    out = tmp_path / 'out'
    nb = run(NBS / f'{name}.ipynb', tmp_path, out_dir=str(out), **TINY[name])
    for a in ARTIFACTS[name]: assert (out / a).is_file() and (out / a).stat().st_size > 0, a
    for png in out.glob('*.png'):
        head = png.read_bytes()[:24]
        assert head[:8] == b'\x89PNG\r\n\x1a\n'
        w, h = struct.unpack('>II', head[16:24]); assert w > 300 and h > 200, (png.name, w, h)
    res = json.loads((out / 'results.json').read_text())
    p = TINY[name]
    seeds = [int(s) for s in p['seeds'].split(',')]; methods = p['methods'].split(',')
    assert res['params']['seeds'] == seeds and res['params']['methods'] == methods
    names = methods + [f'ama-beta{b}' for b in p.get('betas', '').split(',') if b]
    assert sorted((r['method'], r['seed']) for r in res['runs']) == sorted((m, s) for m in names for s in seeds)
    for m in methods:
        acc = [r['test_acc'] for r in res['runs'] if r['method'] == m]
        s = res['summary'][m]['test_acc']
        assert s['n'] == len(seeds) and s['mean'] == pytest.approx(sum(acc) / len(acc))
        assert s['std'] == pytest.approx((sum((a - s['mean']) ** 2 for a in acc) / (len(acc) - 1)) ** 0.5)
    env = res['environment']
    assert env['device'] == 'cpu' and env['packages']['torch'] and env['date'][:2] == '20'
    assert sorted(res['figures']) == sorted(a for a in ARTIFACTS[name] if a.endswith('.png'))
    if name == '10_toy':
        text = outputs_text(nb)
        # the closing prose states each claim from the numbers it printed
        c = res['claims']
        assert f"it is {c['supcon_over_ama_d_max']:.1f}× here" in text
        assert ("**AMA has the largest D_relative** (the paper: \"AMA shows the best D_relative\"): " + ('held' if c['ama_best_d_relative'] else 'did not hold')) in text
        for m in methods: assert f"{100 * res['summary'][m]['per_class_acc.3']['mean']:.1f}" in text
        assert set(c['beta_sweep']) == {'0.67', '0.3'} and '**β sensitivity**' in text
    # running it again into the same folder is refused: it holds a finished run
    with pytest.raises(pm.PapermillExecutionError, match="already holds a finished experiment"):
        run(NBS / f'{name}.ipynb', tmp_path, out_dir=str(out), **TINY[name])

@pytest.mark.parametrize('params, message', [
    (dict(methods='orig,amma'), "methods='orig,amma' is not valid: expected names from orig, ama"),
    (dict(epochs=-1), "epochs=-1 is not valid: expected an integer >= 1"),
    (dict(seeds='0,x'), "seeds='0,x' is not valid"),
    (dict(betas='0.3,-1'), "betas='0.3,-1' is not valid: expected a list of numbers >= 0.0"),
])
def test_bad_parameter_stops_before_training(params, message, tmp_path):
    out = tmp_path / 'out'
    with pytest.raises(pm.PapermillExecutionError) as e:
        run(NBS / '10_toy.ipynb', tmp_path, out_dir=str(out), **{**TINY['10_toy'], **params})
    assert message in str(e.value)
    assert not (out / 'runs').exists()          # nothing trained
