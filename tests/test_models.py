"""Models of other libraries, trained by our learner through timm's model interface: a timm model (as an object, and by
name) and a torchvision classifier (through `TorchvisionClassifier`), each with cross-entropy and with AMA, on a small
task any working network learns in three epochs; and the sentences for what cannot work."""
import sys
import pytest, torch
from ama.core import ParameterError
from ama.data import DataSplits
from ama.learner import TrainConfig, fit
from ama.models import TorchvisionClassifier, create_model, pooled_features

timm = pytest.importorskip('timm')        # in the dev extra; optional for users
torchvision = pytest.importorskip('torchvision')

PALETTE = torch.tensor([(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
                        (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 190)])

def colours(n_train=320, n_test=200, hw=16):
    "Ten classes, each 16×16 images of one colour with noise of ±40 per pixel: easy, but only for a network that trains."
    g = torch.Generator().manual_seed(0)
    def draw(n):
        y = torch.randperm(n, generator=g) % 10
        x = PALETTE[y][:, :, None, None] + torch.randint(-40, 41, (n, 3, hw, hw), generator=g)
        return x.clamp(0, 255).to(torch.uint8), y
    (xa, ya), (xb, yb) = draw(n_train), draw(n_test)
    return DataSplits('colours', xa, ya, xb, yb, [str(c) for c in range(10)])

MODELS = {
    'timm': lambda: timm.create_model('resnet18', num_classes=10, pretrained=False),
    'torchvision': lambda: TorchvisionClassifier(torchvision.models.resnet18(num_classes=10)),
}

@pytest.mark.parametrize('method', ['orig', 'ama'])
@pytest.mark.parametrize('kind', ['timm', 'torchvision'])
def test_other_libraries_models_train(kind, method):
    "The loss falls by half or more and the test accuracy ends far above the 10% of chance; AMA's α moves by Eq. 6."
    torch.manual_seed(0)
    model = MODELS[kind]()
    learn = fit(colours(), model, TrainConfig(method=method, epochs=3, batch_size=32, lr=0.05, clip_grad=1.0), device='cpu')
    h = learn.history
    assert learn.model is model and learn.model_name == type(model).__name__
    assert h[-1]['train_loss'] < 0.5 * h[0]['train_loss'], [r['train_loss'] for r in h]
    assert learn.results['test_acc'] > 0.8, learn.results['test_acc']
    if method == 'ama': assert h[-1]['alpha'] < 0.7 and isinstance(learn.model.get_classifier(), torch.nn.Linear)   # α fell from 1 as the accuracy rose; timm's head is the linear layer AMALoss's logits shortcut needs
    z = pooled_features(learn.model, torch.zeros(2, 3, 16, 16))
    assert z.shape == (2, 512) == (2, learn.model.num_features)

def test_timm_model_by_name():
    "'timm:<name>' builds timm's model (no download) for our data's classes and channels, and it trains like the object."
    m = create_model('timm:resnet18', 7, in_chans=1)
    assert type(m).__module__.startswith('timm') and m(torch.zeros(2, 1, 8, 8)).shape == (2, 7)
    a = fit(colours(), 'timm:resnet18', TrainConfig(epochs=1, batch_size=32, lr=0.05, clip_grad=1.0, seed=3), device='cpu')
    torch.manual_seed(3)
    b = fit(colours(), timm.create_model('resnet18', num_classes=10, pretrained=False), TrainConfig(epochs=1, batch_size=32, lr=0.05, clip_grad=1.0, seed=3), device='cpu')
    assert a.model_name == 'timm:resnet18' and a.history[0]['train_loss'] == b.history[0]['train_loss']

def test_without_timm_one_sentence(monkeypatch):
    monkeypatch.setitem(sys.modules, 'timm', None)           # as if it were not installed
    with pytest.raises(ModuleNotFoundError, match=r"model 'timm:resnet18' needs timm, which is not installed: pip install timm"):
        create_model('timm:resnet18', 10)

def test_a_model_without_timms_interface_is_refused():
    with pytest.raises(ParameterError, match=r"the model \(ResNet\) lacks forward_features.*wrap a torchvision classifier in TorchvisionClassifier\(model\)"):
        fit(colours(), torchvision.models.resnet18(num_classes=10), TrainConfig(epochs=1, batch_size=32), device='cpu')
