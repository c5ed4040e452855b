"""Frozen-trunk training: run a pretrained backbone once over the images, cache its taps on disk.

With the backbone frozen (``train.freeze_backbone: true`` in a run's config) the trunk is a fixed
function of the image, so its taps (``conv3``/``conv4``/``conv5`` maps and the ``fc1`` vector) are
computed once per (trunk, input size, image set) and every run that shares them - every code length,
seed, loss weight and head variant of a table - trains and encodes only the head. This is what makes
an ImageNet-pretrained EfficientNet-Lite0 at 224 px affordable on 2 CPU cores: the trunk pass over
the 60,000 CIFAR-10 images is paid once, not once per run (docs/decisions.md, "EfficientNet-Lite0
recipe of the cpu profile").

The trunk runs in eval mode (batch-norm running statistics, no dropout), in channels-last memory
format (2.5x faster for the depthwise convolutions on this CPU, same numbers up to float rounding).
Taps are stored as float16 ``.npy`` files (memory-mapped on read: 60,000 images at 224 px are
about 8 GiB) under ``<cache_root>/trunk/<trunk key>/<image-set key>@<taps>/``, written into a
temporary folder and renamed into place, so a present folder is a complete one; a folder holding
more taps than a model needs serves it too (the fused model's cache serves the Table 4 variants).
Horizontal flips (the augmentation available to a frozen trunk) are a second cached view of the
training images.

Each cache folder's ``SHA256SUMS`` (every tap and ``meta.json``) is written last and verified on
load, in full, once per process per file (:func:`hashlib_core.integrity.verify_file`): a
truncated, zeroed or edited tap is a miss and is recomputed, never fed to a head. A per-folder file
lock makes concurrent processes compute a trunk pass once; at the start of a pass, temporary
folders left by killed passes (their writer's pid is gone) are removed.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from hashlib_core.progress import tqdm, write

from hashlib_core.data.identity import source_identity
from hashlib_core.data.transforms import RGB_IMAGENET, InputSpec
from hashlib_core.integrity import verify_folder, write_checksums
from hashlib_core.paths import atomic_dir, cache_root, remove_stale_temps

log = logging.getLogger("hashlib_core.cache")

__all__ = ["TRUNK_VERSION", "trunk_key", "trunk_taps", "trunk_views", "image_set_keys", "TapInputs", "IndexedRows", "HeadOnly", "frozen_trunk_parts"]

#: bump when the trunk pass changes in a way that changes the cached taps
TRUNK_VERSION = 1


def trunk_key(model_config: Mapping[str, Any], input_size: int, num_threads: int | None,
              input_spec: InputSpec = RGB_IMAGENET) -> str:
    """What determines a trunk's taps: backbone, width, weights, input size, the method's input
    spec (only when it is not the default RGB / ImageNet input, so existing keys stay) and the
    thread count (it changes float summation order)."""
    keep = {k: model_config.get(k) for k in ("backbone", "width", "weights", "tap_blocks", "input_norm")}
    if input_spec != RGB_IMAGENET:
        keep["input_spec"] = input_spec.key()
    payload = json.dumps({"v": TRUNK_VERSION, "input_size": int(input_size), "threads": num_threads, **keep},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _pass(backbone: torch.nn.Module, get_batch, n: int, input_size: int, flip: bool, batch_size: int,
          folder: Path, progress: bool, desc: str, input_spec: InputSpec = RGB_IMAGENET) -> None:
    """Run the trunk over items 0..n-1 and write one float16 .npy per tap into ``folder``."""
    outs: dict[str, np.ndarray] = {}
    device = next(backbone.parameters()).device
    with torch.inference_mode():
        for start in tqdm(range(0, n, batch_size), desc=desc, disable=not progress, leave=False):
            idx = np.arange(start, min(n, start + batch_size))
            x = input_spec.prepare(get_batch(idx), input_size, device=device)
            if flip:
                x = x.flip(3)
            taps = backbone(x.contiguous(memory_format=torch.channels_last))
            for name, t in taps.items():
                if name not in outs:
                    outs[name] = np.lib.format.open_memmap(folder / f"{name}.npy", mode="w+",
                                                           dtype=np.float16, shape=(n, *t.shape[1:]))
                outs[name][start:start + len(idx)] = t.float().cpu().numpy().astype(np.float16)
    for arr in outs.values():
        arr.flush()
    (folder / "meta.json").write_text(json.dumps({"n": n, "taps": {k: list(v.shape) for k, v in outs.items()}}))
    write_checksums(folder, ["meta.json"] + [f"{name}.npy" for name in outs])  # last


def _load(folder: Path, n: int, required: set[str], log_miss: bool = True) -> dict[str, np.ndarray] | None:
    """The taps in ``folder`` if it is complete, verified and holds ``required`` for ``n`` items."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if not isinstance(meta, dict) or not isinstance(meta.get("taps"), dict) or not isinstance(meta.get("n"), int):
            raise ValueError(f"meta.json is not a trunk-cache meta: {str(meta)[:60]}")
        if meta["n"] != n or not required <= set(meta["taps"]):
            return None  # a complete folder of fewer taps: another folder (or a new pass) serves
        verify_folder(folder, ["meta.json"] + [f"{name}.npy" for name in meta["taps"]], remember=True)
        taps = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in meta["taps"]}
        if any(list(a.shape) != meta["taps"][k] or a.dtype != np.float16 for k, a in taps.items()):
            raise ValueError("a tap's shape or dtype differs from meta.json")
        return taps
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as err:
        if log_miss and folder.exists():  # under the folder's lock: remove it (GiBs, re-hashed on every scan)
            log.warning("trunk cache miss, recomputing %s: %s", folder, err)
            shutil.rmtree(folder, ignore_errors=True)
        return None


