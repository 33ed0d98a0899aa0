"""Several seeds at once: N runs one after another, N processes side by side, or N runs stacked in one process.

    python bench/seeds.py [--model resnet32] [--method ama] [--seeds 3] [--batch-size 256] [--device auto] [--out seeds.json]

Each arm trains the same N runs (seeds 0..N-1 of one method, `--model` on synthetic data of the real image size)
for whole epochs of `--steps` steps (the synthetic training set holds exactly `--steps` batches), through the
learner's own loop, so that each epoch includes what a real one does (the epoch's one read from the device, the
method's per-epoch update of α):

- **one after another**: each run's `Learner.one_epoch()` in turn, in this process;
- **stacked**: the first run's `Learner.one_epoch()` with the others in lockstep (`ama.together.Lockstep`: the N runs'
  weights stacked, one `torch.func.vmap` step for all),
  in this process; these two arms take turns, round by round, so that both see the same machine state;
- **processes**: N processes started together (each with 1/N of this process's CPU threads), each training its
  run for the same rounds after its own warm-up; the wall time from the moment all of them start to the last one's end.

Training images per second counts all N runs. Each arm's time is its mean round (`--stat mean`, the default: the
processes arm has one time over all its rounds, so the in-process arms are counted the same way; the JSON has
every round).
On a GPU, times come from CUDA events for the in-process arms. Prints a table, with each arm against one after
another, and with `--out` writes it as JSON.
"""
import argparse, datetime, json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path
import torch

p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
p.add_argument('--model', default='resnet32')
p.add_argument('--method', default='ama')
p.add_argument('--seeds', type=int, default=3, help='N: runs trained at once')
p.add_argument('--batch-size', type=int, default=None, help='default: 64 on the CPU, 256 on a GPU')
p.add_argument('--steps', type=int, default=None, help='steps per epoch, i.e. per timed round (default: 2 on the CPU, 48 on a GPU)')
p.add_argument('--rounds', type=int, default=3)
p.add_argument('--warmup', type=int, default=1, help='untimed epochs first')
p.add_argument('--arms', nargs='+', default=['sequential', 'stacked', 'processes'], choices=['sequential', 'stacked', 'processes'])
p.add_argument('--compile', nargs='?', const=True, default=False, help='TrainConfig(compile=...) in every arm: alone True, or a torch.compile mode such as reduce-overhead')
p.add_argument('--stat', default='mean', choices=['mean', 'min', 'median'],
               help="which of the in-process arms' rounds counts; the processes arm has one time, over all its rounds, so only 'mean' compares like with like (default)")
p.add_argument('--device', default='auto')
p.add_argument('--threads', type=int, default=None, help='torch threads of this process (the processes share them)')
p.add_argument('--out', default=None)
p.add_argument('--child', default=None, help=argparse.SUPPRESS)        # internal: seed,folder
a = p.parse_args()

from ama.experiment import cpu_model
from timing import Clock              # bench/timing.py
from ama.data import DataSplits, toy_dataset
from ama.learner import Learner, TrainConfig
from ama.together import Lockstep

dev = torch.device(('cuda' if torch.cuda.is_available() else 'cpu') if a.device == 'auto' else a.device)
cuda = dev.type == 'cuda'
if a.threads: torch.set_num_threads(a.threads)
B, steps = a.batch_size or (256 if cuda else 64), a.steps or (48 if cuda else 2)

def data():
    "Synthetic data of the model's kind with exactly `steps` training batches (and a token test set: evaluation is not timed)."
    g = torch.Generator().manual_seed(0)
    n = steps * B
    if a.model == 'toy_mlp':
        t = toy_dataset()
        return DataSplits('synthetic-toy', t.x_train[torch.randint(0, len(t.x_train), (n,), generator=g)],
                          t.y_train[torch.randint(0, len(t.y_train), (n,), generator=g)], t.x_test[:B], t.y_test[:B], t.classes)
    img = lambda k: torch.randint(0, 256, (k, 3, 32, 32), dtype=torch.uint8, generator=g)
    return DataSplits('synthetic-cifar10', img(n), torch.randint(0, 10, (n,), generator=g), img(B), torch.randint(0, 10, (B,), generator=g),
                      [str(c) for c in range(10)], mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616))

def learner(d, seed):
    cfg = TrainConfig(method=a.method, epochs=10**6, eval_every=10**6, batch_size=B, lr=0.01, seed=seed, compile=a.compile,
                      **({'clip_grad': 1.0} if a.model == 'toy_mlp' else {}))
    return Learner(d, a.model, cfg, device=dev, progress=False)

