"""Time one training epoch of `orig` and of `ama` on the §3.3 toy task, side by side, and print the ratio.

    python bench/toy_epoch.py [--epochs 9] [--device cpu] [--modes eager compile]

For each mode (eager, and `TrainConfig(compile=True)`), epochs of the two methods alternate (orig, ama, orig,
ama, ...) so that both see the same machine state. The first two epochs of each are warm-up (compilation, for the
compiled mode) and are not counted. Each timed epoch is the learner's public `one_epoch()`: the steps, the epoch's
one read from the device and α by Eq. 6, as in a real run (evaluation is set to the end of the run, which is not timed).
Prints the median epoch time of each method and ama / orig per mode.
"""
import argparse, datetime, statistics, time
import torch
from ama.experiment import cpu_model
from ama.data import toy_dataset
from ama.learner import Learner, TrainConfig

p = argparse.ArgumentParser()
p.add_argument('--epochs', type=int, default=9, help='timed epochs per method and mode')
p.add_argument('--device', default='cpu')
p.add_argument('--threads', type=int, default=None)
p.add_argument('--modes', nargs='+', default=['eager', 'compile'], choices=['eager', 'compile'])
a = p.parse_args()
if a.threads: torch.set_num_threads(a.threads)

def sync():
    if a.device.startswith('cuda'): torch.cuda.synchronize()

toy = toy_dataset()
warm = 2
print(f"toy task, batch 16, {len(toy.x_train) // 16} steps/epoch, {a.epochs} timed epochs per method and mode, "
      f"device {a.device} ({torch.cuda.get_device_name() if a.device.startswith('cuda') else cpu_model()}), "
      f"torch {torch.__version__}, {torch.get_num_threads()} threads, {datetime.date.today()}")
for mode in a.modes:
    learners = {m: Learner(toy, 'toy_mlp', TrainConfig(method=m, epochs=a.epochs + warm + 1, eval_every=10**6, clip_grad=1.0, compile=mode == 'compile'),
                           device=a.device, progress=False) for m in ('orig', 'ama')}
    times = {m: [] for m in learners}
    try:
        for e in range(a.epochs + warm):
            for m, l in learners.items():
                sync(); t0 = time.perf_counter()
                l.one_epoch()
                sync(); dt = time.perf_counter() - t0
                if e >= warm: times[m].append(dt)
    except Exception as ex:                                       # e.g. no C++ compiler for torch.compile on the CPU
        print(f"  {mode}: could not run ({type(ex).__name__}: {str(ex).splitlines()[0][:200]})"); continue
    med = {m: statistics.median(t) for m, t in times.items()}
    for m in med: print(f"  {mode:7s} {m:5s} median epoch {med[m] * 1000:7.1f} ms   (all: {', '.join(f'{t * 1000:.0f}' for t in times[m])})")
    print(f"  {mode:7s} ama / orig = {med['ama'] / med['orig']:.2f}")
