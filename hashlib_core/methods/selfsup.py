"""Paper 003 (Kim et al., self-supervised hashing): VAE, CVAE, CSVAE (CVAE + SimAM) and VTE (ViT
variational encoder), trained without labels.

Network: :data:`hashlib_core.models.selfsup.SELFSUP_MODELS`; objective: reconstruction + KL
(:class:`hashlib_core.losses.vae.VAECriterion`, reading the input from the batch); input: luminance,
min-max scaled per image (``InputSpec(channels=1, norm="minmax")``); code: the encoder's mean
thresholded at its training-set mean per bit
(:class:`~hashlib_core.quantizers.MeanThresholdQuantizer`, fitted on the training images' outputs);
Table I / II readings as extra metrics, computed and cached with the run. The profile's training
schedule and input size apply; its ``width`` (a VGG channel multiplier) does not. Choices:
docs/decisions.md "Paper 003 (self-supervised hashing)".
"""
from __future__ import annotations

from hashlib_core.data.transforms import InputSpec
from hashlib_core.losses.vae import LOSS_DEFAULTS, VAECriterion
from hashlib_core.metrics_selfsup import collision_readings, table1_readings
from hashlib_core.models.selfsup import SELFSUP_MODELS
from hashlib_core.quantizers import MeanThresholdQuantizer

from .base import Method, ProfileKeys, register_method

__all__ = ["SELFSUP_METHODS", "GRAY_MINMAX", "selfsup_metrics"]

GRAY_MINMAX = InputSpec(channels=1, norm="minmax")
SELFSUP_METHODS = tuple(SELFSUP_MODELS)


def selfsup_metrics(query_codes, db_codes, split) -> dict:
    """Table I's readings (``<reading>.<metric>``, e.g. ``main.precision``) at the paper's "@10000"
    and Table II's collision readings of the database codes (``collision.<reading>``)."""
    out = {f"{reading}.{name}": value
           for reading, values in table1_readings(query_codes, db_codes, split.query.labels,
                                                  split.database.labels).items()
           for name, value in values.items()}
    out.update({f"collision.{k}": v for k, v in collision_readings(db_codes, split.database.labels).items()})
    return out


def _model_of(name: str):
    def build(config, split):
        return SELFSUP_MODELS[name](bits=config.bits, input_size=config.input_size, **dict(config.model))

    return build


for _name in SELFSUP_METHODS:
    register_method(Method(
        name=_name,
        family="deep",
        build_model=_model_of(_name),
        build_criterion=lambda config, split: VAECriterion(**dict(config.loss)),
        encode_output=lambda output: output.u,
        build_quantizer=lambda config, split: MeanThresholdQuantizer(),
        input_spec=GRAY_MINMAX,
        extra_metrics=(selfsup_metrics,),
        defaults={"model": {}, "loss": dict(LOSS_DEFAULTS)},
        profile_keys=ProfileKeys(model=(), train=True, input_size=True),
        paper="003",
    ))
