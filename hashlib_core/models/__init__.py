"""Hashing networks, one file per family; every model returns a NamedTuple with ``u`` (the
continuous code) and ``logits``.

| file | what |
| --- | --- |
| ``common.py`` | ``HashOutput``, the ``Backbone`` interface, the backbone registry (refuses duplicates) |
| ``multiscale.py`` | the multi-scale fusion hash head (paper 000 §3.2, paper 001) |
| ``vgg.py`` | VGG-11/13/16/19 trunks (paper 000) |
| ``efficientnet_lite.py`` | ImageNet EfficientNet-Lite0 (offline weights) |
| ``resnet.py`` | multi-tap ResNet-18/34/50/101 trunks (papers 001, 004) |
| ``dshfmdf.py`` | ``dshfmdf(...)`` (paper 000) and ``fc1_hashnet(...)`` (the deep baselines' network) |
| ``mdffsh.py`` | ``mdffsh(backbone="resnet50", ...)`` (paper 001), ``dmsh(...)`` (paper 002): ``dshfmdf`` on another backbone / tap set; imported by name (it registers no backbone) |
| ``dshc.py`` | DSHC's sub-class classifiers (paper 004) |

Importing this package imports every family, so every backbone is registered whatever a process
imports first.
"""

from .common import (
    BACKBONES,
    CONV_TAPS,
    GLOBAL_TAP,
    Backbone,
    HashOutput,
    build_backbone,
    count_parameters,
    parameter_groups,
    register_backbone,
)
from .multiscale import VARIANTS, MultiScaleHashHead, MultiScaleHashNet, multiscale_hashnet, normalize_variant
from .vgg import VGG_CONFIGS, VGGBackbone, load_vgg_weights, map_torchvision_vgg_state_dict
from .efficientnet_lite import EfficientNetLite0, EfficientNetLite0Backbone, efficientnet_lite0
from .resnet import RESNET_CONFIGS, ResNetBackbone, load_resnet_weights
from .dshfmdf import dshfmdf, fc1_hashnet
from .dshc import DSHCMultiLabelNet, DSHCNet, dshc_model, dshc_multilabel_model

__all__ = [
    "BACKBONES", "CONV_TAPS", "GLOBAL_TAP", "VARIANTS", "Backbone", "HashOutput", "MultiScaleHashHead",
    "MultiScaleHashNet", "VGGBackbone", "VGG_CONFIGS", "build_backbone", "count_parameters", "dshfmdf",
    "fc1_hashnet", "load_vgg_weights", "map_torchvision_vgg_state_dict", "multiscale_hashnet", "normalize_variant",
    "parameter_groups", "register_backbone", "EfficientNetLite0", "EfficientNetLite0Backbone", "efficientnet_lite0",
    "RESNET_CONFIGS", "ResNetBackbone", "load_resnet_weights", "DSHCNet", "DSHCMultiLabelNet", "dshc_model", "dshc_multilabel_model",
]
