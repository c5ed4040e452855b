"""Paper 003's ImageNet and NUS-WIDE columns (issue 15): ``imagenet-selfsup`` on a tiny ImageFolder tree
and ``nuswide-selfsup`` on tiny list files, both written here (the paper's 20,000 / 5,000 / 5,000 draw
shrunk to 6 / 3 / 3 by patching ``SELFSUP_SIZES``), their one-line errors at the real sizes, a run
through the models' input pipeline; and the stand-in ``mosaic-selfsup`` on the real CIFAR-10."""
import numpy as np
import pytest

from cifar_root import real_cifar_root
from hashlib_core.data import DatasetNotFoundError, FileSource, get_protocol, label_statistics, load_cifar10
from hashlib_core.data import protocols
from hashlib_core.data.grayscale import grayscale_minmax_batch
from test_data import _write_list_dataset

TINY = {"train": 6, "database": 3, "query": 3}
#: class folder -> number of images; sizes and formats vary per image
TREE = {"n01440764": 6, "n02102040": 5, "n02979186": 7}


@pytest.fixture
def tiny_sizes(monkeypatch):
    monkeypatch.setattr(protocols, "SELFSUP_SIZES", dict(TINY))


def _write_image_folder(root, tree=TREE, seed=0):
    """``<root>/imagenet/<class>/<image>``: JPEG and PNG files of different sizes and modes (RGB,
    grayscale, RGBA), one non-image file ImageFolder must skip. -> {relative path: class folder}."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    base = root / "imagenet"
    truth = {}
    for cls, n in tree.items():
        (base / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            h, w = int(rng.integers(9, 80)), int(rng.integers(9, 80))
            arr = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
            mode, ext = [("RGB", "JPEG"), ("L", "png"), ("RGBA", "png"), ("RGB", "jpg")][i % 4]
            im = Image.fromarray(arr).convert(mode)
            name = f"{cls}_{i}.{ext}"
            im.save(base / cls / name)
            truth[f"{cls}/{name}"] = cls
        (base / cls / "notes.txt").write_text("not an image")
    return base, truth


def _file_pixels(path, size):
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR), dtype=np.uint8)


def test_imagenet_selfsup_on_an_image_folder(tmp_path, tiny_sizes):
    base, truth = _write_image_folder(tmp_path)
    s = get_protocol("imagenet-selfsup", seed=3, root=tmp_path, cache_dir=tmp_path / "c")
    assert (len(s.train), len(s.database), len(s.query)) == (6, 3, 3)
    assert not s.multi_label and s.map_topk is None
    assert s.class_names == sorted(TREE) and s.num_classes == 3  # every class folder, ImageFolder's order
    assert s.info["source"]["class_rule"] == "every class folder" and s.info["source"]["pool"] == 18
    # the uniform draw of paper 003 over ImageFolder's sample order (sorted classes, sorted files)
    pool = sorted(truth)
    perm = np.random.default_rng(3).permutation(len(pool))
    for part, (a, b) in {"train": (0, 6), "database": (6, 9), "query": (9, 12)}.items():
        src = s.parts[part]
        assert isinstance(src, FileSource) and not src.in_memory
        assert src.paths == [pool[i] for i in np.sort(perm[a:b])]
        assert [s.class_names[c] for c in src.labels] == [truth[p] for p in src.paths]
    assert len(set(s.train.paths) | set(s.database.paths) | set(s.query.paths)) == 12
    # lazily read, any size and mode -> RGB at the protocol's 128 px, then the models' input
    batch = s.query.get_batch([0, 2])
    assert batch.shape == (2, 128, 128, 3) and batch.dtype == np.uint8
    np.testing.assert_array_equal(batch[1], _file_pixels(base / s.query.paths[2], 128))
    x = grayscale_minmax_batch(batch, 32)
    assert x.shape == (2, 1, 32, 32) and float(x.min()) == 0.0 and float(x.max()) == 1.0
    # saved with its checksum, reloaded, recomputed the same in a fresh folder
    again = get_protocol("imagenet-selfsup", seed=3, root=tmp_path, cache_dir=tmp_path / "c")
    fresh = get_protocol("imagenet-selfsup", seed=3, root=tmp_path, cache_dir=tmp_path / "c2")
    assert again.checksum == fresh.checksum == s.checksum and fresh.query.paths == s.query.paths
    assert get_protocol("imagenet-selfsup", seed=4, root=tmp_path, cache_dir=tmp_path / "c").checksum != s.checksum
    # another image in the folder: the saved split was made for other inputs
    from PIL import Image

    Image.new("RGB", (20, 30)).save(base / "n02102040" / "extra.png")
    with pytest.warns(UserWarning, match="other inputs"):
        changed = get_protocol("imagenet-selfsup", seed=3, root=tmp_path, cache_dir=tmp_path / "c")
    assert changed.info["source"]["pool"] == 19 and changed.checksum != s.checksum


def test_imagenet_selfsup_class_list(tmp_path, tiny_sizes):
    base, truth = _write_image_folder(tmp_path)
    (base / "classes.txt").write_text("n02979186\n\nn01440764\n")  # a listed subset, in the listed order
    s = get_protocol("imagenet-selfsup", seed=0, root=tmp_path, cache_dir=tmp_path / "c")
    assert s.class_names == ["n02979186", "n01440764"]
    assert s.info["source"]["class_rule"] == "classes.txt" and s.info["source"]["pool"] == 13
    for part in s.parts.values():
        assert [s.class_names[c] for c in part.labels] == [truth[p] for p in part.paths]
    (base / "classes.txt").write_text("n02979186\nn09999999\n")
    with pytest.raises(DatasetNotFoundError, match="n09999999") as err:
        get_protocol("imagenet-selfsup", root=tmp_path, cache_dir=tmp_path / "c")
    assert "\n" not in str(err.value)
    (base / "classes.txt").write_text("n02979186\nn02979186\n")
    with pytest.raises(ValueError, match=r"classes.txt:2: class 'n02979186' is listed twice"):
        get_protocol("imagenet-selfsup", root=tmp_path, cache_dir=tmp_path / "c")


def test_imagenet_selfsup_errors_name_the_folder_and_the_need(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:  # no folder
        get_protocol("imagenet-selfsup", root=tmp_path, cache_dir=tmp_path / "c")
    msg = str(err.value)
    assert "\n" not in msg and str(tmp_path / "imagenet") in msg and "ImageFolder" in msg and "HASHLIB_DATA" in msg
    (tmp_path / "imagenet").mkdir()
    with pytest.raises(DatasetNotFoundError, match="class folder"):  # a folder without class folders
        get_protocol("imagenet-selfsup", root=tmp_path, cache_dir=tmp_path / "c")
    _write_image_folder(tmp_path)
    with pytest.raises(ValueError) as err:  # the paper's sizes: 30,000 images needed
        get_protocol("imagenet-selfsup", root=tmp_path, cache_dir=tmp_path / "c")
    msg = str(err.value)
    assert "\n" not in msg and "holds 18 images" in msg and "30,000" in msg and "20,000 training" in msg
    assert str(tmp_path / "imagenet") in msg and "mosaic-selfsup" in msg
    assert not (tmp_path / "c").exists()  # refused before any split was written


def _write_nuswide(root, seed=0):
    """nuswide_81/{database,test,train}.txt: 14 + 4 labelled lines, train.txt repeats the first 7
    database lines, one database line without a label."""
    base, lines = _write_list_dataset(root, folder="nuswide_81", n_db=14, n_test=4, n_cls=5, seed=seed)
    from PIL import Image

    Image.new("RGB", (17, 23)).save(base / "images" / "unlabelled.png")
    with open(base / "database.txt", "a") as f:
        f.write("images/unlabelled.png 0 0 0 0 0\n")
    return base, lines


def test_nuswide_selfsup_pools_the_list_files(tmp_path, tiny_sizes):
    base, lines = _write_nuswide(tmp_path)
    with pytest.warns(UserWarning, match="5 label columns; paper 003's NUS-WIDE has 81 tags"):
        s = get_protocol("nuswide-selfsup", seed=1, root=tmp_path, cache_dir=tmp_path / "c")
    assert s.multi_label and s.map_topk is None and s.num_classes == 5
    assert (len(s.train), len(s.database), len(s.query)) == (6, 3, 3)
    src = s.info["source"]
    assert src["pool"] == 18 and src["unlabelled_left_out"] == 1  # train.txt's lines counted once
    pool = [p for p, _ in lines]  # database.txt's lines, then test.txt's
    perm = np.random.default_rng(1).permutation(len(pool))
    labels = dict(lines)
    for part, (a, b) in {"train": (0, 6), "database": (6, 9), "query": (9, 12)}.items():
        p = s.parts[part]
        assert p.paths == [pool[i] for i in np.sort(perm[a:b])] and p.image_size == 128
        np.testing.assert_array_equal(p.labels, np.array([labels[x] for x in p.paths]))
    st = label_statistics(s)  # multi-label relevance: at least one shared tag
    q, d = s.query.labels.astype(int), s.database.labels.astype(int)
    assert st["chance_precision"] == pytest.approx(((q @ d.T) > 0).mean())
    assert s.query.get_batch([1]).shape == (1, 128, 128, 3)


def test_nuswide_selfsup_errors(tmp_path, tiny_sizes, monkeypatch):
    with pytest.raises(DatasetNotFoundError) as err:
        get_protocol("nuswide-selfsup", root=tmp_path, cache_dir=tmp_path / "c")
    msg = str(err.value)
    assert "\n" not in msg and "nuswide_81" in msg and "database.txt" in msg and "test.txt" in msg
    base, lines = _write_nuswide(tmp_path)
    with open(base / "test.txt", "a") as f:  # a database image again, with other labels
        f.write(f"{lines[0][0]} {' '.join(str(1 - v) for v in lines[0][1])}\n")
    with pytest.raises(ValueError, match="listed in .*database.txt and .*test.txt with different labels"):
        get_protocol("nuswide-selfsup", root=tmp_path, cache_dir=tmp_path / "c")
    _write_nuswide(tmp_path)
    monkeypatch.setattr(protocols, "SELFSUP_SIZES", {"train": 20_000, "database": 5_000, "query": 5_000})
    with pytest.raises(ValueError) as err:
        get_protocol("nuswide-selfsup", root=tmp_path, cache_dir=tmp_path / "c")
    msg = str(err.value)
    assert "\n" not in msg and "holds 18 images" in msg and "30,000" in msg and "database.txt, test.txt, train.txt" in msg


def test_a_run_reads_the_images_through_the_models_input_pipeline(tmp_path, tiny_sizes, monkeypatch):
    """A VAE and a shallow reference row on the tiny ImageFolder tree, as the runner runs them: the
    images of any size reach the network as grayscale min-max at the profile's 32 px, and paper
    003's readings are reported on this protocol too."""
    import dataclasses

    from hashlib_core.runner import make_config, run

    _write_image_folder(tmp_path)
    monkeypatch.setenv("HASHLIB_DATA", str(tmp_path))
    monkeypatch.setenv("HASHLIB_CACHE", str(tmp_path / "cache"))
    vae = dataclasses.replace(make_config("smoke", "vae", "imagenet-selfsup", 16, 0), subset=None, num_threads=1)
    r = run(vae, verbose=False)
    assert r.config.input_size == 32 and len(r.metrics["recon.examples"][0]) == 32 * 32
    assert {"map", "main.precision", "nn_label.precision", "collision_eval.items_sharing"} <= set(r.metrics)
    lsh = dataclasses.replace(make_config("smoke", "lsh", "imagenet-selfsup", 16, 0, model={"features": "gray-minmax@32"}),
                              subset=None)
    m = run(lsh, verbose=False).metrics
    assert np.isfinite(m["main.precision"]) and 0 <= m["stability.jpeg75"] <= 16


