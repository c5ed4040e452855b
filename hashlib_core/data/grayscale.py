"""Paper 003's input: grayscale, resized, min-max scaled to [0, 1].

Kim et al. §III: "Each image ... was transformed into a grayscale image of size 128×128 and scaled
to a value between [0, 1] with the minmax scalar". Our reading (docs/decisions.md, "Paper 003"):

1. luminance with the ITU-R 601-2 weights (0.2989, 0.587, 0.114), as torchvision's
   ``rgb_to_grayscale`` and the rest of :mod:`hashlib_core.data.transforms`;
2. resize to ``size`` × ``size``, bilinear with antialiasing (a no-op at the native size);
3. **per-image** min-max: ``(x - min(x)) / (max(x) - min(x))`` over the image's own pixels after the
   resize, so every image spans exactly [0, 1]; a constant image becomes all zeros.

Per image rather than a dataset-wide scaler because an image's input (and so its code) must not
depend on which other images are in the batch or in the training set, and a global min-max of
uint8 photographs is just ``x / 255`` (``scope="global"``, kept for comparison).
"""
from __future__ import annotations

from typing import Union

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["grayscale_minmax_batch", "LUMA_WEIGHTS", "SCOPES"]

#: ITU-R 601-2 luma, the weights of torchvision's rgb_to_grayscale
LUMA_WEIGHTS = (0.2989, 0.587, 0.114)
SCOPES = ("image", "global")


def grayscale_minmax_batch(images_uint8_nhwc: Union[np.ndarray, torch.Tensor], size: int,
                           scope: str = "image") -> torch.FloatTensor:
    """uint8 (N, H, W, 3 or 1) images -> float32 (N, 1, size, size) in [0, 1] (module docstring).

    ``scope="image"``: min-max over each image's own pixels (our reading of §III);
    ``scope="global"``: the fixed uint8 range, x / 255.
    """
    if isinstance(images_uint8_nhwc, np.ndarray):
        arr = np.ascontiguousarray(images_uint8_nhwc)
        t = torch.from_numpy(arr if arr.flags.writeable else arr.copy())  # torch wants writable memory
    else:
        t = torch.as_tensor(images_uint8_nhwc)
    if t.dtype != torch.uint8 or t.dim() != 4 or t.shape[-1] not in (1, 3):
        raise ValueError(f"grayscale_minmax_batch expects uint8 (N, H, W, 3) or (N, H, W, 1) images, "
                         f"got {t.dtype} {tuple(t.shape)}")
    if int(size) != size or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    x = t.permute(0, 3, 1, 2).float().div_(255.0)
    if x.shape[1] == 3:
        w = torch.tensor(LUMA_WEIGHTS, dtype=x.dtype).view(1, 3, 1, 1)
        x = (x * w).sum(dim=1, keepdim=True)
    if tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(int(size), int(size)), mode="bilinear", align_corners=False, antialias=True)
    if scope == "global":
        return x.clamp_(0.0, 1.0).contiguous()
    lo = x.amin(dim=(1, 2, 3), keepdim=True)
    span = x.amax(dim=(1, 2, 3), keepdim=True) - lo
    return torch.where(span > 0, (x - lo) / span.clamp_min(1e-12), torch.zeros_like(x)).contiguous()
