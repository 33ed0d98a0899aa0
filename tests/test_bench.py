"""bench/throughput.py with tiny settings: it runs, prints its table, and writes JSON whose ratios come from its numbers."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent

def test_throughput_bench_tiny(tmp_path):
    out = tmp_path / 'bench.json'
    r = subprocess.run([sys.executable, str(ROOT / 'bench' / 'throughput.py'), '--batch-size', '8', '--steps', '1', '--rounds', '2',
                        '--warmup', '1', '--epoch-size', '64', '--test-size', '32', '--eval-batch-size', '16', '--workers', '1',
                        '--methods', 'orig', 'ama', '--out', str(out)],
                       env=dict(os.environ, OMP_NUM_THREADS='1'), capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    assert '| method | ours (img/s) | conventional (img/s) | ours / conventional | method / orig (ours) |' in r.stdout
    res = json.loads(out.read_text())
    for k in ('command', 'date', 'device', 'device_name', 'torch', 'model', 'batch_size', 'epoch_size', 'rows', 'ratios'):
        assert k in res, k
    assert res['model'] == 'resnet32' and res['batch_size'] == 8 and res['steps_per_epoch'] == 8
    rows = {(x['method'], x['pipeline']): x for x in res['rows']}
    assert set(rows) == {('orig', 'ours'), ('orig', 'conventional'), ('ama', 'ours'), ('ama', 'conventional')}
    for x in rows.values():
        assert len(x['rounds_step_s']) == 2 and x['step_s'] == min(x['rounds_step_s']) and x['images_per_s'] == pytest.approx(8 / x['step_s'])
        assert x['epoch_s'] == pytest.approx(8 * x['step_s'] + x['eval_s']) and x['eval_s'] > 0
    for m in ('orig', 'ama'):
        r_ = res['ratios'][m]
        assert r_['ours_over_conventional'] == pytest.approx(rows[(m, 'ours')]['images_per_s'] / rows[(m, 'conventional')]['images_per_s'])
        assert r_['over_orig'] == pytest.approx(rows[('orig', 'ours')]['images_per_s'] / rows[(m, 'ours')]['images_per_s'])
        assert r_['over_orig_conventional'] == pytest.approx(rows[('orig', 'conventional')]['images_per_s'] / rows[(m, 'conventional')]['images_per_s'])
    assert res['ratios']['orig']['over_orig'] == 1.0

def test_seeds_bench_tiny(tmp_path):
    "bench/seeds.py: three arms on the toy network, their images/s from their own round times, ratios to one after another."
    out = tmp_path / 'seeds.json'
    r = subprocess.run([sys.executable, str(ROOT / 'bench' / 'seeds.py'), '--model', 'toy_mlp', '--seeds', '2', '--batch-size', '16',
                        '--steps', '5', '--rounds', '2', '--out', str(out)], env=dict(os.environ, OMP_NUM_THREADS='1'),
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    assert '| arm | images/s (all seeds) | round (s) | × one after another |' in r.stdout and '2 processes side by side' in r.stdout
    res = json.loads(out.read_text())
    rows = {x['arm']: x for x in res['rows']}
    assert set(rows) == {'sequential', 'stacked', 'processes'} and res['seeds'] == 2 and res['steps'] == 5
    for x in rows.values():
        assert x['round_s'] == pytest.approx(sum(x['rounds_s']) / len(x['rounds_s'])) and x['round_s'] > 0   # the mean round
        assert x['images_per_s'] == pytest.approx(2 * 5 * 16 / x['round_s'])
        assert x['over_sequential'] == pytest.approx(x['images_per_s'] / rows['sequential']['images_per_s'])
    assert len(rows['sequential']['rounds_s']) == len(rows['stacked']['rounds_s']) == 2

def test_full_run_bench_tiny(tmp_path):
    "bench/full_run.py: the §4.3 recipe scaled down, two seeds trained together; every run's time and epochs recorded."
    out = tmp_path / 'full.json'
    r = subprocess.run([sys.executable, str(ROOT / 'bench' / 'full_run.py'), '--epochs', '2', '--n-train', '96', '--n-test', '32',
                        '--batch-size', '32', '--seeds', '2', '--stack', '--out', str(out)], env=dict(os.environ, OMP_NUM_THREADS='1'),
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res['config']['epochs'] == 2 and res['config']['batch_size'] == 32 and res['config']['schedule'] == 'multistep'
    assert [x['epochs'] for x in res['rows']] == [2, 2] and res['stack'] and res['total_s'] == res['rows'][0]['wall_s'] > 0
    assert 'all 2 run(s):' in r.stdout and '(trained together)' in r.stdout
    r = subprocess.run([sys.executable, str(ROOT / 'bench' / 'full_run.py'), '--epochs', '3', '--n-train', '96', '--n-test', '32',
                        '--batch-size', '32', '--time-limit', '0.01', '--out', str(out)], env=dict(os.environ, OMP_NUM_THREADS='1'),
                       capture_output=True, text=True, timeout=240)
    res = json.loads(out.read_text()); x = res['rows'][0]          # stopped at the time limit after one epoch: projected from it
    assert r.returncode == 0 and not res['finished'] and x['epochs'] == 1 and x['planned_epochs'] == 3 and x['test_acc'] is None
    assert x['projected_run_s'] == pytest.approx(3 * x['wall_s']) and 'stopped at the time limit' in r.stdout
    r = subprocess.run([sys.executable, str(ROOT / 'bench' / 'full_run.py'), '--seeds', '1', '--stack'], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and '--stack trains several seeds together; got --seeds 1' in r.stderr
