"""The README's code, run as a reader would copy it: the Python snippets under "Use AMA in your model" and "Train",
made small by a few declared substitutions (each must still match, so that a README edit cannot slip past)."""
import re, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

def snippet(heading:str) -> str:
    "The first ```python block under the README's `## heading`."
    text = (ROOT / 'README.md').read_text()
    section = text[text.index(f'## {heading}\n'):]
    section = section[:section.find('\n## ', 4) if '\n## ' in section[4:] else len(section)]
    return re.search(r'```python\n(.*?)```', section, re.S)[1]

def run(code:str, subs:dict, tmp_path, check:str=''):
    for old, new in subs.items():
        assert old in code, f"the README snippet no longer contains {old!r}: update this test's substitutions"
        code = code.replace(old, new)
    r = subprocess.run([sys.executable, '-c', code + '\n' + check], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return r.stdout

def test_use_ama_in_your_model(tmp_path):
    "The loop trains: α has moved off 1 to exp(-β · the last epoch's accuracy), and the loss is finite."
    out = run(snippet('Use AMA in your model'), {'range(100)': 'range(3)'}, tmp_path,
              "import math\nassert 0.5 < ama.alpha < 1 and math.isfinite(loss.item())\n"
              "acc = (model(data.x_test).argmax(1) == data.y_test).float().mean().item()\nassert acc > 0.5, acc\nprint('alpha', float(ama.alpha), 'acc', acc)")
    assert 'alpha' in out

def test_train(tmp_path):
    "The Train snippet, on the digits instead of CIFAR-100 and for two epochs: it writes its run folder and reports its results."
    out = run(snippet('Train'), {"load_dataset('cifar100', imb=100)": "load_dataset('digits', imb=100)", 'epochs=400': 'epochs=2',
                                 'warmup_epochs=10': 'warmup_epochs=1', 'milestones=(360, 380)': 'milestones=(1,)'}, tmp_path,
              "r = learn.results\nassert 0 <= r['test_acc'] <= 1 and len(r['per_class_acc']) == 10 and r['epochs_run'] == 2\nprint(sorted(r))")
    assert (tmp_path / 'runs' / 'ama-cifar100-lt' / 'metrics.json').is_file() and 'alignment' in out
