"""Training throughput of the `ama` loop against the conventional pipeline, per method, and the time of one CIFAR-10-LT epoch.

    python bench/throughput.py [--model resnet32] [--batch-size 128] [--methods orig ama] [--device auto] [--out bench.json]

Both pipelines train the same model with the same method (the method's registered loss, the same SGD) on synthetic
CIFAR-sized data (uint8 images, 10 classes): the training set has the real CIFAR-10-LT size (12,406 images at
imbalance 100), the test set CIFAR-10's 10,000 images.

- **ours**: the learner's own loop (`Learner.batches()` and `one_batch()`): the data set held whole on the device,
  batches as slices of a device `randperm`, crop and flip batched on the device, no host read inside a step.
- **conventional**: as LDAM-DRW's repository (and most reference code) feeds CIFAR: `torch.utils.data.DataLoader`
  with `num_workers` workers (persistent, so worker start-up is not counted: this favours it), shuffling, and
  torchvision's per-image transforms on PIL images (`RandomCrop(32, padding=4)`, `RandomHorizontalFlip`, `ToTensor`,
  `Normalize`); each batch is copied to the device, and the loss is read with `.item()` every step, as their
  `AverageMeter` logging does.

After `--warmup` steps, `--rounds` rounds each time `--steps` steps of every (method, pipeline) in turn, so that all
see the same machine state; the fastest round counts (`--stat min`: on a shared or busy machine, interference only
adds time; `--stat median` is the alternative, and the JSON holds every round). Before each of its rounds, the conventional pipeline first takes
(untimed) the batches its workers prepared while the others were timed, so that each round pays for its own data. Time comes from the device's clock: `torch.cuda.Event` on a GPU,
`time.perf_counter` on the CPU. Evaluation (the test set's forward pass, in `--eval-batch-size` batches) is timed on
`--eval-batches` batches and scaled to the test set. The epoch time is the training steps of one epoch
(12,406 // batch size) at the measured rate plus the evaluation. It prints the table and, with `--out`, writes it
as JSON.
"""
import argparse, datetime, json, math, os, statistics, sys, time
import torch

p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
p.add_argument('--model', default='resnet32')
p.add_argument('--batch-size', type=int, default=None, help='default: 64 on the CPU, 256 on a GPU')
p.add_argument('--methods', nargs='+', default=['orig', 'ama'])
p.add_argument('--device', default='auto', help="'auto', 'cpu', 'cuda'")
p.add_argument('--steps', type=int, default=None, help='timed steps per round (default: 1 on the CPU, 50 on a GPU)')
p.add_argument('--rounds', type=int, default=None, help='default: 6 on the CPU, 3 on a GPU')
p.add_argument('--warmup', type=int, default=None, help='untimed steps first (default: 1 on the CPU, 20 on a GPU)')
p.add_argument('--epoch-size', type=int, default=12406, help='training images per epoch (CIFAR-10-LT, imbalance 100)')
p.add_argument('--test-size', type=int, default=10000)
p.add_argument('--stat', default='min', choices=['min', 'median'], help='which round counts: the fastest (default; interference only adds time) or the median')
p.add_argument('--eval-batch-size', type=int, default=None, help='default: 128 on the CPU, 1024 on a GPU')
p.add_argument('--eval-batches', type=int, default=None, help='evaluation batches timed, after one untimed (default: 1 on the CPU, 5 on a GPU)')
p.add_argument('--workers', type=int, default=2, help="the conventional DataLoader's num_workers")
p.add_argument('--threads', type=int, default=None, help='torch threads of the training process')
p.add_argument('--compile', nargs='?', const=True, default=False, help="TrainConfig(compile=...) for our loop: alone True, or a torch.compile mode such as reduce-overhead (CUDA graphs)")
p.add_argument('--no-conventional', action='store_true')
p.add_argument('--note', default='', help='a note recorded in the JSON (e.g. whether the machine was shared)')
p.add_argument('--out', default=None, help='write the table as JSON here')
a = p.parse_args()

from ama.experiment import cpu_model
from timing import Clock              # bench/timing.py
from ama.data import DataSplits
from ama.learner import Batch, Learner, TrainConfig, METHODS

