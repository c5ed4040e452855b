"""Code stability under minor edits (issue 15, "Beyond the paper").

Paper 003 (Kim et al.) motivates perceptual hashing by codes that should not change under minor
edits such as JPEG compression, but never measures it. :func:`code_stability` measures the mean
Hamming distance between the code of an image and the code of an edited copy.

Perturbations of uint8 NHWC images (each returns uint8 of the same shape):

* ``jpeg75`` / ``jpeg50``: a PIL JPEG round trip at quality 75 / 50 (PIL's default 4:2:0 chroma
  subsampling for colour images);
* ``crop90``: the centre 90 % of each side (round(0.9·side) pixels) resized back with PIL's bilinear
  filter;
* ``brighter20``: +20 grey levels on every channel, clipped to [0, 255].
"""
from __future__ import annotations

import io
from typing import Callable, Dict, Iterable, Mapping, Union

import numpy as np
from PIL import Image

from .codes import check_codes

__all__ = ["jpeg", "center_crop_resize", "brightness_shift", "PERTURBATIONS", "code_stability"]


def _check_images(images) -> np.ndarray:
    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] not in (1, 3):
        raise ValueError(f"expected uint8 (N, H, W, 3) or (N, H, W, 1) images, got {arr.dtype} {arr.shape}")
    return arr


def _pil(img: np.ndarray) -> Image.Image:
    return Image.fromarray(img[..., 0]) if img.shape[-1] == 1 else Image.fromarray(img)


def _back(pil: Image.Image, channels: int) -> np.ndarray:
    a = np.asarray(pil, dtype=np.uint8)
    return a[..., None] if channels == 1 else a


def jpeg(images, quality: int) -> np.ndarray:
    """JPEG round trip through PIL at ``quality`` (1..95)."""
    arr = _check_images(images)
    if int(quality) != quality or not 1 <= quality <= 95:
        raise ValueError(f"JPEG quality must be an integer in 1..95, got {quality!r}")
    out = np.empty_like(arr)
    for i, img in enumerate(arr):
        buf = io.BytesIO()
        _pil(img).save(buf, format="JPEG", quality=int(quality))
        buf.seek(0)
        with Image.open(buf) as dec:
            out[i] = _back(dec.convert("L" if arr.shape[-1] == 1 else "RGB"), arr.shape[-1])
    return out


def center_crop_resize(images, keep: float = 0.9) -> np.ndarray:
    """Keep the centre ``keep`` fraction of each side, resize back to the original size (bilinear)."""
    arr = _check_images(images)
    if not 0 < keep <= 1:
        raise ValueError(f"keep must lie in (0, 1], got {keep!r}")
    n, h, w, c = arr.shape
    ch, cw = max(1, int(round(keep * h))), max(1, int(round(keep * w)))
    top, left = (h - ch) // 2, (w - cw) // 2
    out = np.empty_like(arr)
    for i, img in enumerate(arr):
        crop = _pil(np.ascontiguousarray(img[top:top + ch, left:left + cw]))
        out[i] = _back(crop.resize((w, h), Image.BILINEAR), c)
    return out


def brightness_shift(images, delta: int = 20) -> np.ndarray:
    """Add ``delta`` grey levels to every channel, clipped to [0, 255]."""
    arr = _check_images(images)
    return np.clip(arr.astype(np.int16) + int(delta), 0, 255).astype(np.uint8)


#: name -> perturbation (uint8 NHWC -> uint8 NHWC)
PERTURBATIONS: Dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "jpeg75": lambda x: jpeg(x, 75),
    "jpeg50": lambda x: jpeg(x, 50),
    "crop90": lambda x: center_crop_resize(x, 0.9),
    "brighter20": lambda x: brightness_shift(x, 20),
}


def code_stability(encode_fn: Callable[[np.ndarray], np.ndarray], images,
                   perturbations: Union[None, Iterable[str], Mapping[str, Callable]] = None) -> Dict[str, float]:
    """Mean Hamming distance between ``encode_fn(images)`` and ``encode_fn(perturbed images)``.

    ``encode_fn``: uint8 NHWC images -> (N, bits) {-1,+1} codes. ``perturbations``: None (all of
    :data:`PERTURBATIONS`), a list of their names, or a mapping name -> function.
    Returns ``{name: mean over images of the number of differing bits}``.
    """
    arr = _check_images(images)
    if arr.shape[0] == 0:
        raise ValueError("no images")
    if perturbations is None:
        chosen = dict(PERTURBATIONS)
    elif isinstance(perturbations, Mapping):
        chosen = dict(perturbations)
    else:
        names = list(perturbations)
        unknown = [p for p in names if p not in PERTURBATIONS]
        if unknown:
            raise ValueError(f"unknown perturbations {unknown}; known: {sorted(PERTURBATIONS)}")
        chosen = {p: PERTURBATIONS[p] for p in names}
    if not chosen:
        raise ValueError("no perturbations given")
    base = check_codes(encode_fn(arr), "codes of the original images")
    if base.shape[0] != arr.shape[0]:
        raise ValueError(f"encode_fn returned {base.shape[0]} codes for {arr.shape[0]} images")
    out: Dict[str, float] = {}
    for name, fn in chosen.items():
        pert = fn(arr)
        if not (isinstance(pert, np.ndarray) and pert.shape == arr.shape and pert.dtype == np.uint8):
            raise ValueError(f"perturbation {name!r} must return uint8 images of shape {arr.shape}")
        codes = check_codes(encode_fn(pert), f"codes of the {name} images")
        if codes.shape != base.shape:
            raise ValueError(f"encode_fn returned codes of shape {codes.shape} for {name}, expected {base.shape}")
        out[name] = float((codes != base).sum(axis=1).mean())
    return out
