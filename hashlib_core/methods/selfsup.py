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

Metrics of the trained network (Fig. 5's reconstruction error, a few reconstructions, the code
stability under minor edits) are the method's ``network_metrics``: the runner hands them the
trained network and its fitted quantizer.
"""
from __future__ import annotations

import numpy as np

from hashlib_core.data.grayscale import grayscale_minmax_batch
from hashlib_core.data.transforms import InputSpec
from hashlib_core.losses.vae import LOSS_DEFAULTS, VAECriterion
from hashlib_core.metrics_selfsup import collision_readings, table1_readings
from hashlib_core.models.selfsup import SELFSUP_MODELS
from hashlib_core.quantizers import MeanThresholdQuantizer
from hashlib_core.robustness import code_stability

from .base import Method, ProfileKeys, ProtocolReadings, register_method, register_protocol_readings

__all__ = ["SELFSUP_METHODS", "SELFSUP_PROTOCOLS", "GRAY_MINMAX", "readings_metrics", "network_metrics",
           "query_network_metrics", "N_EXAMPLES", "N_STABILITY", "PAPER_SIZE"]

GRAY_MINMAX = InputSpec(channels=1, norm="minmax")
SELFSUP_METHODS = tuple(SELFSUP_MODELS)
#: query images whose reconstructions are kept with the run (Fig. 5's examples): the first ones
N_EXAMPLES = 8
#: query images the code stability is measured on (the first ones)
N_STABILITY = 1000
#: the paper's input side (§III: 128×128): Fig. 5's MSE read as a sum over a 128×128 image
PAPER_SIZE = 128
#: paper 003's protocols (its Table I / II columns: CIFAR-10, NUS-WIDE, ImageNet, and the NUS-WIDE
#: stand-in); relevance on the multi-label ones = at least one shared label (hashlib_core.metrics)
SELFSUP_PROTOCOLS = ("cifar10-selfsup", "nuswide-selfsup", "imagenet-selfsup", "mosaic-selfsup")


def readings_metrics(query_codes, db_codes, split) -> dict:
    """Table I's readings (``<reading>.<metric>``, e.g. ``main.precision``) at the paper's "@10000",
    Table II's collision readings of the database codes (``collision.<reading>``) and of the
    10,000 evaluation codes, database and queries together (``collision_eval.<reading>``)."""
    out = {f"{reading}.{name}": value
           for reading, values in table1_readings(query_codes, db_codes, split.query.labels,
                                                  split.database.labels).items()
           for name, value in values.items()}
    out.update({f"collision.{k}": v for k, v in collision_readings(db_codes, split.database.labels).items()})
    both = np.concatenate([np.asarray(db_codes), np.asarray(query_codes)])
    labels = np.concatenate([np.asarray(split.database.labels), np.asarray(split.query.labels)])
    out.update({f"collision_eval.{k}": v for k, v in collision_readings(both, labels).items()})
    return out


def network_metrics(model, quantizer, images, input_size: int, device: str = "cpu",
                    n_examples: int = N_EXAMPLES, n_stability: int = N_STABILITY, batch: int = 500) -> dict:
    """Metrics of a trained paper-003 network on uint8 NHWC ``images`` (the queries):

    * ``recon.mse_mean`` / ``recon.mse_sd`` -- per-image mean squared error between the input x in
      [0, 1] (input_size²) and its reconstruction from the mean code μ, mean and sd over images;
      ``recon.sse_mean`` / ``recon.sse_sd`` -- the per-image sum of squared errors at input_size²;
      ``recon.sse128_mean`` / ``recon.sse128_sd`` -- the per-image MSE × 128² (the sum a 128×128
      image with the same per-pixel error would have, paper §III's size);
    * ``recon.examples`` -- the first ``n_examples`` reconstructions, grey levels 0..255
      (n_examples × input_size²), for Fig. 5;
    * ``stability.<perturbation>`` -- :func:`hashlib_core.robustness.code_stability` on the first
      ``n_stability`` images: mean number of bits that change under JPEG q75 / q50, a 90 % centre
      crop, +20 grey levels.
    """
    import torch

    model.to(device).eval()

    def forward(uint8):
        outs = []
        with torch.no_grad():
            for s in range(0, len(uint8), batch):
                x = grayscale_minmax_batch(uint8[s:s + batch], input_size).to(device)
                o = model(x)
                outs.append((x.cpu(), o.u.float().cpu(), o.recon.float().cpu()))
        return (torch.cat([a for a, _, _ in outs]), torch.cat([b for _, b, _ in outs]),
                torch.cat([c for _, _, c in outs]))

    x, _, recon = forward(images)
    err = (recon - x).pow(2).flatten(1)
    mse = err.mean(dim=1).double().numpy()
    sse = err.sum(dim=1).double().numpy()
    out = {"recon.mse_mean": float(mse.mean()), "recon.mse_sd": float(mse.std(ddof=1)) if len(mse) > 1 else 0.0,
           "recon.sse_mean": float(sse.mean()), "recon.sse_sd": float(sse.std(ddof=1)) if len(sse) > 1 else 0.0,
           "recon.sse128_mean": float(mse.mean() * PAPER_SIZE ** 2),
           "recon.sse128_sd": float((mse.std(ddof=1) if len(mse) > 1 else 0.0) * PAPER_SIZE ** 2),
           "recon.n_images": float(len(mse)),
           "recon.examples": np.rint(recon[:n_examples, 0].clamp(0, 1).numpy() * 255).reshape(
               min(n_examples, len(recon)), -1).tolist()}
    stab_images = np.asarray(images[:n_stability])
    stab = code_stability(lambda im: quantizer.encode(forward(im)[1].numpy()), stab_images)
    out.update({f"stability.{k}": v for k, v in stab.items()})
    out["stability.n_images"] = float(len(stab_images))
    return out


def query_network_metrics(model, quantizer, config, split) -> dict:
    """The methods' network metrics: :func:`network_metrics` of the trained run on its queries."""
    images = split.query.get_batch(np.arange(len(split.query)))
    return network_metrics(model, quantizer, images, config.input_size, config.device)


def _model_of(name: str):
    def build(config, split):
        return SELFSUP_MODELS[name](bits=config.bits, input_size=config.input_size, **dict(config.model))

    return build


# Table I / II readings and code stability are also what any other method run on paper 003's
# protocols reports (the shallow reference rows on the same pixels: hashlib_core.methods.shallow)
for _protocol in SELFSUP_PROTOCOLS:
    register_protocol_readings(_protocol, ProtocolReadings(readings_metrics, stability_queries=N_STABILITY))

for _name in SELFSUP_METHODS:
    register_method(Method(
        name=_name,
        family="deep",
        build_model=_model_of(_name),
        build_criterion=lambda config, split: VAECriterion(**dict(config.loss)),
        encode_output=lambda output: output.u,
        build_quantizer=lambda config, split: MeanThresholdQuantizer(),
        input_spec=GRAY_MINMAX,
        extra_metrics=(readings_metrics,),
        network_metrics=(query_network_metrics,),
        defaults={"model": {}, "loss": dict(LOSS_DEFAULTS)},
        profile_keys=ProfileKeys(model=(), train=True, input_size=True),
        paper="003",
        version=2,
    ))