dev = torch.device(('cuda' if torch.cuda.is_available() else 'cpu') if a.device == 'auto' else a.device)
cuda = dev.type == 'cuda'
if a.threads: torch.set_num_threads(a.threads)
B = a.batch_size or (256 if cuda else 64)
steps, warmup = a.steps or (50 if cuda else 1), (a.warmup if a.warmup is not None else (20 if cuda else 1))
a.rounds = a.rounds or (3 if cuda else 6)
a.eval_batch_size, a.eval_batches = a.eval_batch_size or (1024 if cuda else 128), a.eval_batches or (5 if cuda else 1)
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)

g = torch.Generator().manual_seed(0)
n_test = (a.eval_batches + 1) * a.eval_batch_size       # one untimed batch, then the timed ones
data = DataSplits('synthetic-cifar10-lt', torch.randint(0, 256, (a.epoch_size, 3, 32, 32), dtype=torch.uint8, generator=g),
                  torch.randint(0, 10, (a.epoch_size,), generator=g), torch.randint(0, 256, (n_test, 3, 32, 32), dtype=torch.uint8, generator=g),
                  torch.randint(0, 10, (n_test,), generator=g), [str(c) for c in range(10)], mean=MEAN, std=STD)

def learner(method):
    cfg = TrainConfig(method=method, batch_size=B, epochs=10**6, eval_every=10**6, lr=0.1, eval_batch_size=a.eval_batch_size, compile=a.compile)
    l = Learner(data, a.model, cfg, device=dev, progress=False)
    l.begin_epoch(); l.iter = 0
    return l

class Ours:
    "The learner's own loop: device-resident data, batched augmentation."
    name = 'ours'
    def __init__(self, method): self.l = learner(method); self.it = iter(())
    def step(self):
        l = self.l
        try: l.batch = next(self.it)
        except StopIteration: self.it = l.batches(); l.batch = next(self.it)
        l.one_batch()
    def eval_batches(self):
        for x, _ in self.l.test_dl: yield x

class Conventional:
    "DataLoader with worker processes and torchvision's per-image transforms on PIL images, as the reference repositories feed CIFAR."
    name = 'conventional'
    def __init__(self, method):
        import torchvision.transforms as T
        from torch.utils.data import DataLoader, Dataset
        from PIL import Image
        class CIFAR(Dataset):
            def __init__(self, x, y, tf): self.x, self.y, self.tf = x.permute(0, 2, 3, 1).numpy(), y.numpy(), tf   # HWC uint8, as torchvision's CIFAR10 holds it
            def __len__(self): return len(self.x)
            def __getitem__(self, i): return self.tf(Image.fromarray(self.x[i])), int(self.y[i])
        train_tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)])
        test_tf = T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])
        kw = dict(num_workers=a.workers, pin_memory=cuda, persistent_workers=a.workers > 0)
        self.dl = DataLoader(CIFAR(data.x_train, data.y_train, train_tf), batch_size=B, shuffle=True, drop_last=True, **kw)
        self.test = DataLoader(CIFAR(data.x_test, data.y_test, test_tf), batch_size=a.eval_batch_size, shuffle=False, **kw)
        self.l = learner(method); self.it = iter(())
    def next(self):
        try: return next(self.it)
        except StopIteration: self.it = iter(self.dl); return next(self.it)
    def drain(self):
        "Take the batches that the workers prepared while other pipelines were timed, so that a timed round pays for its own."
        for _ in range(2 * max(1, a.workers)): self.next()         # DataLoader's prefetch_factor (2) per worker
    def step(self):
        l = self.l
        x, y = self.next()
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        if l.policy.channels_last: x = x.contiguous(memory_format=torch.channels_last)
        l.batch = Batch(x, x, y)
        l.one_batch()
        l.loss.item()                                  # the per-step loss read of their AverageMeter logging
    def eval_batches(self):
        for x, _ in self.test:
            x = x.to(dev, non_blocking=True)
            yield x.contiguous(memory_format=torch.channels_last) if self.l.policy.channels_last else x

@torch.no_grad()
def eval_time(pipe) -> float:
    "Seconds to evaluate the whole test set, from `--eval-batches` timed batches."
    m, clock = pipe.l.model.eval(), Clock(cuda)
    xs = pipe.eval_batches()
    with pipe.l.autocast(): m.forward_head(m.forward_features(next(xs)))           # warm-up
    clock.start(); n = 0
    for x in xs:
        with pipe.l.autocast(): m.forward_head(m.forward_features(x))
        n += 1
    dt = clock.stop()
    pipe.l.model.train()
    return dt / max(1, n) * math.ceil(a.test_size / a.eval_batch_size) if n else float('nan')

