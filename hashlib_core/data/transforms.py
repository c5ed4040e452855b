"""Image transforms: a per-image torchvision.transforms.v2 pipeline and a fast batched path.

Both convert uint8 -> float in [0, 1] *before* resizing (bilinear, antialiased), then normalise,
so ``make_transform(s, train=False)(img)`` and ``to_tensor_batch(img[None], s)[0]`` agree to float
rounding.

Training augmentation (``train=True``), after the resize: ``RandomCrop(input_size,
padding=round(input_size / 8))`` with zero padding (4 px at 32 px, the usual CIFAR recipe) and
``RandomHorizontalFlip(0.5)``.
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np
import torch
import torch.nn.functional as F

from .grayscale import grayscale_minmax_batch
from .sources import ImageSource

__all__ = ["MEAN_STD", "resolve_mean_std", "make_transform", "to_tensor_batch", "ArrayDataset", "InputSpec",
           "RGB_IMAGENET"]

MEAN_STD = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}
# ITU-R 601-2 luma, as torchvision's rgb_to_grayscale.
_LUMA = (0.2989, 0.587, 0.114)

MeanStd = Union[str, None, tuple]


def resolve_mean_std(mean_std: MeanStd, grayscale: bool = False):
    """-> (mean, std) tuples, or None for no normalisation (values stay in [0, 1]).

    mean_std: "imagenet", "cifar10", "none"/None, or an explicit (mean, std) pair of sequences.
    With grayscale=True a named 3-channel setting is reduced to one channel with the luma weights.
    """
    if mean_std is None or (isinstance(mean_std, str) and mean_std.lower() == "none"):
        return None
    if isinstance(mean_std, str):
        try:
            mean, std = MEAN_STD[mean_std.lower()]
        except KeyError:
            raise ValueError(f"unknown mean_std {mean_std!r}; use one of {sorted(MEAN_STD)}, 'none' or (mean, std)")
    else:
        mean, std = mean_std
    mean, std = tuple(float(m) for m in mean), tuple(float(s) for s in std)
    if grayscale and len(mean) == 3:
        mean = (sum(w * m for w, m in zip(_LUMA, mean)),)
        std = (sum(w * s for w, s in zip(_LUMA, std)),)
    return mean, std


def make_transform(input_size: int, train: bool, mean_std: MeanStd = "imagenet", grayscale: bool = False):
    """A v2 transform: uint8 HWC numpy image, uint8 CHW tensor or PIL image -> float CHW tensor.

    Steps: ToImage, ToDtype(float32, scale=True), [Grayscale], Resize((input_size, input_size),
    antialias) (a no-op when the image already has that size), [train: RandomCrop with
    round(input_size/8) zero padding, RandomHorizontalFlip], [Normalize(mean_std)].
    """
    from torchvision.transforms import v2

    steps = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
    if grayscale:
        steps.append(v2.Grayscale(num_output_channels=1))
    steps.append(v2.Resize((input_size, input_size), antialias=True))
    if train:
        steps += [v2.RandomCrop(input_size, padding=max(1, round(input_size / 8)), fill=0),
                  v2.RandomHorizontalFlip(0.5)]
    ms = resolve_mean_std(mean_std, grayscale)
    if ms is not None:
        steps.append(v2.Normalize(mean=list(ms[0]), std=list(ms[1])))
    return v2.Compose(steps)


def to_tensor_batch(images: Union[np.ndarray, torch.Tensor], input_size: Optional[int] = None,
                    mean_std: MeanStd = "imagenet", grayscale: bool = False,
                    device: Union[str, torch.device, None] = None) -> torch.Tensor:
    """uint8 NHWC batch (numpy or tensor) -> normalised float32 NCHW tensor (evaluation path).

    Resizes with ``torch.nn.functional.interpolate(bilinear, antialias=True)`` when ``input_size``
    differs from the batch's size. ``device``: where to do the work (e.g. "cuda").
    """
    t = torch.as_tensor(np.ascontiguousarray(images) if isinstance(images, np.ndarray) else images)
    if t.dtype != torch.uint8 or t.ndim != 4 or t.shape[-1] not in (1, 3):
        raise ValueError(f"expected uint8 (N, H, W, 3) images, got {t.dtype} {tuple(t.shape)}")
    if device is not None:
        t = t.to(device)
    x = t.permute(0, 3, 1, 2).float().div_(255.0)
    if grayscale and x.shape[1] == 3:
        w = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        x = (x * w).sum(dim=1, keepdim=True)
    if input_size is not None and tuple(x.shape[-2:]) != (input_size, input_size):
        x = F.interpolate(x, size=(input_size, input_size), mode="bilinear", align_corners=False, antialias=True)
    ms = resolve_mean_std(mean_std, grayscale)
    if ms is not None:
        mean = torch.tensor(ms[0], dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(ms[1], dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        x = (x - mean) / std
    return x.contiguous()


class InputSpec:
    """What a network is fed, declared by its method: ``channels`` (3 = RGB, 1 = luminance) and
    ``norm`` (a :data:`MEAN_STD` name, ``"none"`` for [0, 1] values, or ``"minmax"``: each image's
    luminance min-max scaled to [0, 1], paper 003 §III,
    :func:`hashlib_core.data.grayscale.grayscale_minmax_batch`); the side length comes from the
    run's ``input_size``. The trainer, the encoder and the trunk cache all call :meth:`prepare`,
    so a method's inputs are the same wherever they are computed."""

    __slots__ = ("channels", "norm")

    def __init__(self, channels: int = 3, norm: str = "imagenet"):
        if channels not in (1, 3):
            raise ValueError(f"InputSpec.channels must be 1 or 3, got {channels!r}")
        if norm not in ("none", "minmax") and norm not in MEAN_STD:
            raise ValueError(f"InputSpec.norm must be one of {sorted(MEAN_STD) + ['none', 'minmax']}, got {norm!r}")
        if norm == "minmax" and channels != 1:
            raise ValueError("InputSpec.norm 'minmax' is paper 003's luminance input: channels must be 1")
        self.channels, self.norm = int(channels), str(norm)

    def prepare(self, images, input_size: Optional[int], device=None) -> torch.Tensor:
        if self.norm == "minmax":
            size = input_size or int(np.asarray(images).shape[1])
            x = grayscale_minmax_batch(images, size)
            return x.to(device) if device is not None else x
        return to_tensor_batch(images, input_size, mean_std=self.norm, grayscale=self.channels == 1, device=device)

    def key(self) -> dict:
        """What enters cache keys (only where it differs from the default RGB / ImageNet input)."""
        return {"channels": self.channels, "norm": self.norm}

    def __eq__(self, other) -> bool:
        return isinstance(other, InputSpec) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash((self.channels, self.norm))

    def __repr__(self) -> str:
        return f"InputSpec(channels={self.channels}, norm={self.norm!r})"


