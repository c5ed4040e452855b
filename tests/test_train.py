import numpy as np
import torch

from hashlib_core.train import augment_batch


def test_augment_batch_is_seeded_and_shape_preserving():
    x = torch.randn(16, 3, 32, 32)
    a = augment_batch(x, torch.Generator().manual_seed(0))
    b = augment_batch(x, torch.Generator().manual_seed(0))
    c = augment_batch(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(x, x.clone())  # input untouched


def test_augment_batch_is_a_translation_or_flip_of_each_image():
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8) + 1
    out = augment_batch(x, torch.Generator().manual_seed(3), pad_fraction=0.125)  # pad 1 px
    for i in range(2):
        candidates = []
        padded = torch.nn.functional.pad(x[i], (1, 1, 1, 1))
        for dy in range(3):
            for dx in range(3):
                crop = padded[:, dy:dy + 8, dx:dx + 8]
                candidates += [crop, crop.flip(-1)]
        assert any(torch.equal(out[i], c) for c in candidates)
