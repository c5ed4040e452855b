"""List-file datasets (NUS-WIDE, MS-COCO) in the common deep-hashing format.

Each line is ``relative/path.jpg 0 1 0 ... 1``: an image path followed by a multi-hot label vector,
as in DeepHash-pytorch's ``data/nuswide_21/{database,test,train}.txt`` and
``data/coco/{database,test,train}.txt``. Paths are relative to an image root (absolute paths are
used as they are); a path may contain spaces (the label columns are read from the right).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np

__all__ = ["load_list_file", "ListFileDataset"]


def load_list_file(path: Union[str, os.PathLike],
                   image_root: Union[str, os.PathLike, None] = None) -> tuple[list[str], np.ndarray]:
    """Parse a list file -> (paths, uint8 (N, C) multi-hot labels). Blank lines are skipped.

    The label columns are the trailing integer tokens of a line; each must be 0 or 1 and every
    line must have as many as the first. With ``image_root`` every image must exist under it.
    Raises ValueError naming the file and line (``file:line``; the first line is line 1) -- a
    ``2`` in a label column is an error, never part of the path; a missing image is a
    FileNotFoundError listing the first ones missing, before any work.
    """
    path = Path(path)
    paths: list[str] = []
    rows: list[list[int]] = []
    lines: list[int] = []
    ncls: Optional[int] = None
    first_line = 0
    with open(path, "r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            toks = line.split()
            if not toks:
                continue
            k = len(toks)
            while k > 1 and toks[k - 1].lstrip("+-").isdigit():
                k -= 1
            labels = toks[k:]
            if not labels:
                raise ValueError(f"{path}:{lineno}: expected 'path 0 1 0 ...', got {line.strip()!r}")
            bad = [(j, t) for j, t in enumerate(labels, 1) if t not in ("0", "1")]
            if bad:
                j, t = bad[0]
                raise ValueError(f"{path}:{lineno}: label column {j} is {t!r}; labels must be 0 or 1 "
                                 f"(line {line.strip()!r})")
            if ncls is None:
                ncls, first_line = len(labels), lineno
            elif len(labels) != ncls:
                raise ValueError(f"{path}:{lineno}: {len(labels)} label columns, but line {first_line} "
                                 f"has {ncls}")
            # The path is everything before the label columns (keeps internal spaces).
            paths.append(line.strip().rsplit(None, len(labels))[0])
            rows.append([int(t) for t in labels])
            lines.append(lineno)
    if image_root is not None:
        root = Path(image_root)
        missing = [(ln, p) for ln, p in zip(lines, paths) if not os.path.isfile(root / p)]
        if missing:
            shown = "; ".join(f"{path}:{ln}: {root / p} does not exist" for ln, p in missing[:3])
            raise FileNotFoundError(f"{len(missing)} of the {len(paths)} images listed in {path} are missing "
                                    f"under {root} (first: {shown})")
    if ncls is None:
        return [], np.zeros((0, 0), dtype=np.uint8)
    return paths, np.asarray(rows, dtype=np.uint8).reshape(len(rows), ncls)


def _torch_dataset_base():
    import torch.utils.data

    return torch.utils.data.Dataset


class ListFileDataset(_torch_dataset_base()):
    """torch Dataset over a list file: item ``i`` is ``(image, multi_hot)``.

    image: ``transform(PIL RGB image)`` if a transform is given, else the PIL image.
    multi_hot: float32 tensor (C,) (what BCE-style losses take).
    root: the image root the list's paths are relative to.
    """

    def __init__(self, root: Union[str, os.PathLike], list_file: Union[str, os.PathLike],
                 transform: Optional[Callable] = None):
        self.root = Path(root)
        self.list_file = Path(list_file)
        if not self.list_file.is_absolute() and not self.list_file.exists():
            self.list_file = self.root / self.list_file
        self.paths, self.labels = load_list_file(self.list_file, image_root=self.root)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def num_classes(self) -> int:
        return int(self.labels.shape[1])

    def __getitem__(self, i: int):
        import torch
        from PIL import Image

        with Image.open(self.root / self.paths[i]) as im:
            img = im.convert("RGB")
        if self.transform is not None:
            img = self.transform(img)
        return img, torch.from_numpy(self.labels[i].astype(np.float32))
