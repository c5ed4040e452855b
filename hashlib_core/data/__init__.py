"""Data: CIFAR-10 loading, named seeded protocols, the multi-label mosaic stand-in, list-file
datasets (NUS-WIDE / MS-COCO) and transforms. See docs/data.md."""

from .cifar import (
    CIFAR10_CLASSES,
    CorruptDatasetError,
    DatasetNotFoundError,
    ImageArrays,
    cifar10_source,
    ensure_cifar10,
    load_cifar10,
    read_cifar10_batches,
)
from .listfile import ListFileDataset, load_list_file
from .mosaic import MOSAIC_K_PROBS, MOSAIC_SIZES, build_mosaic_table, mosaic_labels
from .protocols import (
    PROTOCOLS,
    SPLIT_VERSION,
    Split,
    SplitChecksumError,
    get_protocol,
    label_statistics,
    list_protocols,
    split_checksum,
)
from .sources import ArraySource, FileSource, ImageSource, MosaicSource, assemble_mosaics, resize_uint8
from .transforms import MEAN_STD, ArrayDataset, make_transform, resolve_mean_std, to_tensor_batch

__all__ = [
    "CIFAR10_CLASSES",
    "CorruptDatasetError",
    "DatasetNotFoundError",
    "ImageArrays",
    "cifar10_source",
    "ensure_cifar10",
    "load_cifar10",
    "read_cifar10_batches",
    "ListFileDataset",
    "load_list_file",
    "MOSAIC_K_PROBS",
    "MOSAIC_SIZES",
    "build_mosaic_table",
    "mosaic_labels",
    "PROTOCOLS",
    "SPLIT_VERSION",
    "Split",
    "SplitChecksumError",
    "get_protocol",
    "label_statistics",
    "list_protocols",
    "split_checksum",
    "ArraySource",
    "FileSource",
    "ImageSource",
    "MosaicSource",
    "assemble_mosaics",
    "resize_uint8",
    "MEAN_STD",
    "ArrayDataset",
    "make_transform",
    "resolve_mean_std",
    "to_tensor_batch",
]
