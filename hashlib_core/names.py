"""The one table of display names: methods as the papers' tables name them, backbones as table
rows show them, and which paper dataset each of our protocols stands for."""
from __future__ import annotations

__all__ = ["PAPER_NAME", "BACKBONE_NAMES", "PAPER_DATASET", "paper_method_name", "backbone_name"]

#: our method name -> the name the papers' tables use (DSHC's multi-label code is paper 004's "DSHC" row)
PAPER_NAME = {
    "lsh": "LSH", "pcah": "PCAH", "itq": "ITQ", "sh": "SH", "sdh": "SDH", "ksh": "KSH",
    "dpsh": "DPSH", "hashnet": "HashNet", "dhn": "DHN", "dch": "DCH", "csq": "CSQ", "dsdh": "DSDH",
    "dshfmdf": "DSHFMDF", "dshc": "DSHC", "dshc-multilabel": "DSHC", "mdffsh": "MDFF-SH", "dmsh": "DMSH",
}

#: backbone registry name -> how a table row names it
BACKBONE_NAMES = {"vgg13_bn": "VGG-13-BN", "vgg16_bn": "VGG-16-BN", "vgg19_bn": "VGG-19-BN",
                  "efficientnet_lite0": "EfficientNet-Lite0", "efficientnet_lite1": "EfficientNet-Lite1",
                  "efficientnet_lite2": "EfficientNet-Lite2", "resnet50": "ResNet-50", "resnet101": "ResNet-101"}

#: our protocol -> the paper dataset whose column it fills. The mosaic stand-in is compared with the
#: papers' NUS-WIDE column, and every table that does so says it is a stand-in.
PAPER_DATASET = {
    "cifar10-dshfmdf": "cifar10",
    "cifar10-dshc": "cifar10",
    "cifar10-mosaic": "nuswide21",
    "cifar10-mosaic-coco": "mscoco",
    "nuswide21": "nuswide21",
    "mscoco": "mscoco",
    # paper 003's Table I / II columns (its NUS-WIDE has the 81 tags)
    "cifar10-selfsup": "cifar10",
    "imagenet-selfsup": "imagenet",
    "nuswide-selfsup": "nuswide81",
    "mosaic-selfsup": "nuswide81",
}


def paper_method_name(method: str) -> str:
    """The papers' name of ``method`` (upper case of ours when no paper names it)."""
    return PAPER_NAME.get(method, method.upper())


def backbone_name(backbone: str) -> str:
    return BACKBONE_NAMES.get(str(backbone), str(backbone))