methods = [m for m in a.methods if m in METHODS]
conv_ok = lambda m: not a.no_conventional and METHODS[m].trains_classifier and m != 'supcon'   # SupCon needs a second view of raw images
pipes = {(m, k.name): k(m) for m in methods for k in (Ours, Conventional) if k is Ours or conv_ok(m)}
print(f"{a.model}, batch {B}, {a.epoch_size} training images ({a.epoch_size // B} steps/epoch), test set {a.test_size}; "
      f"device {dev} ({torch.cuda.get_device_name(dev) if cuda else cpu_model()}, "
      f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs), torch {torch.__version__}; conventional DataLoader with "
      f"{a.workers} workers; {warmup} warm-up steps, {a.rounds} rounds of {steps} timed steps each, {'fastest' if a.stat == 'min' else 'median'} round; {datetime.date.today()}",
      flush=True)
t_start = time.perf_counter()
for pipe in pipes.values():
    for _ in range(warmup): pipe.step()
rounds = {k: [] for k in pipes}
clock = Clock(cuda)
for r in range(a.rounds):
    for k, pipe in pipes.items():
        if hasattr(pipe, 'drain'): pipe.drain()
        clock.start()
        for _ in range(steps): pipe.step()
        rounds[k].append(clock.stop() / steps)
evals = {k: eval_time(pipe) for k, pipe in pipes.items()}

steps_per_epoch = a.epoch_size // B
rows = []
for (m, kind), ts in rounds.items():
    step_s = min(ts) if a.stat == 'min' else statistics.median(ts)
    rows.append(dict(method=m, pipeline=kind, images_per_s=B / step_s, step_s=step_s, step_s_median=statistics.median(ts), rounds_step_s=ts,
                     epoch_train_s=steps_per_epoch * step_s, eval_s=evals[(m, kind)], epoch_s=steps_per_epoch * step_s + evals[(m, kind)]))
row = {(r['method'], r['pipeline']): r for r in rows}
ratios = {}
for m in methods:
    o, c, base = row[(m, 'ours')], row.get((m, 'conventional')), row.get(('orig', 'ours'))
    ratios[m] = dict(ours_over_conventional=o['images_per_s'] / c['images_per_s'] if c else None,           # > 1: ours is faster
                     over_orig=base['images_per_s'] / o['images_per_s'] if base else None,                  # time per image, method / orig (ours)
                     over_orig_conventional=(row[('orig', 'conventional')]['images_per_s'] / c['images_per_s']
                                             if c and ('orig', 'conventional') in row else None))

fmt = lambda v, f='{:.2f}': '–' if v is None else f.format(v)
print('\n| method | ours (img/s) | conventional (img/s) | ours / conventional | method / orig (ours) | method / orig (conv.) | epoch, ours (s) | epoch, conv. (s) |')
print('|---|---|---|---|---|---|---|---|')
for m in methods:
    o, c, r = row[(m, 'ours')], row.get((m, 'conventional')), ratios[m]
    print(f"| {m} | {o['images_per_s']:.0f} | {fmt(c and c['images_per_s'], '{:.0f}')} | {fmt(r['ours_over_conventional'])} | "
          f"{fmt(r['over_orig'])} | {fmt(r['over_orig_conventional'])} | {o['epoch_s']:.1f} | {fmt(c and c['epoch_s'], '{:.1f}')} |")
print(f"\n(method / orig: time per training image relative to cross-entropy; epoch: {steps_per_epoch} training steps + evaluation of "
      f"{a.test_size} images; benchmark wall time {time.perf_counter() - t_start:.0f} s)")

if a.out:
    res = dict(command=' '.join(['python', *sys.argv]), date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
               device=str(dev), device_name=torch.cuda.get_device_name(dev) if cuda else f"CPU {cpu_model()}",
               cpus=os.cpu_count(), threads=torch.get_num_threads(), torch=torch.__version__, model=a.model, batch_size=B,
               epoch_size=a.epoch_size, steps_per_epoch=steps_per_epoch, test_size=a.test_size, warmup=warmup, steps=steps,
               rounds=a.rounds, stat=a.stat, workers=a.workers, compile=a.compile, note=a.note, rows=rows, ratios=ratios,
               wall_s=time.perf_counter() - t_start)
    with open(a.out, 'w') as f: json.dump(res, f, indent=1)
    print(f"wrote {a.out}")
