"""Hand-crafted image descriptors for the shallow baselines, cached on disk.

The papers' shallow rows (paper 000 Table 2: SH, ITQ, KSH, SDH) used 512-d GIST descriptors. No
maintained GIST implementation installs from the package registries here (checked: no
``pyleargist`` / ``lear-gist`` / ``gist`` descriptor package), so the descriptor we offer is a
documented stand-in, ``"hog-color"`` (388-d):

* HOG (scikit-image, Dalal & Triggs) on the luminance image: 9 orientations on a fixed **4×4 grid
  of cells** (cell side = image side / 4: 8 px on 32-px CIFAR-10, 16 px on the 64-px mosaics),
  2×2-cell blocks with L2-Hys normalisation -> 3·3·2·2·9 = 324 values; like GIST it describes
  oriented gradient energy on a coarse spatial grid, and the fixed grid keeps the length the same
  at every image size;
* a joint RGB colour histogram, 4 levels per channel (64 bins), L1-normalised then square-rooted
  (Hellinger embedding) -- GIST has no colour; CIFAR-10 classes are partly colour-separable, so
  this adds what a colour GIST variant would;
* each block is scaled to unit L2 norm, so both weigh the same in the Euclidean geometry the
  hashing methods see.

Features are computed at the native image size (no resizing), in batches, and cached under
``<cache_root>/features/<name>-v<version>/`` as ``.npy`` files written atomically:

* for in-memory CIFAR-10 parts (:class:`~hashlib_core.data.sources.ArraySource`) that cover a
  large share of the base array, the features of the *whole* base array are computed once and
  indexed (every protocol and seed then reuses them);
* otherwise (small subsets, mosaics, image files) the part's own items are cached under a key
  made of the item identities (base-array fingerprint + index table, or the file paths).

Deep features (issue 6, "where the transfer issue has landed"): ``"lite0-fc1"`` is the 1280-d
pooled feature (the ``fc1`` tap) of the ImageNet EfficientNet-Lite0 at 224 px, the same frozen
trunk the ``lite0`` recipe's deep runs train on; ``"lite0-fc1@<px>"`` takes another input size
(the smoke profile uses 32); ``"lite1-fc1"`` / ``"lite2-fc1"`` are the same for EfficientNet-Lite1 / Lite2
at their native 240 / 260 px (issue 16). They are read from the trunk cache of :mod:`hashlib_core.trunk`
(float16 there, float32 here), so a shallow method on them sees exactly the features a deep
baseline's hash layer sees, and no image is passed through the trunk twice.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np

from hashlib_core.data.identity import source_identity
from hashlib_core.paths import atomic_path, cache_root

__all__ = ["FEATURES", "FEATURES_VERSION", "SIZED_FEATURES", "TRUNK_FEATURES", "hog_color", "gray_minmax",
           "features_for", "feature_cache_dir", "descriptor_function", "trunk_feature_spec", "known_features",
           "check_features"]

#: bump when a descriptor's definition changes (it is part of the cache folder and of run keys)
FEATURES_VERSION = 1

HOG_ORIENTATIONS = 9
HOG_GRID = 4
COLOR_LEVELS = 4


def hog_color(images: np.ndarray) -> np.ndarray:
    """388-d ``"hog-color"`` descriptors of uint8 NHWC RGB images (see the module docstring)."""
    from skimage.feature import hog

    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be (N, H, W, 3), got {images.shape}")
    n, h, w, _ = images.shape
    cell = (max(1, h // HOG_GRID), max(1, w // HOG_GRID))
    gray = images.astype(np.float32) @ np.array([0.2125, 0.7154, 0.0721], np.float32)
    hogs = np.stack([
        hog(g, orientations=HOG_ORIENTATIONS, pixels_per_cell=cell, cells_per_block=(2, 2),
            block_norm="L2-Hys", feature_vector=True)
        for g in gray
    ]) if n else np.zeros((0, (HOG_GRID - 1) ** 2 * 4 * HOG_ORIENTATIONS))
    hogs = hogs.astype(np.float32)
    hogs /= np.maximum(np.linalg.norm(hogs, axis=1, keepdims=True), 1e-12)
    q = (images.astype(np.int64) * COLOR_LEVELS) // 256  # 0..levels-1 per channel
    bins = (q[..., 0] * COLOR_LEVELS + q[..., 1]) * COLOR_LEVELS + q[..., 2]
    bins = bins.reshape(n, -1)
    hist = np.zeros((n, COLOR_LEVELS ** 3), np.float32)
    np.add.at(hist, (np.repeat(np.arange(n), bins.shape[1]), bins.ravel()), 1.0)
    hist = np.sqrt(hist / np.maximum(hist.sum(axis=1, keepdims=True), 1.0))
    hist /= np.maximum(np.linalg.norm(hist, axis=1, keepdims=True), 1e-12)
    return np.concatenate([hogs, hist], axis=1)


def gray_minmax(images: np.ndarray, size: Optional[int] = None) -> np.ndarray:
    """``"gray-minmax"`` descriptors: the flattened grayscale, per-image min-max image
    (:func:`hashlib_core.data.grayscale.grayscale_minmax_batch`, paper 003's network input), at the
    native size or resized to ``size`` px (``"gray-minmax@<px>"``): float32 (N, size²)."""
    from hashlib_core.data.grayscale import grayscale_minmax_batch

    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images must be (N, H, W, 3 or 1), got {images.shape}")
    side = int(size or images.shape[1])
    if not len(images):
        return np.zeros((0, side * side), np.float32)
    return grayscale_minmax_batch(images, side).reshape(len(images), -1).numpy().astype(np.float32)


#: descriptor name -> function(uint8 NHWC batch) -> float32 (N, D); a name in
#: :data:`SIZED_FEATURES` also takes ``"<name>@<px>"`` (the images resized to px × px first)
FEATURES: Dict[str, Callable[[np.ndarray], np.ndarray]] = {"hog-color": hog_color, "gray-minmax": gray_minmax}
SIZED_FEATURES = ("gray-minmax",)

#: deep features from a frozen pretrained trunk: name -> (backbone model config, tap, default input size)
TRUNK_FEATURES: Dict[str, tuple] = {
    "lite0-fc1": ({"backbone": "efficientnet_lite0", "width": 1.0, "weights": "imagenet"}, "fc1", 224),
    "lite1-fc1": ({"backbone": "efficientnet_lite1", "width": 1.0, "weights": "imagenet"}, "fc1", 240),
    "lite2-fc1": ({"backbone": "efficientnet_lite2", "width": 1.0, "weights": "imagenet"}, "fc1", 260),
}


def trunk_feature_spec(name: str) -> Optional[tuple]:
    """``(model config, tap, input size)`` of a deep feature name (``"lite0-fc1"``,
    ``"lite0-fc1@32"``), None for a hand-crafted one; ValueError for a malformed size."""
    base, _, px = str(name).partition("@")
    if base not in TRUNK_FEATURES:
        return None
    model, tap, size = TRUNK_FEATURES[base]
    if px:
        size = _size_after_at(name, px, minimum=32)
    return dict(model), tap, int(size)


def _size_after_at(name: str, px: str, minimum: int) -> int:
    """The input side a feature name asks for after its ``@``; ValueError unless an integer >= ``minimum``."""
    if not px.isdigit() or int(px) < minimum:
        raise ValueError(f"features {name!r}: the size after '@' must be an integer >= {minimum} (pixels)")
    return int(px)


def descriptor_function(name: str) -> Optional[Callable[[np.ndarray], np.ndarray]]:
    """The function computing a hand-crafted descriptor (``"hog-color"``, ``"gray-minmax"``,
    ``"gray-minmax@64"``) from uint8 NHWC images; None for a trunk feature or an unknown name."""
    import functools

    base, at, px = str(name).partition("@")
    if base not in FEATURES or (at and base not in SIZED_FEATURES):
        return None
    return functools.partial(FEATURES[base], size=_size_after_at(name, px, minimum=8)) if at else FEATURES[base]


def known_features() -> list:
    return (sorted(FEATURES) + [f"{n}@<px>" for n in SIZED_FEATURES] + sorted(TRUNK_FEATURES)
            + [f"{n}@<px>" for n in sorted(TRUNK_FEATURES)])


def check_features(name: str) -> None:
    """ValueError unless ``name`` is a (well-formed) hand-crafted descriptor or trunk feature."""
    if descriptor_function(name) is None and trunk_feature_spec(name) is None:
        raise ValueError(f"unknown features {name!r}; known: {known_features()}")


def _trunk_features(source, name: str, progress: bool, num_threads: Optional[int] = None) -> np.ndarray:
    """float32 rows of a frozen trunk's tap for every item of ``source`` (via the trunk cache).
    ``num_threads``: torch threads of the pass, part of the trunk key (summation order), so pass
    the profile's to share the deep runs' cache; default: this process's current setting."""
    import torch

    from hashlib_core.models import build_backbone
    from hashlib_core.trunk import trunk_key, trunk_taps

    model, tap, size = trunk_feature_spec(name)
    backbone = build_backbone(model["backbone"], width=model["width"], input_size=size, conv_taps=(), with_global=True,
                              weights=model["weights"], dropout=0.0, progress=False)
    backbone.requires_grad_(False)
    threads, before = int(num_threads or torch.get_num_threads()), torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rows = trunk_taps(backbone, source, trunk_key(model, size, threads), size, progress=progress,
                          desc=f"{name} features")[tap]
        return np.asarray(rows[np.arange(len(rows))], dtype=np.float32)
    finally:
        torch.set_num_threads(before)


def feature_cache_dir(name: str) -> Path:
    return cache_root() / "features" / f"{name}-v{FEATURES_VERSION}"


def _compute(fn, get_batch, n: int, batch: int, progress: bool, desc: str) -> np.ndarray:
    from hashlib_core.progress import tqdm

    out = []
    for start in tqdm(range(0, n, batch), desc=desc, disable=not progress, leave=False):
        out.append(fn(get_batch(np.arange(start, min(n, start + batch)))))
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 0), np.float32)