def _find(root: Path, stem: str, n: int, required: set[str], log_miss: bool = True) -> dict[str, np.ndarray] | None:
    """Cached taps of ``stem`` holding at least the ``required`` taps (a fused model's cache also
    serves its fc1-only and conv3-5-only variants)."""
    for folder in sorted(root.glob(f"{stem}@*")):
        taps = _load(folder, n, required, log_miss)
        if taps is not None:
            return taps
    return None


def _required_taps(backbone) -> set[str]:
    return set(getattr(backbone, "conv_taps", ())) | ({"fc1"} if getattr(backbone, "global_dim", None) else set())


def _image_sets(source, flip: bool):
    """``([(image-set key, n, take), ...], get_batch)``: the image sets whose taps serve ``source``,
    in lookup order — the whole base array's (when ``source`` is a part of one), then the one a
    pass over ``source`` writes (itself, or the whole base for a part that covers much of it);
    ``take`` indexes ``source``'s rows in that set (None: all of it, in order)."""
    suffix = "-flip" if flip else ""
    base_stem, base_n, _, base_take = source_identity(source, whole_base_fraction=0.0)
    stem, n, get_batch, take = source_identity(source)
    whole_base = [(base_stem + suffix, base_n, base_take)] if base_take is not None else []
    return whole_base + [(stem + suffix, n, take)], get_batch


def image_set_keys(source, flip: bool = False) -> list[str]:
    """The image-set keys under a trunk's cache folder whose taps serve ``source`` (any one does)."""
    return list(dict.fromkeys(stem for stem, _, _ in _image_sets(source, flip)[0]))


def trunk_views(split, augment: bool) -> list[tuple[str, Any, bool]]:
    """``(name, part, flip)`` of every image set a frozen run of ``split`` reads, in pass order:
    the database first (a large part is passed as the whole base array, which the others then
    reuse), the queries, the training images, their mirrored view when training augments."""
    views = [("database", split.database, False), ("query", split.query, False), ("train", split.train, False)]
    return views + ([("train", split.train, True)] if augment else [])