needs_real = pytest.mark.skipif(real_cifar_root() is None, reason="real CIFAR-10 not found: set HASHLIB_DATA")


@needs_real
def test_mosaic_selfsup_stand_in(tmp_path):
    root = real_cifar_root()
    s = get_protocol("mosaic-selfsup", seed=0, root=root, cache_dir=tmp_path)
    labels = load_cifar10(root).labels
    assert s.multi_label and s.map_topk is None and s.image_size == 64
    assert (len(s.train), len(s.database), len(s.query)) == (20000, 5000, 5000)
    tiles = {p: np.asarray(part.indices) for p, part in s.parts.items()}
    for p, part in s.parts.items():
        union = np.zeros((len(part), 10), dtype=np.uint8)
        for j in range(4):
            union[np.arange(len(part)), labels[tiles[p][:, j]]] = 1
        np.testing.assert_array_equal(part.labels, union)  # label = union of the tiles' classes
        assert 1 <= part.labels.sum(axis=1).min() and part.labels.sum(axis=1).max() <= 3
        assert all(len(set(r)) == 4 for r in tiles[p][:1000].tolist())  # 4 distinct images per mosaic
    q, d, t = (set(tiles[p].ravel().tolist()) for p in ("query", "database", "train"))
    assert min(q) >= 50000 and max(d | t) < 50000  # queries from test images, the rest from train images
    assert not (q & d) and not (q & t) and not (d & t)  # no source image in two parts
    assert 9000 < len(d) <= 10000 and 36000 < len(t) <= 40000  # the 10,000 / 40,000 shares, ~2 tiles per image
    img = s.query.get_batch([7])[0]
    src = load_cifar10(root).images
    np.testing.assert_array_equal(img[32:, :32], src[tiles["query"][7, 2]])
    st = label_statistics(s)
    assert 1.8 < st["labels_per_image"]["database"]["mean"] < 2.0
    assert 0.30 < st["chance_precision"] < 0.37 and st["relevant_fraction_per_query"]["queries_without_relevant"] == 0
    again = get_protocol("mosaic-selfsup", seed=0, root=root, cache_dir=tmp_path / "fresh")
    assert again.checksum == s.checksum
    assert get_protocol("mosaic-selfsup", seed=1, root=root, cache_dir=tmp_path).checksum != s.checksum


def test_readings_are_registered_for_every_column():
    from hashlib_core.methods.base import PROTOCOL_READINGS, protocol_readings
    from hashlib_core.methods.selfsup import SELFSUP_PROTOCOLS, readings_metrics

    assert set(SELFSUP_PROTOCOLS) <= set(protocols.PROTOCOLS)
    for name in SELFSUP_PROTOCOLS:
        assert PROTOCOL_READINGS[name].code_metrics is readings_metrics
        assert protocol_readings(type("S", (), {"name": f"{name}:val"})()) is PROTOCOL_READINGS[name]
