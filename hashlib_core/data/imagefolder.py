"""Image folders in torchvision's ``ImageFolder`` layout (``<root>/<class>/<image>``): ImageNet for
users who own it.

The folder is scanned by :class:`torchvision.datasets.ImageFolder` itself (its class folders, its
image extensions, its sorted order); only the choice of classes is ours: every class folder under
the root (ImageFolder's own rule: the sorted folder names), or the class folders listed in a
``classes.txt`` (one folder name a line, in the order listed; ImageFolder ignores files in the
root, so the list lives beside the class folders). Nothing is read but the folder listing: the
images are read lazily, one batch at a time, by :class:`~hashlib_core.data.sources.FileSource`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

__all__ = ["CLASS_LIST", "read_class_list", "image_folder", "scan_image_folder"]

#: the optional list of class folders to use, in the ImageFolder root
CLASS_LIST = "classes.txt"


def read_class_list(path: Union[str, os.PathLike]) -> list[str]:
    """The class folder names listed in ``path``, one a line (blank lines skipped); a name listed
    twice or containing a path separator is a ValueError naming ``file:line``."""
    path = Path(path)
    names: list[str] = []
    first: dict[str, int] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        name = line.strip()
        if not name:
            continue
        if "/" in name or os.sep in name:
            raise ValueError(f"{path}:{lineno}: {name!r} is not a class folder name (one folder name a line)")
        if name in first:
            raise ValueError(f"{path}:{lineno}: class {name!r} is listed twice (first on line {first[name]})")
        first[name] = lineno
        names.append(name)
    if not names:
        raise ValueError(f"{path}: lists no class folder (one folder name a line)")
    return names


def image_folder(root: Union[str, os.PathLike], classes: Optional[Sequence[str]] = None):
    """``torchvision.datasets.ImageFolder(root)``, restricted to the class folders ``classes`` (in
    that order, target = position in it) when given -- through ImageFolder's documented hook,
    ``find_classes``. A listed class without a folder, a class folder without an image, or a root
    without class folders is torchvision's FileNotFoundError."""
    from torchvision.datasets import ImageFolder

    listed = None if classes is None else list(classes)

    class ListedImageFolder(ImageFolder):
        def find_classes(self, directory):
            if listed is None:
                return super().find_classes(directory)
            missing = [c for c in listed if not os.path.isdir(os.path.join(directory, c))]
            if missing:
                raise FileNotFoundError(f"{len(missing)} of the {len(listed)} listed classes have no folder in "
                                        f"{directory} (first: {', '.join(missing[:3])})")
            return listed, {c: i for i, c in enumerate(listed)}

    return ListedImageFolder(str(root))


def scan_image_folder(root: Union[str, os.PathLike]) -> dict:
    """The images of an ImageFolder tree as the protocols use them:
    ``{"paths": [path relative to root, ...], "targets": int64 (N,), "classes": [...],
    "class_rule": "classes.txt" | "every class folder"}``, in ImageFolder's order. ``classes.txt``
    in ``root`` (:data:`CLASS_LIST`) restricts the classes (:func:`read_class_list`)."""
    root = Path(root)
    class_list = root / CLASS_LIST
    classes = read_class_list(class_list) if class_list.is_file() else None
    ds = image_folder(root, classes)
    base = str(root)
    paths = [os.path.relpath(p, base) for p, _ in ds.samples]
    return {"paths": paths, "targets": np.asarray(ds.targets, dtype=np.int64), "classes": list(ds.classes),
            "class_rule": CLASS_LIST if classes is not None else "every class folder"}
