"""Statistical checks of `ama.sampler.sample_pairs` against Eq. 5, on 200,000 draws."""
import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from ama.sampler import sample_pairs

COUNTS = (50, 10, 2)                       # an imbalanced mini-batch: head, medium, tail class
N_PAIRS = 200_000


@pytest.fixture(scope="module")
def batch():
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(COUNTS)])
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    return labels[perm]                    # shuffled, so the test does not rely on sorted labels


def _expected_i(labels):
    "Eq. 5 written out: each of the C_B classes gets 1/C_B, split equally among its members."
    y = labels.numpy()
    n_c = np.array([COUNTS[c] for c in y], dtype=np.float64)
    return 1.0 / (len(COUNTS) * n_c)


def test_first_index_follows_eq5(batch):
    i, j = sample_pairs(batch, n=N_PAIRS, generator=torch.Generator().manual_seed(1))
    assert i.shape == j.shape == (N_PAIRS,)
    assert (batch[i] != batch[j]).all()
    share = np.bincount(batch[i].numpy(), minlength=3) / N_PAIRS
    assert np.abs(share - 1 / 3).max() < 0.01, share
    p = chisquare(np.bincount(i.numpy(), minlength=len(batch)), N_PAIRS * _expected_i(batch)).pvalue
    assert p > 0.001, f"chi-square rejects Eq. 5 for i: p = {p}"


def test_partner_is_uniform_other_class_then_uniform_member(batch):
    i, j = sample_pairs(batch, n=N_PAIRS, generator=torch.Generator().manual_seed(2))
    ci, cj = batch[i].numpy(), batch[j].numpy()
    y = batch.numpy()
    for c in range(3):
        sel = ci == c
        others = [o for o in range(3) if o != c]
        # P(j = s | c_i = c) = 1/(C_B - 1) * 1/N_{c_s} for every s of another class
        members = np.flatnonzero(y != c)
        expected = np.array([1 / (len(others) * COUNTS[y[s]]) for s in members]) * sel.sum()
        observed = np.bincount(j.numpy()[sel], minlength=len(y))[members]
        assert np.bincount(j.numpy()[sel], minlength=len(y))[y == c].sum() == 0
        p = chisquare(observed, expected).pvalue
        assert p > 0.001, f"chi-square rejects the partner law for class {c}: p = {p}"


def test_without_cr_is_uniform_over_samples(batch):
    i, j = sample_pairs(batch, n=N_PAIRS, generator=torch.Generator().manual_seed(3), unbiased=False)
    assert (batch[i] != batch[j]).all()
    p = chisquare(np.bincount(i.numpy(), minlength=len(batch)), np.full(len(batch), N_PAIRS / len(batch))).pvalue
    assert p > 0.001


def test_same_seed_same_pairs_and_different_seed_different_pairs(batch):
    a = sample_pairs(batch, generator=torch.Generator().manual_seed(7))
    b = sample_pairs(batch, generator=torch.Generator().manual_seed(7))
    c = sample_pairs(batch, generator=torch.Generator().manual_seed(8))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))