def _load_or_compute(path: Path, n: int, compute) -> np.ndarray:
    """The float32 (n, D) array cached at ``path`` if its checksum ``<path>.sha256`` (written
    after it) matches, else ``compute()`` cached there; a present but failing file is logged."""
    import logging

    from hashlib_core.integrity import sha256_file, verify_file

    sidecar = path.with_name(path.name + ".sha256")
    if path.exists():
        try:
            verify_file(path, sidecar.read_text().strip())
            arr = np.load(path)
            if not (arr.ndim == 2 and arr.shape[0] == n and arr.dtype == np.float32 and np.isfinite(arr).all()):
                raise ValueError(f"holds {arr.dtype} {arr.shape}, expected finite float32 ({n}, D)")
            return arr
        except (OSError, ValueError, EOFError) as err:
            logging.getLogger("hashlib_core.cache").warning("feature cache miss, recomputing %s: %s", path, err)
    arr = compute()
    with atomic_path(path) as tmp:
        np.save(tmp, arr)
        digest = sha256_file(tmp)
    with atomic_path(sidecar) as tmp:  # last: a file without a matching one is never trusted
        tmp.write_text(digest + "\n")
    return arr


def features_for(source, name: str = "hog-color", batch: int = 2048, progress: bool = False,
                 whole_base_fraction: float = 0.25, num_threads: Optional[int] = None) -> np.ndarray:
    """float32 (len(source), D) descriptors of every item of an image source, cached on disk
    (``num_threads``: deep features only, see :func:`_trunk_features`)."""
    check_features(name)
    fn = descriptor_function(name)
    if fn is None:
        return _trunk_features(source, name, progress, num_threads)
    stem, n, get_batch, take = source_identity(source, whole_base_fraction)
    path = feature_cache_dir(name) / f"{stem}.npy"
    what = f"{name} features" + (" (whole base)" if take is not None else "")
    arr = _load_or_compute(path, n, lambda: _compute(fn, get_batch, n, batch, progress, what))
    return arr if take is None else arr[take]
