"""Hashing networks.  One file per family; every model returns :class:`HashOutput` ``(u, logits)``."""

from .common import (
    BACKBONES,
    CONV_TAPS,
    GLOBAL_TAP,
    VARIANTS,
    Backbone,
    HashOutput,
    MultiScaleHashHead,
    MultiScaleHashNet,
    count_parameters,
    multiscale_hashnet,
    parameter_groups,
    register_backbone,
)
from .dshfmdf import VGG_CONFIGS, VGGBackbone, dshfmdf, load_vgg_weights, map_torchvision_vgg_state_dict
from .efficientnet_lite import EfficientNetLite0, EfficientNetLite0Backbone, efficientnet_lite0  # registers "efficientnet_lite0"
from .resnet import RESNET_CONFIGS, ResNetBackbone, load_resnet_weights  # registers "resnet18|34|50|101" (before hashlib_core.dshc can)

__all__ = [
    "BACKBONES",
    "CONV_TAPS",
    "GLOBAL_TAP",
    "VARIANTS",
    "Backbone",
    "HashOutput",
    "MultiScaleHashHead",
    "MultiScaleHashNet",
    "VGGBackbone",
    "VGG_CONFIGS",
    "count_parameters",
    "dshfmdf",
    "load_vgg_weights",
    "map_torchvision_vgg_state_dict",
    "multiscale_hashnet",
    "parameter_groups",
    "register_backbone",
    "EfficientNetLite0",
    "EfficientNetLite0Backbone",
    "efficientnet_lite0",
]
