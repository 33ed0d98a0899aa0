"""Wall time of whole CIFAR-10-LT training runs with the §4.3 recipe, evaluation included, on synthetic data of the real size.

    python bench/full_run.py [--method ama] [--epochs 400] [--seeds 1] [--stack] [--compile] [--device auto] [--out full-run.json]

The §4.3 recipe (`ama.recipes.recipe('4.3', 'cifar10', 'resnet32')`: ResNet-32, batch 256, SGD, 400 epochs, warm-up
and multistep decay) on random uint8 images with CIFAR-10-LT's class counts at imbalance 100 (12,406 training images)
and a balanced 10,000-image test set, evaluated every epoch as the experiment notebooks do, with the final metrics
(alignment, uniformity, margins). The pixels do not change the time of a step, so this times a real run without the
data set; the accuracies it prints mean nothing. With `--seeds N` it trains N seeds: one after another, or with
`--stack` together in one process (`ama.together.fit_together`). It prints the wall time of each run (and of all),
the mean epoch time, and with `--out` writes them as JSON. `--epochs`, `--n-train` and `--n-test` shrink it for a test.
"""
import argparse, dataclasses, datetime, json, os, sys, time
from pathlib import Path
import torch

p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
p.add_argument('--method', default='ama')
p.add_argument('--epochs', type=int, default=None, help="default: the recipe's 400 (a smaller number scales the schedule)")
p.add_argument('--seeds', type=int, default=1)
p.add_argument('--stack', action='store_true', help='train the seeds together in one process (fit_together)')
p.add_argument('--compile', nargs='?', const=True, default=False, help='TrainConfig(compile=...): alone True, or a torch.compile mode such as reduce-overhead (CUDA graphs)')
p.add_argument('--eval-every', type=int, default=1)
p.add_argument('--n-train', type=int, default=None, help='training images (default: CIFAR-10-LT at imbalance 100, 12,406)')
p.add_argument('--n-test', type=int, default=10000)
p.add_argument('--batch-size', type=int, default=None, help="default: the recipe's 256")
p.add_argument('--device', default='auto')
p.add_argument('--time-limit', type=float, default=None, help='stop after this many seconds and project the whole run from the epochs done')
p.add_argument('--out', default=None)
a = p.parse_args()

from ama.experiment import cpu_model
from ama.data import DataSplits, long_tail_counts
from ama.learner import Callback, CancelFit, Learner
from ama.recipes import recipe
from ama.together import fit_together

dev = torch.device(('cuda' if torch.cuda.is_available() else 'cpu') if a.device == 'auto' else a.device)
cuda = dev.type == 'cuda'
if a.stack and a.seeds < 2: sys.exit(f"--stack trains several seeds together; got --seeds {a.seeds}: use --seeds 2 or more.")
g = torch.Generator().manual_seed(0)
counts = long_tail_counts(5000, 10, 100)
if a.n_train: counts = [max(1, round(c * a.n_train / sum(counts))) for c in counts]
y_train = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
img = lambda n: torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
data = DataSplits('synthetic-cifar10-lt', img(len(y_train)), y_train, img(a.n_test), torch.arange(a.n_test) % 10,
                  [str(c) for c in range(10)], mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616))
r = recipe('4.3', 'cifar10', 'resnet32')
cfgs = [dataclasses.replace(r.config(a.method, seed, epochs=a.epochs, batch_size=a.batch_size), eval_every=a.eval_every, compile=a.compile)
        for seed in range(a.seeds)]        # replace() checks the values again
c0 = cfgs[0]
print(f"resnet32, {a.method}, §4.3 recipe: {c0.epochs} epochs, batch {c0.batch_size}, lr {c0.lr}, {c0.schedule} {c0.milestones}, "
      f"warm-up {c0.warmup_epochs}; {len(y_train)} training images ({len(y_train) // c0.batch_size} steps/epoch), test set {a.n_test} "
      f"every {a.eval_every} epoch(s); {a.seeds} seed(s){' together' if a.stack else ''}; device {dev} "
      f"({torch.cuda.get_device_name(dev) if cuda else cpu_model()}), torch {torch.__version__}; "
      f"{datetime.date.today()}", flush=True)

def wall(f):
    if cuda: torch.cuda.synchronize()
    t = time.perf_counter(); f()
    if cuda: torch.cuda.synchronize()
    return time.perf_counter() - t

class Deadline(Callback):
    "Stop the run (all of them, stacked) once `--time-limit` seconds have passed since it began."
    order = 100
    def before_fit(self, learn): self.t0 = time.perf_counter()
    def after_epoch(self, learn):
        if time.perf_counter() - self.t0 > a.time_limit: raise CancelFit()

deadline = [Deadline()] if a.time_limit else []
learners = [Learner(data, 'resnet32', c, device=dev, cbs=deadline) for c in cfgs]
if a.stack: walls = [wall(lambda: fit_together(learners))] * a.seeds
else: walls = [wall(l.fit) for l in learners]
total = walls[0] if a.stack else sum(walls)
planned = sum(s.epochs for s in learners[0].stages)
rows = []
for l, w in zip(learners, walls):
    done = l.epoch == planned
    mean = sum(h['time'] for h in l.history) / max(1, len(l.history))
    rows.append(dict(seed=l.cfg.seed, wall_s=w, epochs=l.epoch, planned_epochs=planned, finished=done, mean_epoch_s=mean,
                     projected_run_s=w if done else w / max(1, l.epoch) * planned, test_acc=l.results['test_acc'] if done else None))
for x in rows:
    print(f"seed {x['seed']}: {x['epochs']} of {planned} epochs, {x['mean_epoch_s']:.3f} s per epoch (evaluation included), "
          + (f"run {x['wall_s']:.1f} s" if x['finished'] else f"stopped at the time limit after {x['wall_s']:.1f} s; the whole run projected: {x['projected_run_s']:.1f} s"))
print(f"all {a.seeds} run(s): {total:.1f} s{' (trained together)' if a.stack else ''}; {total / a.seeds:.1f} s per run"
      + ('' if all(x['finished'] for x in rows) else ' (stopped at the time limit)'))
if a.out:
    res = dict(command=' '.join(['python', 'bench/full_run.py', *sys.argv[1:]]), date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
               device=str(dev), device_name=torch.cuda.get_device_name(dev) if cuda else f"CPU {cpu_model()}",
               cpus=os.cpu_count(), threads=torch.get_num_threads(), torch=torch.__version__, method=a.method, config=c0.to_dict(),
               n_train=len(y_train), n_test=a.n_test, seeds=a.seeds, stack=a.stack, time_limit=a.time_limit, rows=rows, total_s=total,
               finished=all(x['finished'] for x in rows))
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(f"wrote {a.out}")
