"""The recipes of the "Use AMA in your model" page (nbs/04b_use.ipynb), run as a reader copies them: each recipe cell
(marked `# recipe: NAME` on its first line) after the page's data cell, in a fresh interpreter, with the real library
(torchvision, timm, PyTorch Lightning, the Hugging Face Trainer). Each trains for a few epochs on small data; the
checks: α moved off 1 by Eq. 6, the loss fell, and the Lightning run resumed from its checkpoint with the α it had."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / 'nbs' / '04b_use.ipynb'

def recipes() -> dict:
    "The page's recipe cells by name."
    cells = json.loads(PAGE.read_text())['cells']
    out = {}
    for c in cells:
        src = ''.join(c['source'])
        if c['cell_type'] == 'code' and src.startswith('# recipe: '): out[src.split('\n', 1)[0][len('# recipe: '):].strip()] = src
    return out

def run(name:str, check:str, tmp_path) -> dict:
    "The data cell, then recipe `name`, then `check`, in a fresh interpreter; the `history` it leaves, as JSON."
    r = recipes()
    assert name in r and 'data' in r, f"nbs/04b_use.ipynb has no cell marked '# recipe: {name}' (or '# recipe: data'): found {sorted(r)}"
    code = '\n'.join([r['data'], r[name], check, "import json; print('HISTORY', json.dumps(history))"])
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONWARNINGS='ignore')
    p = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]
    return json.loads(p.stdout.rsplit('HISTORY ', 1)[1])

# In every recipe's history: one row per epoch, its mean training loss and the α it ended with.
MOVED_AND_FELL = ("assert len(history) == 3 and all(0.5 < h['alpha'] < 1 for h in history), history\n"
                  "assert history[-1]['alpha'] < history[0]['alpha'] and history[-1]['loss'] < 0.9 * history[0]['loss'], history")

def test_plain_loop_with_a_torchvision_resnet(tmp_path):
    h = run('torchvision', MOVED_AND_FELL + "\nassert type(model).__module__.startswith('torchvision')", tmp_path)
    for row in h: assert row['alpha'] == pytest.approx(2.718281828459045 ** (-0.67 * row['train_acc']), rel=1e-12)   # Eq. 6

def test_timm_model_through_forward_head_and_get_classifier(tmp_path):
    run('timm', MOVED_AND_FELL + "\nassert type(model).__module__.startswith('timm') and feats.shape == (len(y), model.num_features)", tmp_path)

def test_lightning_resumes_with_the_alpha_it_saved(tmp_path):
    "Two epochs, a checkpoint, and a fresh module resumed from it: the third epoch starts with the saved α (not 1), and α moves on."
    h = run('lightning', "assert history[2]['alpha_at_start'] == saved < 1 and resumed.ama.alpha.item() != saved\n"
                         "assert [r['alpha_at_start'] for r in history][:2] == [1.0, history[1]['alpha_at_start']] and history[1]['alpha_at_start'] < 1\n"
                         "assert history[2]['loss'] < 0.9 * history[0]['loss']\n"
                         "import torch; assert torch.load(ckpt, weights_only=False)['state_dict']['ama.alpha'].item() == saved", tmp_path)
    assert h[2]['alpha_at_start'] < h[1]['alpha_at_start'] < 1

def test_hugging_face_trainer_with_compute_loss_func_and_a_callback(tmp_path):
    run('huggingface', MOVED_AND_FELL + "\nassert type(model).__name__ == 'ViTForImageClassification'", tmp_path)