#: ImageNet-normalised RGB: what every method of papers 000 / 004 and the baselines is fed
RGB_IMAGENET = InputSpec()


class ArrayDataset(torch.utils.data.Dataset):
    """torch Dataset over uint8 NHWC images (an array or any :class:`ImageSource`) and labels.

    Item ``i`` is ``(image, label)``: image = ``transform(uint8 HWC numpy image)`` if a transform is
    given, else a uint8 CHW tensor; label = int64 scalar tensor for class ids, float32 (C,) tensor
    for multi-hot labels. ``labels=None`` takes ``images.labels`` from a source.
    """

    def __init__(self, images: Union[np.ndarray, ImageSource], labels: Optional[np.ndarray] = None,
                 transform=None):
        if labels is None:
            if not isinstance(images, ImageSource):
                raise ValueError("labels are required unless images is an ImageSource")
            labels = images.labels
        labels = np.asarray(labels)
        if len(labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images
        self.labels = labels
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        if isinstance(self.images, ImageSource):
            img = self.images.get_batch([i])[0]
        else:
            img = np.asarray(self.images[i])
        if self.transform is not None:
            x = self.transform(img)
        else:
            x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).contiguous()
        y = self.labels[i]
        if self.labels.ndim == 2:
            y = torch.from_numpy(np.asarray(y, dtype=np.float32))
        else:
            y = torch.tensor(int(y), dtype=torch.int64)
        return x, y
