"""Train `orig` and `ama` on the §3.3 toy task with the paper's settings and print test accuracy over seeds.

    python tools/toy_accuracy.py [--seeds 0 1 2] [--epochs 100] [--methods orig ama] [--set key=value ...]

Settings: SGD lr 0.1, momentum 0.9, weight decay 5e-4, batch 16, 100 epochs (§3.3), plus the two additions the
toy network needs to train at all (see nbs/07_models and nbs/08_learner): batch norm in `toy_mlp` and clip_grad=1.0.
Prints, per method, the mean ± std of the test accuracy, the tail class's accuracy and D_relative.
"""
import argparse, statistics
from ama.data import toy_dataset
from ama.learner import Learner, TrainConfig

p = argparse.ArgumentParser()
p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
p.add_argument('--epochs', type=int, default=100)
p.add_argument('--methods', nargs='+', default=['orig', 'ama'])
p.add_argument('--set', nargs='*', default=[], help='extra TrainConfig fields, e.g. beta=0.3')
a = p.parse_args()
extra = {k: eval(v) for k, v in (s.split('=', 1) for s in a.set)}
toy = toy_dataset()
fmt = lambda xs: f"{statistics.mean(xs):.3f} ± {statistics.stdev(xs) if len(xs) > 1 else 0:.3f}"
for m in a.methods:
    res = []
    for seed in a.seeds:
        cfg = TrainConfig(method=m, epochs=a.epochs, batch_size=16, lr=0.1, momentum=0.9, weight_decay=5e-4,
                          clip_grad=1.0, seed=seed, eval_every=a.epochs, proj_dim=None, **extra)
        res.append(Learner(toy, 'toy_mlp', cfg, device='cpu', progress=False).fit())
    acc = [r['test_acc'] for r in res]
    print(f"{m:8s} {extra or ''} test acc {fmt(acc)}  per seed {[round(x, 3) for x in acc]}  "
          f"tail-class acc {fmt([r['per_class_acc'][3] for r in res])}  D_relative {fmt([r['d_relative'] for r in res])}", flush=True)
