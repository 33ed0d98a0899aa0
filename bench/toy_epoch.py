"""Time one training epoch of `orig` and of `ama` on the §3.3 toy task, side by side, and print the ratio.

    python bench/toy_epoch.py [--epochs 5] [--device cpu]

Epochs of the two methods alternate (orig, ama, orig, ama, ...) so that both see the same machine state; the
first epoch of each is a warm-up and is not counted. Prints the median epoch time of each and ama / orig.
"""
import argparse, platform, statistics, time
import torch
from ama.data import toy_dataset
from ama.learner import Learner, TrainConfig

p = argparse.ArgumentParser()
p.add_argument('--epochs', type=int, default=5)
p.add_argument('--device', default='cpu')
p.add_argument('--threads', type=int, default=None)
a = p.parse_args()
if a.threads: torch.set_num_threads(a.threads)

toy = toy_dataset()
learners = {m: Learner(toy, 'toy_mlp', TrainConfig(method=m, epochs=a.epochs + 1, clip_grad=1.0), device=a.device, progress=False)
            for m in ('orig', 'ama')}
times = {m: [] for m in learners}
for e in range(a.epochs + 1):
    for m, l in learners.items():
        l.epoch_in_stage = e
        if a.device == 'cuda': torch.cuda.synchronize()
        t0 = time.perf_counter()
        l._train_epoch(l.stages[0])
        if a.device == 'cuda': torch.cuda.synchronize()
        if e: times[m].append(time.perf_counter() - t0)
med = {m: statistics.median(t) for m, t in times.items()}
print(f"toy task, batch 16, {len(toy.x_train) // 16} steps/epoch, {a.epochs} timed epochs each, device {a.device} "
      f"({platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads)")
for m in med: print(f"  {m:5s} median epoch {med[m] * 1000:7.1f} ms   (all: {', '.join(f'{t * 1000:.0f}' for t in times[m])})")
print(f"  ama / orig = {med['ama'] / med['orig']:.2f}")
