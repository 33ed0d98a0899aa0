"""The paper's numbers that ama.paper carries (Table 4 and Table 6, the two tables whose numbers survived in the
text) are checked against the paper's own text, cell by cell: parsed from the extracted tables, not copied.

The paper is read from $AMA_PAPER, else from ../shared/paper/ama-paper.md beside the repository; without it the
tests skip, unless AMA_PAPER_REQUIRED=1 (CI sets both)."""
import os, re
from pathlib import Path
import pytest
from ama.paper import PAPER_TABLE4, PAPER_TABLE6
from ama.tables import PAPER4, PAPER6
from ama.learner import METHODS

ROOT = Path(__file__).resolve().parent.parent
PAPER = Path(os.environ.get('AMA_PAPER', ROOT.parent / 'shared' / 'paper' / 'ama-paper.md'))
TITLE = {METHODS[m].title: m for m in METHODS}                          # 'Orig.' -> 'orig', 'AMA + Mixup' -> 'ama_mixup'
NETWORK = {'VGG11': 'vgg11', 'ResNet50': 'resnet50', 'DenseNet-BC': 'densenet_bc'}
DATASET = {'CIFAR-10': 'cifar10', 'CIFAR-100': 'cifar100', 'Tiny-ImageNet': 'tinyimagenet'}
NUMBER = re.compile(r'(\d+\.\d+)\s*(?:\+|\\pm|±)\s*(\d+\.\d+)')        # the extraction reads some ± as +

@pytest.fixture(scope='module')
def paper_lines():
    if not PAPER.is_file():
        if os.environ.get('AMA_PAPER_REQUIRED') == '1': pytest.fail(f"the paper is not at {PAPER}; set AMA_PAPER to its path")
        pytest.skip(f"the paper is not at {PAPER} (set AMA_PAPER)")
    return PAPER.read_text().splitlines()

def block(lines, header):
    "The tab-separated rows that follow the line starting with `header`, up to the first blank line."
    i = next(k for k, l in enumerate(lines) if l.startswith(header))
    out = []
    for l in lines[i + 1:]:
        if not l.strip(): break
        out.append(l.split('\t'))
    return [h.strip('$') for h in lines[i].split('\t')], out

def split_methods(cell):
    "'Orig. SupCon Manifold Mixup' -> ['orig', 'supcon', 'manifold_mixup'] (longest titles first)."
    out, rest = [], cell.strip().strip('$')
    while rest:
        t = max((t for t in TITLE if rest.startswith(t)), key=len)
        out.append(TITLE[t]); rest = rest[len(t):].strip()
    return out

def test_table4_is_the_papers(paper_lines):
    head, rows = block(paper_lines, 'Network\tMethod')
    datasets = [DATASET[h] for h in head[2:]]
    parsed, net = {}, None
    for cells in rows:
        net = NETWORK[cells[0]] if cells[0].strip() else net
        methods = split_methods(cells[1])
        for d, cell in zip(datasets, cells[2:]):
            nums = NUMBER.findall(cell)
            assert len(nums) == len(methods), (cells, cell)
            for m, (mean, std) in zip(methods, nums): parsed.setdefault((net, m), {})[d] = (float(mean), float(std))
    assert parsed == PAPER_TABLE4
    assert len(PAPER4) == 30 and PAPER4[(('resnet50', 'supcon', None), 'tinyimagenet')] == (41.85, 0.17)

def test_table6_is_the_papers(paper_lines):
    head, rows = block(paper_lines, 'Method\tCIFAR-10\tCIFAR-100')
    datasets = [DATASET[h] for h in head[1:]]
    parsed = {}
    for cells in rows:
        [m] = split_methods(cells[0])
        parsed[m] = {d: tuple(map(float, NUMBER.search(c).groups())) for d, c in zip(datasets, cells[1:])}
    assert parsed == PAPER_TABLE6
    assert PAPER6[(('ama_mixup', 0.67), 'cifar10')] == (66.50, 1.30)

def test_table4_holds_error_rates_not_accuracies():
    "The caption says accuracy; the numbers are errors: on every network and data set they are far below 50 on CIFAR-10."
    assert all(v['cifar10'][0] < 10 and v['cifar100'][0] < 35 for v in PAPER_TABLE4.values())
