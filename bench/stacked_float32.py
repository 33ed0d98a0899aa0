"""Seeds trained together (stacked, one vmapped step) against the same seeds trained one by one, in float32, at the toy
task's §3.3 settings (100 epochs, batch 16, lr 0.1, clipping 1.0): the test accuracy of each and their largest weight
difference. In float64 the two agree to rounding (nbs/08e_together.ipynb checks it); in float32 the batched matrix
products sum in another order, and how far that carries depends on how chaotic a method's training is.

Usage: python bench/stacked_float32.py [--out bench/stacked-float32-toy.json] [--methods orig,ama] [--seeds 0,1,2]
"""
import argparse, json, platform, datetime, torch
from ama.data import toy_dataset
from ama.learner import TrainConfig, fit, Learner
from ama.together import fit_together
from ama.experiment import cpu_model

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--out', default=None); p.add_argument('--methods', default='orig,ama'); p.add_argument('--seeds', default='0,1,2')
p.add_argument('--epochs', type=int, default=100)
a = p.parse_args()
torch.set_num_threads(1)
d, seeds = toy_dataset(), [int(s) for s in a.seeds.split(',')]
w = lambda l: torch.cat([v.detach().double().flatten() for v in l.model.state_dict().values()])
rows = {}
for m in a.methods.split(','):
    cfg = lambda s: TrainConfig(method=m, seed=s, epochs=a.epochs, batch_size=16, lr=0.1, clip_grad=1.0, eval_every=a.epochs)
    alone = [fit(d, 'toy_mlp', cfg(s), device='cpu', progress=False) for s in seeds]
    together = [Learner(d, 'toy_mlp', cfg(s), device='cpu', progress=False) for s in seeds]
    fit_together(together)
    for s, x, t in zip(seeds, alone, together):
        rows[f'{m}-seed{s}'] = dict(separate=x.results['test_acc'], stacked=t.results['test_acc'], max_weight_diff=(w(x) - w(t)).abs().max().item())
        print(f"{m:6s} seed {s}: test accuracy separate {x.results['test_acc']:.4f}, stacked {t.results['test_acc']:.4f}; "
              f"largest weight difference {rows[f'{m}-seed{s}']['max_weight_diff']:.3g}", flush=True)
if a.out:
    json.dump(dict(command='python bench/stacked_float32.py ' + ' '.join(f'--{k} {v}' for k, v in vars(a).items() if k != 'out' and v is not None),
                   machine=f"{cpu_model()}, 1 thread", torch=torch.__version__, python=platform.python_version(),
                   date=datetime.date.today().isoformat(), dtype='float32', runs=rows), open(a.out, 'w'), indent=1)
