"""Image sources: one interface over in-memory CIFAR-10, generated mosaics and images on disk.

Every part of a :class:`~hashlib_core.data.protocols.Split` (query / database / train) is an
:class:`ImageSource`:

* ``len(src)``, ``src.labels`` (int64 (N,) class ids, or uint8 (N, C) multi-hot),
  ``src.indices`` (where the items come from, see each class), ``src.multi_label``,
  ``src.num_classes``, ``src.class_names``, ``src.image_size`` (native side length in pixels);
* ``src.get_batch(positions, size=None)`` -> uint8 (B, size, size, 3) NHWC RGB; ``size=None`` gives
  the native size (CIFAR 32, mosaics 64, files ``image_size``, 224 by default);
* ``src.images`` -> all images as one uint8 NHWC array (built on first use and kept; for
  :class:`FileSource` this reads every file, so prefer ``get_batch``);
* ``src.take(positions)`` -> a source of the same kind restricted to those positions.

A trainer therefore only needs ``len``, ``labels`` and ``get_batch`` and treats all of them alike.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

__all__ = [
    "ImageSource",
    "ArraySource",
    "MosaicSource",
    "FileSource",
    "resize_uint8",
    "assemble_mosaics",
]


def resize_uint8(images: np.ndarray, size: int) -> np.ndarray:
    """Resize uint8 NHWC images to size x size (bilinear, antialiased), returning uint8 NHWC."""
    images = np.asarray(images)
    if images.shape[1] == size and images.shape[2] == size:
        return images
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return t.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def assemble_mosaics(base_images: np.ndarray, tiles: np.ndarray) -> np.ndarray:
    """Build 2x2 mosaics from tile indices.

    tiles: int (B, 4) indices into ``base_images`` (N, h, w, 3), in the order top-left, top-right,
    bottom-left, bottom-right. Returns uint8 (B, 2h, 2w, 3).
    """
    tiles = np.asarray(tiles)
    b = tiles.shape[0]
    h, w, c = base_images.shape[1:]
    t = base_images[tiles.reshape(-1)].reshape(b, 2, 2, h, w, c)
    return np.ascontiguousarray(t.transpose(0, 1, 3, 2, 4, 5).reshape(b, 2 * h, 2 * w, c))


class ImageSource:
    """Base class; see the module docstring for the interface."""

    kind = "abstract"
    in_memory = True

    def __init__(self, labels: np.ndarray, indices: np.ndarray, class_names: Sequence[str]):
        labels = np.asarray(labels)
        if labels.ndim == 2:
            labels = labels.astype(np.uint8, copy=False)
        else:
            labels = labels.astype(np.int64, copy=False)
        labels.setflags(write=False)
        self.labels = labels
        indices = np.asarray(indices)
        indices.setflags(write=False)
        self.indices = indices
        self.class_names = list(class_names)
        self._images: Optional[np.ndarray] = None

    # -- interface --------------------------------------------------------------------------
    image_size: Optional[int] = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def multi_label(self) -> bool:
        return self.labels.ndim == 2

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def multi_hot(self) -> np.ndarray:
        """Labels as uint8 (N, C) multi-hot (one-hot for single-label sources)."""
        if self.multi_label:
            return self.labels
        out = np.zeros((len(self), self.num_classes), dtype=np.uint8)
        out[np.arange(len(self)), self.labels] = 1
        return out

    def _native_batch(self, positions: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_batch(self, positions, size: Optional[int] = None) -> np.ndarray:
        """uint8 (B, size, size, 3) for the items at ``positions`` (0 .. len-1)."""
        positions = np.asarray(positions, dtype=np.int64).reshape(-1)
        if positions.size and (positions.min() < -len(self) or positions.max() >= len(self)):
            raise IndexError(f"positions out of range for a source of {len(self)} items")
        if self._images is not None:
            batch = self._images[positions]
        else:
            batch = self._native_batch(positions)
        if size is not None:
            batch = resize_uint8(batch, int(size))
        return batch

    @property
    def images(self) -> np.ndarray:
        """All images, uint8 NHWC at the native size (materialised once, read-only)."""
        if self._images is None:
            imgs = self._native_batch(np.arange(len(self), dtype=np.int64))
            imgs.setflags(write=False)
            self._images = imgs
        return self._images

    def __getitem__(self, i: int):
        """(uint8 HWC image, label) of item ``i``."""
        return self.get_batch([int(i)])[0], self.labels[int(i)]

    def take(self, positions) -> "ImageSource":  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> dict:
        d = {"kind": self.kind, "size": len(self), "image_size": self.image_size,
             "multi_label": self.multi_label}
        if self.multi_label:
            per = self.labels.sum(axis=1)
            d["labels_per_image"] = {"mean": float(per.mean()) if len(self) else 0.0,
                                     "min": int(per.min()) if len(self) else 0,
                                     "max": int(per.max()) if len(self) else 0}
            d["class_counts"] = self.labels.sum(axis=0).astype(int).tolist()
        else:
            d["class_counts"] = np.bincount(self.labels, minlength=self.num_classes).astype(int).tolist()
        return d

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={len(self)}, image_size={self.image_size}, multi_label={self.multi_label})"


class ArraySource(ImageSource):
    """A subset of in-memory images. ``indices``: int64 (N,) rows of ``base_images``."""

    kind = "array"

    def __init__(self, base_images: np.ndarray, indices: np.ndarray, labels: np.ndarray,
                 class_names: Sequence[str]):
        indices = np.asarray(indices, dtype=np.int64)
        super().__init__(labels, indices, class_names)
        if len(indices) != len(self.labels):
            raise ValueError("indices and labels differ in length")
        self.base_images = base_images
        self.image_size = int(base_images.shape[1])

    def _native_batch(self, positions):
        return self.base_images[self.indices[positions]]

    def take(self, positions) -> "ArraySource":
        positions = np.asarray(positions, dtype=np.int64)
        return ArraySource(self.base_images, self.indices[positions], self.labels[positions], self.class_names)


class MosaicSource(ImageSource):
    """2x2 mosaics assembled on the fly. ``indices``: int64 (M, 4) tile table into ``base_images``
    (top-left, top-right, bottom-left, bottom-right)."""

    kind = "mosaic"

    def __init__(self, base_images: np.ndarray, tiles: np.ndarray, labels: np.ndarray,
                 class_names: Sequence[str]):
        tiles = np.asarray(tiles, dtype=np.int64)
        if tiles.ndim != 2 or tiles.shape[1] != 4:
            raise ValueError(f"tiles must be (M, 4), got {tiles.shape}")
        super().__init__(labels, tiles, class_names)
        self.base_images = base_images
        self.image_size = 2 * int(base_images.shape[1])

    @property
    def tiles(self) -> np.ndarray:
        return self.indices

    def _native_batch(self, positions):
        return assemble_mosaics(self.base_images, self.indices[positions])

    def take(self, positions) -> "MosaicSource":
        positions = np.asarray(positions, dtype=np.int64)
        return MosaicSource(self.base_images, self.indices[positions], self.labels[positions], self.class_names)


class FileSource(ImageSource):
    """Images read lazily from disk. ``indices``: int64 (N,) line numbers in ``list_file``.

    ``paths`` are relative to ``image_root`` (absolute paths are used as they are). Every image is
    converted to RGB and resized (bilinear, no crop, aspect ratio not kept) to ``size`` x ``size``;
    ``size=None`` uses ``image_size`` (default 224).
    """

    kind = "files"
    in_memory = False

    def __init__(self, image_root: Union[str, os.PathLike], paths: Sequence[str], labels: np.ndarray,
                 class_names: Sequence[str], indices: Optional[np.ndarray] = None,
                 list_file: Optional[Union[str, os.PathLike]] = None, image_size: int = 224):
        if indices is None:
            indices = np.arange(len(paths), dtype=np.int64)
        super().__init__(labels, np.asarray(indices, dtype=np.int64), class_names)
        self.image_root = Path(image_root)
        self.paths = list(paths)
        if len(self.paths) != len(self.labels):
            raise ValueError("paths and labels differ in length")
        self.list_file = Path(list_file) if list_file is not None else None
        self.image_size = int(image_size)

    def full_path(self, i: int) -> Path:
        return self.image_root / self.paths[int(i)]

    def load_pil(self, i: int):
        from PIL import Image

        with Image.open(self.full_path(i)) as im:
            return im.convert("RGB")

    def _native_batch(self, positions):
        return self._read(positions, self.image_size)

    def _read(self, positions, size: int) -> np.ndarray:
        from PIL import Image

        out = np.empty((len(positions), size, size, 3), dtype=np.uint8)
        for j, p in enumerate(positions):
            im = self.load_pil(int(p))
            if im.size != (size, size):
                im = im.resize((size, size), Image.BILINEAR)
            out[j] = np.asarray(im, dtype=np.uint8)
        return out

    def get_batch(self, positions, size: Optional[int] = None) -> np.ndarray:
        positions = np.asarray(positions, dtype=np.int64).reshape(-1)
        if positions.size and (positions.min() < -len(self) or positions.max() >= len(self)):
            raise IndexError(f"positions out of range for a source of {len(self)} items")
        if self._images is not None and (size is None or size == self.image_size):
            return self._images[positions]
        # Resize from the original file (one interpolation), not from the cached native size.
        return self._read(positions, int(size) if size is not None else self.image_size)

    def take(self, positions) -> "FileSource":
        positions = np.asarray(positions, dtype=np.int64)
        return FileSource(self.image_root, [self.paths[int(p)] for p in positions], self.labels[positions],
                          self.class_names, self.indices[positions], self.list_file, self.image_size)
