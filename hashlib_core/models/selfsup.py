"""Paper 003's self-supervised hashing networks: VAE, CVAE, CSVAE and VTE.

Kim, Jeon, Kim, Hwang, Kim, "Devised Deephashing Models through Self-supervised Learning for Image
Retrieval", §III, Figs. 2-4. Every model takes a grayscale image in [0, 1] (N, 1, S, S) and returns
:class:`VAEOutput` ``(u, logvar, recon)``: ``u`` is the encoder's mean vector (the continuous code,
(N, bits); the paper's z), ``logvar`` the log-variance of the approximate posterior and ``recon`` the
decoder's output in (0, 1), shaped like the input. While training, the decoder sees a sample
``z = u + ε·exp(logvar/2)`` (the reparameterisation of Kingma & Welling); in eval mode it sees ``u``,
so encoding and reconstruction are deterministic. The code is the training-set mean threshold of
``u`` (:class:`hashlib_core.quantizers.MeanThresholdQuantizer`).

The paper gives layer counts but no sizes; the sizes here are ours (docs/decisions.md, "Paper 003"):

* ``vae`` -- four fully connected layers each way, halving towards the latent: D → w → w/2 → w/4 →
  (mean, log-variance) and back bits → w/4 → w/2 → w → D. ``width=None`` takes the literal
  w = D/2 up to 2,048 (32 px: 512, 64 px: 2,048) and 2,048 above it: at 128 px the literal first
  layer alone is 16,384 × 8,192 (134 M weights, ≈ 350 M in the model, for 20,000 training images).
* ``cvae`` -- four stride-2 3×3 conv blocks (conv, batch norm, LeakyReLU 0.2) with c, 2c, 4c, 8c
  channels, flattened into the two heads; the decoder reverses them: a linear layer back to the
  8c × S/16 × S/16 map, then four blocks of ×2 nearest upsampling + 3×3 conv (8c → 4c → 2c → c → 1,
  the last with a sigmoid).
* ``csvae`` -- ``cvae`` with a :class:`~hashlib_core.models.simam.SimAM` after the 2nd and 3rd
  encoder blocks (§III, CSVAE); the decoder is unchanged.
* ``vte`` -- a ViT encoder: a patch embedding (conv, kernel = stride = patch), a class token,
  torchvision's ``vision_transformer.Encoder`` (learned position embedding, pre-norm blocks, final
  layer norm); the class token's output feeds the two heads; the decoder is ``cvae``'s.

CPU defaults (32 px): ``vae`` w = 512; ``cvae``/``csvae`` c = 16; ``vte`` dim 64, patch 4, 4 blocks,
4 heads, MLP 128, decoder c = 16.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch
from torch import nn
from torchvision.models.vision_transformer import Encoder as ViTEncoder

from .simam import SimAM

__all__ = ["VAEOutput", "VAE", "ConvVAE", "VTE", "vae", "cvae", "csvae", "vte", "SELFSUP_MODELS"]


class VAEOutput(NamedTuple):
    """u: encoder mean (N, bits), the continuous code; logvar: (N, bits); recon: like the input."""

    u: torch.Tensor
    logvar: torch.Tensor
    recon: torch.Tensor


def _check_common(bits: int, input_size: int, in_channels: int) -> None:
    if int(bits) != bits or bits < 1:
        raise ValueError(f"bits must be a positive integer, got {bits!r}")
    if int(input_size) != input_size or input_size < 1:
        raise ValueError(f"input_size must be a positive integer, got {input_size!r}")
    if in_channels not in (1, 3):
        raise ValueError(f"in_channels must be 1 (the paper's grayscale) or 3, got {in_channels!r}")


class _Variational(nn.Module):
    """Shared forward: features -> (mean, log-variance) heads -> sample (train) or mean (eval) -> decoder."""

    bits: int
    input_size: int
    in_channels: int

    def features(self, x: torch.Tensor) -> torch.Tensor:  # (N, F)
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:  # (N, C, S, S)
        raise NotImplementedError

    def _check_input(self, x: torch.Tensor) -> None:
        want = (self.in_channels, self.input_size, self.input_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != want:
            raise ValueError(f"{type(self).__name__} expects inputs (N, {want[0]}, {want[1]}, {want[2]}), "
                             f"got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> VAEOutput:
        self._check_input(x)
        h = self.features(x)
        mu, logvar = self.mu(h), self.logvar(h)
        if self.training:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        else:
            z = mu
        return VAEOutput(mu, logvar, self.decode(z))


class VAE(_Variational):
    """Fully connected VAE (Fig. 2): four layers each way, halving towards the latent."""

    def __init__(self, bits: int, input_size: int = 32, width: Optional[int] = None, in_channels: int = 1):
        super().__init__()
        _check_common(bits, input_size, in_channels)
        d = in_channels * input_size * input_size
        w = min(d // 2, 2048) if width is None else int(width)
        if w < 4 or w % 4:
            raise ValueError(f"vae width (first hidden layer) must be a multiple of 4 and >= 4, got {width!r}")
        self.bits, self.input_size, self.in_channels, self.width = int(bits), int(input_size), in_channels, w
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(d, w), nn.ReLU(inplace=True),
            nn.Linear(w, w // 2), nn.ReLU(inplace=True),
            nn.Linear(w // 2, w // 4), nn.ReLU(inplace=True))
        self.mu = nn.Linear(w // 4, bits)
        self.logvar = nn.Linear(w // 4, bits)
        self.decoder = nn.Sequential(
            nn.Linear(bits, w // 4), nn.ReLU(inplace=True),
            nn.Linear(w // 4, w // 2), nn.ReLU(inplace=True),
            nn.Linear(w // 2, w), nn.ReLU(inplace=True),
            nn.Linear(w, d), nn.Sigmoid())

    def features(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z).view(-1, self.in_channels, self.input_size, self.input_size)


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True))


def _up_block(cin: int, cout: int, last: bool = False) -> nn.Sequential:
    layers = [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, padding=1, bias=last)]
    layers += [nn.Sigmoid()] if last else [nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class ConvDecoder(nn.Module):
    """Linear to an 8c × S/16 × S/16 map, then four (×2 upsample, 3×3 conv) blocks down to C channels."""

    def __init__(self, bits: int, input_size: int, width: int, out_channels: int):
        super().__init__()
        self.side = input_size // 16
        self.top = 8 * width
        self.fc = nn.Sequential(nn.Linear(bits, self.top * self.side * self.side), nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(_up_block(8 * width, 4 * width), _up_block(4 * width, 2 * width),
                                    _up_block(2 * width, width), _up_block(width, out_channels, last=True))

    def forward(self, z):
        return self.blocks(self.fc(z).view(-1, self.top, self.side, self.side))


def _check_conv_sizes(input_size: int, width: int, name: str) -> None:
    if input_size % 16:
        raise ValueError(f"{name} halves the image four times: input_size must be a multiple of 16, got {input_size}")
    if int(width) != width or width < 1:
        raise ValueError(f"{name} width (first conv channels) must be a positive integer, got {width!r}")


class ConvVAE(_Variational):
    """CVAE (Fig. 3), and with ``simam=True`` CSVAE: SimAM after the 2nd and 3rd encoder blocks."""

    def __init__(self, bits: int, input_size: int = 32, width: int = 16, in_channels: int = 1,
                 simam: bool = False, simam_lambda: float = 1e-4):
        super().__init__()
        _check_common(bits, input_size, in_channels)
        _check_conv_sizes(input_size, width, "csvae" if simam else "cvae")
        self.bits, self.input_size, self.in_channels, self.width = int(bits), int(input_size), in_channels, int(width)
        c = self.width
        blocks = [_conv_block(in_channels, c), _conv_block(c, 2 * c)]
        if simam:
            blocks.append(SimAM(simam_lambda))
        blocks.append(_conv_block(2 * c, 4 * c))
        if simam:
            blocks.append(SimAM(simam_lambda))
        blocks.append(_conv_block(4 * c, 8 * c))
        self.encoder = nn.Sequential(*blocks, nn.Flatten())
        n_feat = 8 * c * (input_size // 16) ** 2
        self.mu = nn.Linear(n_feat, bits)
        self.logvar = nn.Linear(n_feat, bits)
        self.decoder = ConvDecoder(bits, input_size, c, in_channels)

    def features(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)


class VTE(_Variational):
    """Variational transformer encoder (Fig. 4): ViT encoder, variational heads, conv decoder."""

    def __init__(self, bits: int, input_size: int = 32, width: int = 64, in_channels: int = 1,
                 patch_size: int = 4, depth: int = 4, heads: int = 4, mlp_dim: Optional[int] = None,
                 decoder_width: int = 16, dropout: float = 0.0):
        super().__init__()
        _check_common(bits, input_size, in_channels)
        _check_conv_sizes(input_size, decoder_width, "vte decoder")
        if int(patch_size) != patch_size or patch_size < 1 or input_size % patch_size:
            raise ValueError(f"vte patch_size must divide input_size {input_size}, got {patch_size!r}")
        if width % heads:
            raise ValueError(f"vte width (token dimension) {width} must be a multiple of heads {heads}")
        self.bits, self.input_size, self.in_channels, self.width = int(bits), int(input_size), in_channels, int(width)
        self.patch_size = int(patch_size)
        n_tokens = (input_size // patch_size) ** 2
        self.patch_embed = nn.Conv2d(in_channels, width, patch_size, stride=patch_size)
        self.class_token = nn.Parameter(torch.zeros(1, 1, width))
        self.encoder = ViTEncoder(n_tokens + 1, depth, heads, width, 2 * width if mlp_dim is None else int(mlp_dim),
                                  dropout, dropout)
        self.mu = nn.Linear(width, bits)
        self.logvar = nn.Linear(width, bits)
        self.decoder = ConvDecoder(bits, input_size, decoder_width, in_channels)

    def features(self, x):
        t = self.patch_embed(x).flatten(2).transpose(1, 2)  # (N, tokens, width)
        t = torch.cat([self.class_token.expand(t.shape[0], -1, -1), t], dim=1)
        return self.encoder(t)[:, 0]

    def decode(self, z):
        return self.decoder(z)


def vae(bits: int, input_size: int = 32, width: Optional[int] = None, **kw) -> VAE:
    """Fully connected VAE; ``width`` = first hidden layer (None: D/2 capped at 2,048)."""
    return VAE(bits, input_size, width, **kw)


def cvae(bits: int, input_size: int = 32, width: int = 16, **kw) -> ConvVAE:
    """Convolutional VAE; ``width`` = channels of the first conv block (then ×2, ×4, ×8)."""
    return ConvVAE(bits, input_size, width, simam=False, **kw)


def csvae(bits: int, input_size: int = 32, width: int = 16, **kw) -> ConvVAE:
    """CVAE with SimAM (λ = 1e-4) after the 2nd and 3rd encoder blocks."""
    return ConvVAE(bits, input_size, width, simam=True, **kw)


def vte(bits: int, input_size: int = 32, width: int = 64, **kw) -> VTE:
    """ViT variational encoder; ``width`` = token dimension."""
    return VTE(bits, input_size, width, **kw)


#: name -> constructor, for the lead's method registry
SELFSUP_MODELS = {"vae": vae, "cvae": cvae, "csvae": csvae, "vte": vte}
