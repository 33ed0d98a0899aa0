"""ama.data against small data sets written in the real on-disk formats, and the download / missing-data paths."""
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import torchvision.datasets.utils as tvu
from ama.data import (DataNotFoundError, load_cifar, load_dataset, load_tiny_imagenet, long_tail_indices,
                      long_tail_counts, write_fake_cifar, write_fake_tiny_imagenet)


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_reads_back_exactly(tmp_path, name):
    w = write_fake_cifar(tmp_path, name, n_train=70, n_test=25, seed=3)
    d = load_cifar(name, tmp_path, download=False)
    assert d.x_train.dtype == torch.uint8 and d.x_train.shape == (70, 3, 32, 32)
    np.testing.assert_array_equal(d.x_train.numpy(), w["train"][0])
    np.testing.assert_array_equal(d.y_train.numpy(), w["train"][1])
    np.testing.assert_array_equal(d.x_test.numpy(), w["test"][0])
    np.testing.assert_array_equal(d.y_test.numpy(), w["test"][1])
    if name == "cifar100":
        np.testing.assert_array_equal(d.coarse_train.numpy(), w["train"][2])
        np.testing.assert_array_equal(d.coarse_test.numpy(), w["test"][2])
        assert d.coarse_classes == [f"super{c}" for c in range(20)]
    else:
        assert d.coarse_classes == ["vehicle", "animal"]
        vehicles = {0, 1, 8, 9}   # airplane, automobile, ship, truck
        expected = np.array([0 if y in vehicles else 1 for y in w["train"][1]])
        np.testing.assert_array_equal(d.coarse_train.numpy(), expected)


def test_cifar_pixel_layout_is_channel_planes(tmp_path):
    "The pickles store each image as 1024 red, then 1024 green, then 1024 blue bytes, rows first."
    w = write_fake_cifar(tmp_path, "cifar10", n_train=10, n_test=10)
    d = load_cifar("cifar10", tmp_path, download=False)
    raw = w["train"][0].reshape(10, 3072)
    assert d.x_train[4, 1, 2, 5].item() == raw[4, 1024 + 2 * 32 + 5]


@pytest.mark.parametrize("name,per_class,imb", [("cifar10", 100, 10), ("cifar10", 100, 100), ("cifar100", 20, 10)])
def test_long_tailed_subset_counts_and_coarse_labels_follow(tmp_path, name, per_class, imb):
    C = 10 if name == "cifar10" else 100
    root = tmp_path
    write_fake_cifar(root, name, n_train=per_class * C, n_test=30)
    # make the training labels balanced, as in the real data set, by rewriting them
    import pickle
    from ama.data import _CIFAR
    s = _CIFAR[name]
    labels = np.repeat(np.arange(C), per_class)
    rng = np.random.default_rng(0); rng.shuffle(labels)
    offset = 0
    for fn in s["train"]:
        p = root / s["folder"] / fn
        dd = pickle.load(open(p, "rb"), encoding="bytes")
        n = len(dd[s["label_key"]])
        dd[s["label_key"]] = labels[offset:offset + n].tolist(); offset += n
        pickle.dump(dd, open(p, "wb"))
    full = load_dataset(name, root, download=False)
    lt = load_dataset(name, root, imb=imb, download=False)
    expected = long_tail_counts(per_class, C, imb)
    assert lt.class_counts().tolist() == expected
    assert len(lt.x_test) == len(full.x_test)
    # every kept image is a real training image with its own label and coarse label
    lookup = {full.x_train[k].numpy().tobytes(): k for k in range(len(full.x_train))}
    for k in range(len(lt.x_train)):
        src = lookup[lt.x_train[k].numpy().tobytes()]
        assert lt.y_train[k] == full.y_train[src] and lt.coarse_train[k] == full.coarse_train[src]
    # seeded: the same subset twice, a different one with another seed
    assert torch.equal(load_dataset(name, root, imb=imb, download=False).x_train, lt.x_train)
    assert not torch.equal(load_dataset(name, root, imb=imb, seed=1, download=False).x_train, lt.x_train)


