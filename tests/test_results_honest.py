"""A results file never lies: it is complete, or plainly partial; a grid survives a bad run; and what a folder cannot
do (be written, hold a lock on a full disk, be read as a manifest) is one sentence. Each case is reproduced here as it
was found: two notebooks on one folder, a holder killed mid-run, a diverging learning rate, a read-only folder."""
import errno, json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path
from unittest import mock
import pytest
from ama.core import DamagedRunError, DiskFullError, FolderError, ParameterError, RunFolder
from ama.experiment import Experiment, RunSpec
from ama.learner import TrainConfig
from ama.tables import grid_table

ROOT = Path(__file__).resolve().parents[1]
def _spec(method='orig', seed=0, epochs=1, **kw): return RunSpec('toy', 'toy_mlp', TrainConfig(method=method, seed=seed, epochs=epochs, **{'clip_grad': 1.0, **kw}))
def _exp(out, **kw): return Experiment(out, dict(grid='toy'), log=kw.pop('log', lambda s: None), device='cpu', **kw)

GRID = """
import sys, json
from ama.experiment import Experiment, RunSpec
from ama.learner import TrainConfig
out, wait = sys.argv[1], (None if sys.argv[2] == 'none' else float(sys.argv[2]))
specs = [RunSpec('toy', 'toy_mlp', TrainConfig(method=m, seed=s, epochs=25, clip_grad=1.0, eval_every=25)) for m in ('orig', 'ama') for s in (0, 1, 2)]
exp = Experiment(out, dict(grid='toy'), log=lambda m: print(m, flush=True), device='cpu')
exp.poll = 0.2
exp.run(specs, wait=wait)
res = exp.finish(exp.summary(['test_acc']))
print('COMPLETE' if res['complete'] else 'PARTIAL', len(res['runs']), flush=True)
"""

def _start(out, wait='none'):
    return subprocess.Popen([sys.executable, '-c', GRID, str(out), wait], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, 'OMP_NUM_THREADS': '1'})

def _holding(out, pid, timeout=60):
    "Wait until process `pid` holds a run folder's lock; its name."
    t0 = time.time()
    while time.time() - t0 < timeout:
        for lock in (out / 'runs').glob('*/.lock') if (out / 'runs').is_dir() else []:
            try:
                if json.loads(lock.read_text()).get('pid') == pid: return lock.parent.name
            except (OSError, ValueError): pass
        time.sleep(0.05)
    raise AssertionError(f'process {pid} never held a run')

def _results(out):
    r = json.loads((out / 'results.json').read_text())
    return r, {x['run'] for x in r['runs']}

def test_two_processes_on_one_folder_both_end_with_every_run(tmp_path):
    "Two notebooks started on one out_dir: each trains about half, waits for the other's, and results.json holds all six runs."
    out = tmp_path / 'exp'
    a, b = _start(out), _start(out)
    outs = [p.communicate(timeout=600)[0] for p in (a, b)]
    assert a.returncode == 0 and b.returncode == 0, outs
    for o in outs: assert 'COMPLETE 6' in o, o
    res, runs = _results(out)
    assert res['complete'] and len(runs) == 6 and not (out / 'results.partial.json').exists()
    trained = sum(o.count('trained in') for o in outs)
    assert trained == 6, outs                                  # every run trained once, by one of them

def test_a_holder_killed_mid_run_is_taken_over_and_the_grid_completes(tmp_path):
    "A process holding a run is SIGKILLed: the other takes the run over (its lock's process is gone), resumes it, and writes every run."
    out = tmp_path / 'exp'
    a, b = _start(out), _start(out)
    held = _holding(out, b.pid)
    os.kill(b.pid, signal.SIGKILL); b.wait()
    o = a.communicate(timeout=600)[0]
    assert a.returncode == 0 and 'COMPLETE 6' in o, o
    res, runs = _results(out)
    assert held in runs and len(runs) == 6

