"""Paper 003's networks: VAE, CVAE, CSVAE, VTE."""
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torchvision.models.vision_transformer import Encoder as ViTEncoder

from hashlib_core.losses.vae import VAECriterion
from hashlib_core.models.selfsup import SELFSUP_MODELS, VAEOutput, csvae, cvae, vae, vte
from hashlib_core.models.simam import SimAM


@pytest.mark.parametrize("name", sorted(SELFSUP_MODELS))
@pytest.mark.parametrize("size", [32, 64])
def test_output_fields_and_shapes(name, size):
    torch.manual_seed(0)
    m = SELFSUP_MODELS[name](bits=16, input_size=size).eval()
    x = torch.rand(3, 1, size, size)
    with torch.no_grad():
        out = m(x)
    assert isinstance(out, VAEOutput) and out._fields == ("u", "logvar", "recon")
    assert out.u.shape == (3, 16) and out.logvar.shape == (3, 16) and out.recon.shape == x.shape
    assert float(out.recon.min()) > 0 and float(out.recon.max()) < 1
    # eval: deterministic, the decoder sees the mean
    with torch.no_grad():
        torch.testing.assert_close(m(x), out)


@pytest.mark.parametrize("name", sorted(SELFSUP_MODELS))
def test_training_mode_samples_the_latent_but_not_the_mean(name):
    torch.manual_seed(0)
    m = SELFSUP_MODELS[name](bits=8, input_size=32)
    x = torch.rand(4, 1, 32, 32)
    m.eval()
    ref = m(x)
    m.train()
    for mod in m.modules():  # keep batch-norm statistics out of the comparison
        if isinstance(mod, nn.BatchNorm2d):
            mod.eval()
    out = m(x)
    torch.testing.assert_close(out.u, ref.u)
    assert not torch.allclose(out.recon, ref.recon)


@pytest.mark.parametrize("name", sorted(SELFSUP_MODELS))
def test_every_parameter_gets_a_gradient_from_the_vae_loss(name):
    torch.manual_seed(0)
    m = SELFSUP_MODELS[name](bits=8, input_size=32)
    x = torch.rand(4, 1, 32, 32)
    loss, terms = VAECriterion()(m(x), SimpleNamespace(inputs=x, labels=None, index=None))
    loss.backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing
    assert set(terms) == {"recon", "kl", "mse_per_pixel"}


def test_vae_has_four_halving_layers_each_way():
    m = vae(bits=32, input_size=32)
    enc = [l for l in m.encoder if isinstance(l, nn.Linear)] + [m.mu]
    dec = [l for l in m.decoder if isinstance(l, nn.Linear)]
    assert [(l.in_features, l.out_features) for l in enc] == [(1024, 512), (512, 256), (256, 128), (128, 32)]
    assert [(l.in_features, l.out_features) for l in dec] == [(32, 128), (128, 256), (256, 512), (512, 1024)]
    assert vae(bits=32, input_size=64).width == 2048       # literal D/2
    assert vae(bits=32, input_size=128).width == 2048      # capped (literal would be 8,192)
    assert vae(bits=32, input_size=128, width=8192).width == 8192
    with pytest.raises(ValueError, match="multiple of 4"):
        vae(bits=8, input_size=32, width=30)


def test_csvae_is_cvae_with_simam_after_the_second_and_third_blocks():
    a, b = cvae(bits=16, input_size=32), csvae(bits=16, input_size=32)
    assert not any(isinstance(mod, SimAM) for mod in a.modules())
    kinds = [type(mod).__name__ for mod in b.encoder]
    assert kinds == ["Sequential", "Sequential", "SimAM", "Sequential", "SimAM", "Sequential", "Flatten"]
    assert sum(p.numel() for p in a.parameters()) == sum(p.numel() for p in b.parameters())
    convs = [mod for mod in a.encoder.modules() if isinstance(mod, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 32, 64, 128] and all(c.stride == (2, 2) for c in convs)
    ups = [mod for mod in a.decoder.modules() if isinstance(mod, nn.Upsample)]
    assert len(ups) == 4


def test_vte_uses_torchvision_vit_blocks():
    m = vte(bits=16, input_size=32, width=32, patch_size=8, depth=2, heads=2)
    enc = [mod for mod in m.modules() if isinstance(mod, ViTEncoder)]
    assert len(enc) == 1 and len(enc[0].layers) == 2
    assert enc[0].pos_embedding.shape == (1, 1 + 16, 32)  # class token + 4x4 patches


@pytest.mark.parametrize("build, match", [
    (lambda: cvae(bits=8, input_size=40), "multiple of 16"),
    (lambda: vte(bits=8, input_size=32, patch_size=5), "patch_size"),
    (lambda: vte(bits=8, input_size=32, width=30, heads=4), "multiple of heads"),
    (lambda: vae(bits=0, input_size=32), "bits"),
    (lambda: cvae(bits=8, input_size=32, in_channels=2), "in_channels"),
])
def test_bad_sizes_are_refused(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_wrong_input_shape_is_refused():
    with pytest.raises(ValueError, match=r"\(N, 1, 32, 32\)"):
        cvae(bits=8, input_size=32)(torch.rand(2, 3, 32, 32))


def test_cvae_learns_to_reconstruct_a_fixed_batch():
    torch.manual_seed(0)
    m = cvae(bits=16, input_size=32, width=8)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(16, 1, 1, 1, generator=g).expand(16, 1, 32, 32).contiguous()  # flat images of 16 grey levels
    crit = VAECriterion(kl_weight=0.1)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    batch = SimpleNamespace(inputs=x, labels=None, index=None)
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss, terms = crit(m(x), batch)
        first = terms["mse_per_pixel"] if first is None else first
        loss.backward()
        opt.step()
    assert terms["mse_per_pixel"] < 0.25 * first