def test_tiny_imagenet_reads_folder_as_it_ships_and_caches(tmp_path):
    val_labels = write_fake_tiny_imagenet(tmp_path, per_class=3, n_val=5)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    d = load_tiny_imagenet(tmp_path, download=False)
    assert d.x_train.shape == (9, 3, 64, 64) and d.x_train.dtype == torch.uint8
    assert d.y_train.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert d.y_test.tolist() == [val_labels[f"val_{k}.JPEG"] for k in range(5)]
    # pixels equal a direct decode of the same file; the greyscale JPEG becomes three equal channels
    folder = tmp_path / "tiny-imagenet-200"
    first = sorted((folder / "train").glob("*/images/*.JPEG"))[0]
    direct = np.asarray(Image.open(first).convert("RGB")).transpose(2, 0, 1)
    np.testing.assert_array_equal(d.x_train[0].numpy(), direct)
    assert torch.equal(d.x_train[0, 0], d.x_train[0, 1])
    # no file moved; one cache file added, and it is used the second time
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert set(after) - set(before) == {Path("tiny-imagenet-200/ama-cache.npz")}
    mtime = (folder / "ama-cache.npz").stat().st_mtime_ns
    d2 = load_tiny_imagenet(tmp_path, download=False)
    assert torch.equal(d2.x_train, d.x_train) and (folder / "ama-cache.npz").stat().st_mtime_ns == mtime
    # a changed folder invalidates the cache
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(folder / "train" / "n01443537" / "images" / "extra.JPEG")
    assert len(load_tiny_imagenet(tmp_path, download=False).x_train) == 10


def _failing_download(url, download_root, filename=None, md5=None, **kw):
    Path(download_root, filename or "x").write_bytes(b"partial")      # what an interrupted download leaves
    raise urllib.error.URLError("Name or service not known")


@pytest.mark.parametrize("name,files", [("cifar10", "cifar-10-batches-py/{data_batch_1"), ("cifar100", "cifar-100-python/{train,test,meta}")])
def test_missing_cifar_that_cannot_download_gives_one_clear_error(tmp_path, monkeypatch, name, files):
    monkeypatch.setattr(tvu, "download_and_extract_archive", _failing_download)
    root = tmp_path / "data"
    with pytest.raises(DataNotFoundError) as e:
        load_dataset(name, root)
    msg = str(e.value)
    assert str(root) in msg and files in msg and "cs.toronto.edu" in msg and "URLError" in msg
    assert list(root.iterdir()) == [], "a failed download must leave nothing behind"


def test_missing_tiny_imagenet_gives_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(tvu, "download_and_extract_archive", _failing_download)
    with pytest.raises(DataNotFoundError, match=r"Tiny-ImageNet was not found in .*val/val_annotations.txt.*tiny-imagenet-200.zip"):
        load_tiny_imagenet(tmp_path / "data")
    assert list((tmp_path / "data").iterdir()) == []


def test_successful_download_is_moved_into_place(tmp_path, monkeypatch):
    def fake_download(url, download_root, filename=None, md5=None, **kw):
        assert url.endswith("cifar-10-python.tar.gz") and md5 == "c58f30108f718f92721af3b95e74349a"
        write_fake_cifar(download_root, "cifar10", n_train=20, n_test=10)
    monkeypatch.setattr(tvu, "download_and_extract_archive", fake_download)
    d = load_cifar("cifar10", tmp_path)
    assert len(d.x_train) == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cifar-10-batches-py"]


def _ldam_drw_subset(targets, img_num_per_cls, rand_number=0):
    """LDAM-DRW's IMBALANCECIFAR10.gen_imbalanced_data, written out from its description: np.random.seed(rand_number)
    (in __init__), then for each class in order, np.where(targets == c), np.random.shuffle in place, the first n_c kept."""
    np.random.seed(rand_number)
    targets_np = np.array(targets, dtype=np.int64)
    out = []
    for the_class, the_img_num in zip(np.unique(targets_np), img_num_per_cls):
        idx = np.where(targets_np == the_class)[0]
        np.random.shuffle(idx)
        out.append(idx[:the_img_num])
    return np.concatenate(out)


@pytest.mark.parametrize("C,per_class,imb", [(10, 5000, 100), (10, 5000, 10), (100, 500, 100), (100, 500, 50)])
def test_long_tailed_subset_is_ldam_drws(C, per_class, imb):
    """On a label array in CIFAR's layout (C classes, per_class images each, in a shuffled training order), the subset
    is exactly, and in the same order, the one LDAM-DRW's procedure keeps; and the global NumPy state is left alone."""
    targets = np.random.default_rng(7).permutation(np.repeat(np.arange(C), per_class))
    counts = long_tail_counts(per_class, C, imb)
    state = np.random.get_state()
    ours = long_tail_indices(torch.from_numpy(targets), counts, seed=0).numpy()
    assert np.array_equal(np.random.get_state()[1], state[1])          # our draw does not touch np.random's global state
    ref = _ldam_drw_subset(targets.tolist(), counts, 0)
    np.testing.assert_array_equal(ours, ref)
    assert len(ours) == sum(counts)