def test_without_waiting_the_results_are_plainly_partial_and_a_rerun_completes_them(tmp_path):
    "A process that does not wait for a run another holds writes results.partial.json naming it, never results.json; a rerun completes it."
    out = tmp_path / 'exp'
    b = _start(out)
    held = _holding(out, b.pid)
    os.kill(b.pid, signal.SIGSTOP)                             # alive, holding its run, not moving
    try:
        a = _start(out, wait='0')
        o = a.communicate(timeout=600)[0]
        assert a.returncode == 0 and 'PARTIAL 5' in o, o
        assert not (out / 'results.json').exists()
        part = json.loads((out / 'results.partial.json').read_text())
        assert part['complete'] is False and part['missing'] == [held] and len(part['runs']) == 5
        assert 'results.json' in o and 'is not written, because 1 run did not finish here' in o
    finally: os.kill(b.pid, signal.SIGKILL); b.wait()
    o = _start(out).communicate(timeout=600)[0]                # the rerun: the dead holder's run is resumed and the grid is complete
    assert 'COMPLETE 6' in o, o
    assert len(_results(out)[1]) == 6 and not (out / 'results.partial.json').exists()

def test_a_diverging_run_is_recorded_and_the_grid_goes_on(tmp_path):
    "One spec with a learning rate that diverges: the specs after it train, it is recorded as failed (its folder, the results, the table), and the results say they are partial."
    specs = [_spec('orig', 0), _spec('orig', 0, lr=1e6, clip_grad=None), _spec('ama', 0), _spec('ama', 1)]
    exp = _exp(tmp_path / 'exp')
    recs = exp.run(specs)
    assert [r['run'] for r in recs] == [specs[0].name, specs[2].name, specs[3].name]
    bad = specs[1].name
    assert list(exp.failed) == [bad] and 'TrainingDiverged' in exp.failed[bad] and 'lower the learning rate' in exp.failed[bad]
    assert json.loads((tmp_path / 'exp' / 'runs' / bad / 'failed.json').read_text())['error'] == 'TrainingDiverged'
    res = exp.finish(exp.summary(['test_acc']))
    assert not res['complete'] and res['failed'] == [exp.failed[bad]] and not (tmp_path / 'exp' / 'results.json').exists()
    rows = grid_table(recs + [dict(specs[1].fields(), run=bad, failed=exp.failed[bad], test_acc=None)], 'test_acc', cols=('lr',))
    assert '✗' in rows.splitlines()[2] and '✗' not in rows.splitlines()[3], rows

def test_a_notebook_with_a_failed_run_ends_naming_it_and_exits_non_zero(tmp_path):
    "The toy notebook without gradient clipping at a learning rate that diverges: every run fails, and papermill exits non-zero with one sentence per run."
    exe = Path(sys.executable).parent / 'papermill'
    r = subprocess.run([str(exe), str(ROOT / 'nbs' / '10_toy.ipynb'), 'o.ipynb', '-p', 'seeds', '0', '-p', 'methods', 'orig', '-p', 'epochs', '2',
                        '-p', 'betas', '', '-p', 'batch_sizes', '', '-p', 'clip_grad', 'None', '-p', 'out_dir', 'out', '--no-progress-bar'],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    msg = r.stdout + r.stderr
    assert r.returncode != 0, "the notebook exited 0 although its one run cannot finish (it diverges without clipping): " + msg[-3000:]
    assert 'IncompleteExperiment' in msg and 'failed (TrainingDiverged)' in msg and 'run the same command again' in msg, msg[-3000:]
    assert not (tmp_path / 'out' / 'results.json').exists() and (tmp_path / 'out' / 'results.partial.json').exists()

def test_a_read_only_folder_is_one_sentence(tmp_path):
    def ro(*a, **k): raise OSError(errno.EROFS, 'Read-only file system')
    with mock.patch.object(RunFolder, '_create', ro), pytest.raises(FolderError) as e:
        _exp(tmp_path / 'exp').run([_spec()])
    assert "cannot be written (read-only file system, while taking its lock): choose a folder you can write to" in str(e.value)
    assert '\n' not in str(e.value)

def test_a_full_disk_at_the_lock_is_one_sentence(tmp_path):
    def full(*a, **k): raise OSError(errno.ENOSPC, 'No space left on device')
    with mock.patch.object(RunFolder, '_create', full), pytest.raises(DiskFullError) as e:
        _exp(tmp_path / 'exp').run([_spec()])
    assert "no space left on the device while taking its lock in" in str(e.value) and "free some space" in str(e.value)

@pytest.mark.parametrize('manifest', [dict(runs=5, figures=[]), dict(runs=['a', None], figures=[]), dict(runs=[], figures=['../x.png'])])
def test_a_malformed_manifest_is_one_sentence(tmp_path, manifest):
    _exp(tmp_path / 'exp')
    (tmp_path / 'exp' / 'manifest.json').write_text(json.dumps(manifest))
    with pytest.raises(DamagedRunError) as e: _exp(tmp_path / 'exp')
    assert "manifest.json' is damaged (" in str(e.value) and 'should be a list of file names' in str(e.value)

def test_workers_from_a_script_without_a_main_guard_are_one_sentence(tmp_path):
    "A script that starts workers without `if __name__ == '__main__':` is refused before any worker starts (each would rerun the script)."
    script = tmp_path / 'grid.py'
    script.write_text(textwrap.dedent("""
        from ama.experiment import Experiment, RunSpec
        from ama.learner import TrainConfig
        specs = [RunSpec('toy', 'toy_mlp', TrainConfig(seed=s, epochs=1, clip_grad=1.0)) for s in (0, 1)]
        Experiment('out', dict(a=1), device='cpu').run(specs, workers=2)
        """))
    t0 = time.time()
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and time.time() - t0 < 60
    assert "ParameterError: workers=2 starts worker processes, which import the script" in r.stderr and "if __name__ == '__main__':" in r.stderr, r.stderr[-2000:]
    assert 'BrokenProcessPool' not in r.stderr and not (tmp_path / 'out' / 'runs').exists()
    script.write_text(script.read_text().replace("Experiment('out'", "if __name__ == '__main__': Experiment('out'"))
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]

