"""Nothing lost, nothing silently wrong: each way we found to damage a run folder, to pass a parameter of the wrong
type or to delete more than our own files, reproduced, and now refused with one sentence."""
import json, math, socket, subprocess, sys, time, zipfile
from pathlib import Path
import pytest, torch
from ama.core import DamagedRunError, DiskFullError, ParameterError, RunLockedError
from ama.data import load_dataset
from ama.experiment import Experiment, RunSpec
from ama.learner import TrainConfig, fit

def _spec(**kw): return RunSpec('toy', 'toy_mlp', TrainConfig(epochs=1, clip_grad=1.0, **kw))

@pytest.fixture
def finished(tmp_path):
    "An experiment folder with one finished toy run."
    exp = Experiment(tmp_path / 'exp', dict(a=1), log=lambda s: None, device='cpu')
    spec = _spec(); exp.run_one(spec)
    return tmp_path / 'exp', spec

def _again(out, spec):
    return Experiment(out, dict(a=1), log=lambda s: None, device='cpu').run_one(spec)

def _flip_weight_byte(p:Path):
    "Flip one bit inside the stored model weights (the zip's CRC no longer matches)."
    with zipfile.ZipFile(p) as z:
        info = max((i for i in z.infolist() if '/data/' in i.filename), key=lambda i: i.file_size)
    b = bytearray(p.read_bytes())
    h = info.header_offset                         # the local header says how long its name and extra field are
    off = h + 30 + int.from_bytes(b[h + 26:h + 28], 'little') + int.from_bytes(b[h + 28:h + 30], 'little')
    b[off + 5] ^= 0x10; p.write_bytes(bytes(b))