def trunk_taps(backbone: torch.nn.Module, source, key: str, input_size: int, flip: bool = False,
               batch_size: int = 64, progress: bool = True, desc: str = "trunk",
               input_spec: InputSpec = RGB_IMAGENET) -> dict[str, np.ndarray]:
    """Float16 taps ``{name: (len(source), ...)}`` of a frozen ``backbone`` for every item of ``source``.

    ``key`` is :func:`trunk_key` of the backbone's config. For a CIFAR-10 part that covers much of
    the base array, the whole base is passed once and indexed (every protocol and seed reuses it).
    """
    root = cache_root() / "trunk" / key
    required = _required_taps(backbone)
    sets, get_batch = _image_sets(source, flip)
    *whole_base, (stem, n, take) = sets
    for base_stem, base_n, base_take in whole_base:
        taps = _find(root, base_stem, base_n, required, log_miss=False)
        if taps is not None:  # the whole base is already there: any part of it is a view
            return {name: IndexedRows(arr, base_take) for name, arr in taps.items()}
    taps = _find(root, stem, n, required, log_miss=False)
    if taps is None:
        import filelock

        folder = root / f"{stem}@{'+'.join(sorted(required))}"
        locks = cache_root() / "locks" / "trunk" / key  # beside, not inside, the cache folders
        locks.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(locks / f"{stem}.lock"))
        try:
            lock.acquire(timeout=1)
        except filelock.Timeout:
            # the folder's name, not its path: a stored notebook holds no machine paths
            write(f"{desc}: another process is computing these trunk taps ({folder.name}); waiting")
            lock.acquire()
        try:
            remove_stale_temps(root)  # a killed pass's full-size memmaps
            taps = _find(root, stem, n, required)  # it may have been written meanwhile
            if taps is None:
                backbone.eval().to(memory_format=torch.channels_last)
                with atomic_dir(folder) as tmp:
                    _pass(backbone, get_batch, n, input_size, flip, batch_size, tmp, progress,
                          f"{desc}{' (flipped)' if flip else ''}: {n} images at {input_size} px", input_spec)
                taps = _load(folder, n, required)
                if taps is None:  # pragma: no cover - the folder was just written
                    raise RuntimeError(f"trunk taps at {folder} failed to load right after writing")
        finally:
            lock.release()
    if take is None:
        return taps
    return {name: IndexedRows(arr, take) for name, arr in taps.items()}


class IndexedRows:
    """Rows ``take`` of an array, read lazily (``rows[idx]`` reads ``array[take[idx]]``), so a
    part of a memory-mapped whole-base array is never copied whole into memory."""

    def __init__(self, array: np.ndarray, take: np.ndarray):
        self.array = array
        self.take = np.asarray(take, dtype=np.int64)
        self.shape = (len(self.take), *array.shape[1:])
        self.dtype = array.dtype

    def __len__(self) -> int:
        return len(self.take)

    def __getitem__(self, idx) -> np.ndarray:
        return np.asarray(self.array[self.take[idx]])