@pytest.mark.parametrize('other', [dict(seed=1), dict(method='orig')], ids=['another seed', 'another method'])
def test_a_checkpoint_from_another_run_is_refused_in_one_sentence_and_leaves_no_lock(tmp_path, other):
    "A checkpoint copied from another run's folder (another seed: it resumed silently; another method: KeyError 'sched') names both runs."
    import shutil
    from ama.data import load_dataset
    from ama.learner import fit
    toy = load_dataset('toy')
    cfg = dict(method='ama', epochs=2, clip_grad=1.0)
    fit(toy, 'toy_mlp', TrainConfig(**cfg), run_dir=tmp_path / 'a', device='cpu', stop_after=1)
    fit(toy, 'toy_mlp', TrainConfig(**{**cfg, **other}), run_dir=tmp_path / 'b', device='cpu', stop_after=1)
    shutil.copy(tmp_path / 'a' / 'checkpoint.pt', tmp_path / 'b' / 'checkpoint.pt')
    with pytest.raises(DamagedRunError) as e:
        fit(toy, 'toy_mlp', TrainConfig(**{**cfg, **other}), run_dir=tmp_path / 'b', device='cpu')
    msg = str(e.value)
    assert f"'{tmp_path / 'b' / 'checkpoint.pt'}' belongs to another run (" in msg and 'not to this one (' in msg and '\n' not in msg
    key = next(iter(other))
    assert f"{key}={cfg.get(key, 0)!r}" in msg and f"{key}={other[key]!r}" in msg
    assert not (tmp_path / 'b' / '.lock').exists()             # released on the error path

def test_a_seed_group_finished_elsewhere_since_the_look_falls_back_to_one_by_one(tmp_path):
    "A stacked group whose seed 0 another worker finished after this one looked (its claim meets a finished folder): the group is trained one by one, seed 0 loaded, nothing recorded as failed."
    said = []
    exp = _exp(tmp_path / 'exp', log=said.append)
    a, b = _spec(seed=0), _spec(seed=1)
    exp.run_one(a)                                     # the other worker's run, finished
    exp.records.clear(); said.clear()
    looked, done = set(), Experiment._done
    def first_look(self, s):                           # the group's look, made before that run finished; every later look sees it
        if s.name in looked: return done(self, s)
        looked.add(s.name); return False
    with mock.patch.object(Experiment, '_done', first_look):
        ls = exp.run_together([a, b])
    assert not exp.failed, exp.failed
    assert len(ls) == 2 and sorted(exp.records) == sorted([a.name, b.name])
    assert any(l.startswith(a.name) and 'loaded' in l for l in said), said