DAMAGE = {   # what each damage did before: the raw exception
    'truncated checkpoint (was OSError: [Errno 22])': ('checkpoint.pt', lambda p: p.write_bytes(p.read_bytes()[:len(p.read_bytes()) // 2])),
    'empty checkpoint (was EOFError)': ('checkpoint.pt', lambda p: p.write_bytes(b'')),
    'garbage checkpoint (was UnpicklingError)': ('checkpoint.pt', lambda p: p.write_bytes(b'\x80\x04garbage' * 10)),
    'flipped weight (loaded silently)': ('checkpoint.pt', _flip_weight_byte),
    'missing checkpoint (was FileNotFoundError)': ('checkpoint.pt', lambda p: p.unlink()),
    'broken metrics.json (was JSONDecodeError)': ('metrics.json', lambda p: p.write_text(p.read_text()[:20])),
    'metrics.json without test_acc (was KeyError)': ('metrics.json', lambda p: p.write_text(json.dumps({'x': 1}))),
    'broken config.json (was JSONDecodeError)': ('config.json', lambda p: p.write_text('{"method": ')),
}

@pytest.mark.parametrize('what', list(DAMAGE))
def test_damaged_run_folder_is_named_in_one_sentence(finished, what):
    out, spec = finished
    fname, damage = DAMAGE[what]
    d = out / 'runs' / spec.name
    damage(d / fname)
    before = sorted(p.name for p in d.iterdir())
    with pytest.raises(DamagedRunError) as e:
        _again(out, spec)
    msg = str(e.value)
    assert f"'{d / fname}' is damaged (" in msg and f"delete the folder '{d}' to start it again, or pass overwrite=True" in msg
    assert '\n' not in msg
    assert sorted(p.name for p in d.iterdir()) == before                 # nothing deleted for the user

def test_nan_weights_in_a_checkpoint_are_refused(tmp_path):
    fit(load_dataset('toy'), 'toy_mlp', TrainConfig(epochs=2, clip_grad=1.0), run_dir=tmp_path / 'r', device='cpu')
    sd = torch.load(tmp_path / 'r' / 'checkpoint.pt', weights_only=False)
    sd['model']['fc.weight'][0, 0] = math.nan; (tmp_path / 'r' / 'metrics.json').unlink(); sd['epoch'] = 1
    torch.save(sd, tmp_path / 'r' / 'checkpoint.pt')
    with pytest.raises(DamagedRunError, match="holds NaN or infinite weights"):
        fit(load_dataset('toy'), 'toy_mlp', TrainConfig(epochs=2, clip_grad=1.0), run_dir=tmp_path / 'r', device='cpu')

@pytest.mark.parametrize('kw, message', [
    (dict(method='ama', options=dict(cr='False')), "cr='False' is not valid: expected True or False"),
    (dict(method='ama', options=dict(am='no')), "am='no' is not valid"),
    (dict(method='ama', options=dict(alpha_per_step='True')), "alpha_per_step='True' is not valid"),
    (dict(compile='False'), "compile='False' is not valid"),
    (dict(lr=True), "lr=True is not valid"), (dict(momentum=True), "momentum=True is not valid"),
    (dict(method='ama', options=dict(beta=True)), "beta=True is not valid"),
    (dict(momentum=1.5), "momentum=1.5 is not valid"), (dict(gamma=0), "gamma=0 is not valid"),
    (dict(method='supcon', options=dict(temperature=math.inf)), "temperature=inf is not valid"),
    (dict(milestones=(50, 50)), "milestones=(50, 50) is not valid"),
    (dict(method='supcon', options=dict(proj_dim=0)), "proj_dim=0 is not valid"),
    (dict(method='supcon', linear_lr=-1), "linear_lr=-1 is not valid"),
    (dict(method='supcon', linear_lr=0), "linear_lr=0 is not valid"),
])
def test_bad_config_is_refused_before_training(kw, message):
    with pytest.raises(ParameterError, match=None) as e: TrainConfig(**kw)
    assert message in str(e.value) and '\n' not in str(e.value)

@pytest.mark.parametrize('imb', [1000, math.inf])
def test_long_tail_that_empties_a_class_is_refused(imb):
    with pytest.raises(ParameterError) as e: load_dataset('digits', imb=imb)
    assert f"imb={imb!r} is not valid" in str(e.value)
    if imb == 1000: assert "at most 130" in str(e.value) and "without a training image" in str(e.value)
    assert load_dataset('digits', imb=130).class_counts().min() >= 1

def test_overwrite_deletes_only_our_files(tmp_path, finished):
    out, spec = finished
    (out / 'runs' / spec.name / 'my-notes.txt').write_text('keep'); (out / 'paper.png').write_text('keep')
    (out / 'runs' / 'other').mkdir(); (out / 'runs' / 'other' / 'x').write_text('keep')
    Experiment(out, dict(a=1), overwrite=True, log=lambda s: None)
    left = sorted(str(p.relative_to(out)) for p in out.rglob('*') if p.is_file())
    assert left == sorted(['paper.png', 'params.json', f'runs/{spec.name}/my-notes.txt', 'runs/other/x'])
    with pytest.raises(ParameterError, match="overwrite='false' is not valid"):
        Experiment(out, dict(a=1), overwrite='false')

def test_disk_full_names_the_file(tmp_path):
    mnt = tmp_path / 'small'; mnt.mkdir()
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=48k', 'tmpfs', str(mnt)], capture_output=True)
    if r.returncode: pytest.skip(f"cannot mount a small tmpfs here ({r.stderr.decode().strip()[:80]})")
    try:
        with pytest.raises(DiskFullError) as e:
            fit(load_dataset('toy'), 'toy_mlp', TrainConfig(epochs=1, clip_grad=1.0), run_dir=mnt / 'run', device='cpu')
        assert "no space left on the device while writing" in str(e.value) and str(mnt / 'run') in str(e.value)
        assert not list((mnt / 'run').glob('*.tmp'))
    finally: subprocess.run(['umount', '-l', str(mnt)])            # lazily: pytest removes the folder afterwards

HOLD = """
import sys, time
from ama.core import RunFolder
f = RunFolder(sys.argv[1]); f.claim({'x': 1}); print('claimed', flush=True); time.sleep(60)
"""

def test_second_process_on_a_run_is_refused_and_a_dead_ones_lock_is_taken_over(tmp_path):
    run = tmp_path / 'run'
    p = subprocess.Popen([sys.executable, '-c', HOLD, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == 'claimed'
        with pytest.raises(RunLockedError, match=f"is in use by process {p.pid} on"):
            fit(load_dataset('toy'), 'toy_mlp', TrainConfig(epochs=1, clip_grad=1.0), run_dir=run, device='cpu')
    finally: p.kill(); p.wait()
    (run / 'config.json').unlink()
    learn = fit(load_dataset('toy'), 'toy_mlp', TrainConfig(epochs=1, clip_grad=1.0), run_dir=run, device='cpu')
    assert learn.results['epochs_run'] == 1 and not (run / '.lock').exists()

CONTEND = """
import json, os, socket, sys, time
from ama.core import RunFolder, RunLockedError
f, t0 = RunFolder(sys.argv[1]), float(sys.argv[2])
while time.time() < t0: pass                      # all contenders start at the same moment
try: f.lock(); got = True
except RunLockedError: got = False
held = got and all(f._holder() == dict(pid=os.getpid(), host=socket.gethostname()) and not time.sleep(0.05) for _ in range(6))
if got: f.release()
print(json.dumps(dict(got=got, held=held)))
"""

def test_eight_processes_at_once_one_takes_the_lock(tmp_path):
    "Eight processes start at the same moment on one run folder, empty or holding a dead process's lock: exactly one takes it, and holds it."
    for r in range(8):
        d = tmp_path / f'run{r}'; d.mkdir()
        if r % 2: (d / '.lock').write_text(json.dumps(dict(pid=2**22 + 12345, host=socket.gethostname())))   # dead
        t0 = time.time() + 3
        ps = [subprocess.Popen([sys.executable, '-c', CONTEND, str(d), str(t0)], stdout=subprocess.PIPE, text=True) for _ in range(8)]
        res = [json.loads(p.communicate(timeout=60)[0]) for p in ps]
        assert sum(x['got'] for x in res) == 1, (r, res)
        assert [x['held'] for x in res if x['got']] == [True], (r, res)
        assert not (d / '.lock').exists() and not list(d.glob('.lock.*.tmp'))

WRITE = """
import sys, time
from ama.core import write_json
path, t0, me = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
while time.time() < t0: pass
for i in range(200): write_json(path, dict(writer=me, i=i))
"""

def test_processes_writing_one_file_at_once_never_fail(tmp_path):
    "Workers sharing an experiment folder all write its params.json: each writes its own temporary file, so no write fails and the file is always whole (with one shared temporary name, 'params.json.tmp' vanished under a second writer)."
    t0 = time.time() + 3
    ps = [subprocess.Popen([sys.executable, '-c', WRITE, str(tmp_path / 'params.json'), str(t0), str(k)], stderr=subprocess.PIPE, text=True) for k in range(6)]
    errs = [p.communicate(timeout=60)[1] for p in ps]
    assert all(p.returncode == 0 for p in ps), [e[-500:] for e in errs if e]
    assert json.loads((tmp_path / 'params.json').read_text())['i'] == 199 and not list(tmp_path.glob('*.tmp'))