class TapInputs:
    """A part whose model inputs are cached trunk taps (for the head of a frozen-trunk model).

    ``views``: the taps of the images, then optionally of their horizontal flips; with a generator
    (training with augmentation) each item draws one view, without one (encoding) view 0 is used.
    """

    def __init__(self, labels: np.ndarray, views: list[dict[str, np.ndarray]], device: str = "cpu"):
        if not views:
            raise ValueError("TapInputs needs at least one view")
        n = {len(a) for v in views for a in v.values()}
        if n != {len(labels)}:
            raise ValueError(f"taps cover {sorted(n)} items but there are {len(labels)} labels")
        self.labels = labels
        self.views = views
        self.device = device

    def __len__(self) -> int:
        return len(self.labels)

    def inputs(self, idx: np.ndarray, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        idx = np.asarray(idx)
        if generator is None or len(self.views) == 1:
            choice = np.zeros(len(idx), dtype=np.int64)
        else:
            choice = torch.randint(0, len(self.views), (len(idx),), generator=generator).numpy()
        out = {}
        for name in self.views[0]:
            rows = np.empty((len(idx), *self.views[0][name].shape[1:]), dtype=np.float32)
            for v, view in enumerate(self.views):
                sel = choice == v
                if sel.any():
                    rows[sel] = view[name][idx[sel]]
            out[name] = torch.from_numpy(rows).to(self.device)
        return out


class HeadOnly(torch.nn.Module):
    """``model`` seen from its taps: ``forward(taps) = model.forward_taps(taps)``. The trunk stays a
    (frozen, unused) sub-module, so the trained head is still ``model``'s own parameters.

    ``tune_tail``: fc1 is recomputed from the cached conv5 tap by the trunk's own head conv
    (``backbone.fc1_from_last_block``), whose layers (``backbone.tail_modules()``) then train with
    the head: partial fine-tuning of the trunk's last layer at the cost of the head (issue 16)."""

    def __init__(self, model: torch.nn.Module, tune_tail: bool = False):
        super().__init__()
        self.model = model
        self.tune_tail = bool(tune_tail)

    @property
    def backbone(self) -> torch.nn.Module:
        """The wrapped model's trunk, so the optimiser puts a tuned tail in the backbone group
        (``train.backbone_lr``; :func:`hashlib_core.models.common.parameter_groups`)."""
        return self.model.backbone

    def forward(self, taps):
        if self.tune_tail:
            taps = {**taps, "fc1": self.backbone.fc1_from_last_block(taps["conv5"])}
        return self.model.forward_taps(taps)


def frozen_trunk_parts(model: torch.nn.Module, split, config, augment: bool, progress: bool = True,
                       input_spec: InputSpec = RGB_IMAGENET, tune_tail: bool = False):
    """Freeze ``model.backbone`` and return ``(head, train, query, database)``: ``head`` =
    :class:`HeadOnly` of ``model``, the parts :class:`TapInputs` over the cached taps (the training
    part with its flipped view when ``augment``). ``config`` is the run's
    :class:`~hashlib_core.runner.RunConfig`. Any model with a ``backbone`` and ``forward_taps`` works
    (DSHFMDF and its variants, the deep baselines, DSHC)."""
    backbone = getattr(model, "backbone", None)
    if backbone is None or not hasattr(model, "forward_taps"):
        raise ValueError(f"freeze_backbone needs a model with .backbone and .forward_taps, got {type(model).__name__}")
    backbone.requires_grad_(False)
    if tune_tail:  # the layers after the conv5 tap train (from its cached values) with the head
        if not hasattr(backbone, "tail_modules"):
            raise ValueError(f"train.tune_tail: backbone {type(backbone).__name__} has no trainable tail "
                             "(supported: the EfficientNet-Lite backbones)")
        for m in backbone.tail_modules():
            m.requires_grad_(True)
    backbone.to(config.device)
    key = trunk_key(dict(config.model), config.input_size, config.num_threads, input_spec)
    batch = 64  # channels-last depthwise convs run fastest in small batches on this CPU (benches/)

    needed = _required_taps(backbone) - ({"fc1"} if tune_tail else set())  # fc1: recomputed from conv5

    def taps(part, name, flip=False):
        got = trunk_taps(backbone, part, key, config.input_size, flip=flip, batch_size=batch,
                         progress=progress, desc=f"trunk {name}", input_spec=input_spec)
        return {t: a for t, a in got.items() if t in needed}  # read only what the head uses

    got: dict[str, list] = {}
    for name, part, flip in trunk_views(split, augment):
        got.setdefault(name, []).append(taps(part, name, flip=flip))
    database = TapInputs(np.asarray(split.database.labels), got["database"], config.device)
    query = TapInputs(np.asarray(split.query.labels), got["query"], config.device)
    train = TapInputs(np.asarray(split.train.labels), got["train"], config.device)
    return HeadOnly(model, tune_tail), train, query, database