if a.child:                                     # one run of the 'processes' arm: build, warm up, say so, wait for the common start
    seed, tmp = a.child.split(',', 1)
    l = learner(data(), int(seed))
    for _ in range(a.warmup): l.one_epoch()
    if cuda: torch.cuda.synchronize()
    Path(tmp, f'{seed}.ready').touch()
    while not Path(tmp, 'go').exists(): time.sleep(0.001)
    start = float(Path(tmp, 'go').read_text())
    while time.time() < start: pass
    t0 = time.time()
    for _ in range(a.rounds): l.one_epoch()
    if cuda: torch.cuda.synchronize()
    Path(tmp, f'{seed}.json').write_text(json.dumps(dict(start=t0, end=time.time())))
    sys.exit(0)

d, N = data(), a.seeds
imgs = N * steps * B                            # training images of one round, all runs together
rounds, clock, t_start = {}, Clock(cuda), time.perf_counter()
header = (f"{a.model}, {a.method}, {N} seeds, batch {B}, {steps} steps per round, {a.rounds} rounds after {a.warmup} warm-up; "
          f"device {dev} ({torch.cuda.get_device_name(dev) if cuda else cpu_model()}, "
          f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs), torch {torch.__version__}; {datetime.date.today()}")
print(header, flush=True)
inproc = [x for x in ('sequential', 'stacked') if x in a.arms]
if inproc:
    seq = [learner(d, s) for s in range(N)]
    tog = [learner(d, s) for s in range(N)]
    lock = Lockstep(tog, compile=a.compile).attach()
    arm = dict(sequential=lambda: [l.one_epoch() for l in seq], stacked=lambda: tog[0].one_epoch())
    for _ in range(a.warmup):
        for k in inproc: arm[k]()
    for r in range(a.rounds):
        for k in inproc:
            clock.start(); arm[k](); rounds.setdefault(k, []).append(clock.stop())
    lock.detach(); del seq, tog, lock
if 'processes' in a.arms:
    with tempfile.TemporaryDirectory() as tmp:
        threads = max(1, torch.get_num_threads() // N)
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        ps = [subprocess.Popen([sys.executable, __file__, *sys.argv[1:], '--threads', str(threads), '--device', str(dev),
                                '--child', f'{s},{tmp}'], env=env) for s in range(N)]
        while not all(Path(tmp, f'{s}.ready').exists() for s in range(N)):      # every process built and warmed up
            if any(p.poll() for p in ps): sys.exit("a process of the 'processes' arm failed (its error is above)")
            time.sleep(0.01)
        Path(tmp, 'go.tmp').write_text(str(time.time() + 0.5)); os.replace(Path(tmp, 'go.tmp'), Path(tmp, 'go'))   # whole, at once
        if any(p.wait() for p in ps): sys.exit("a process of the 'processes' arm failed (its error is above)")
        res = [json.loads(Path(tmp, f'{s}.json').read_text()) for s in range(N)]
        wall = max(r['end'] for r in res) - min(r['start'] for r in res)
        rounds['processes'] = [wall / a.rounds]     # one measurement: the rounds' mean

pick = dict(mean=statistics.fmean, min=min, median=statistics.median)[a.stat]
rows = [dict(arm=k, images_per_s=imgs / pick(ts), round_s=pick(ts), rounds_s=ts) for k, ts in rounds.items()]
base = next((r for r in rows if r['arm'] == 'sequential'), None)
for r in rows: r['over_sequential'] = r['images_per_s'] / base['images_per_s'] if base else None
names = dict(sequential='one after another', stacked='stacked (one process, vmap)', processes=f'{N} processes side by side')
print('\n| arm | images/s (all seeds) | round (s) | × one after another |\n|---|---|---|---|')
for r in rows:
    x = '–' if r['over_sequential'] is None else f"{r['over_sequential']:.2f}"
    print(f"| {names[r['arm']]} | {r['images_per_s']:.0f} | {r['round_s']:.3f} | {x} |")
print(f"\n(a round: {steps} steps of each of the {N} runs, {imgs} training images; benchmark wall time {time.perf_counter() - t_start:.0f} s)")
if a.out:
    res = dict(command=' '.join(['python', 'bench/seeds.py', *sys.argv[1:]]), date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
               device=str(dev), device_name=torch.cuda.get_device_name(dev) if cuda else f"CPU {cpu_model()}",
               cpus=os.cpu_count(), threads=torch.get_num_threads(), torch=torch.__version__, model=a.model, method=a.method, seeds=N,
               batch_size=B, steps=steps, rounds=a.rounds, warmup=a.warmup, compile=a.compile, stat=a.stat, rows=rows,
               wall_s=time.perf_counter() - t_start)
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(f"wrote {a.out}")
