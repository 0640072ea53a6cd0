"""Latent codes of VectorFind-v6 and what the models make of them.

A code is 515 numbers: z (512) followed by the 3 extra dims that the v6 generator takes as its
label, all drawn from N(0, 1). Codes are drawn in numbered blocks from `(seed, purpose, block)`,
so any block can be re-drawn alone: that is what lets an interrupted run resume without storing
what it has not finished.
"""
import numpy as np
import torch

from scores.properties import PROPERTY_NAMES

SAMPLING, TESTING = 0, 1
PRECISIONS = ('float32', 'bfloat16')


def inference_precision(device, precision):
    """The arithmetic the generator and the CNN run in. bfloat16 (autocast: convolutions and
    matrix products in bfloat16, the rest as before) runs them faster on CPUs with native
    bfloat16 (AVX512-BF16, AMX) and moves CNN scores by a few hundredths of a z unit; float32
    is exact, and what reproduces the original's images."""
    if precision not in PRECISIONS:
        raise ValueError(f'precision {precision!r}: expected one of {PRECISIONS}')
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16,
                          enabled=precision == 'bfloat16')


def draw_codes(n, code_dim, seed, purpose, block):
    """[n, code_dim] float32 from N(0, 1), the same for the same (seed, purpose, block)."""
    rng = np.random.default_rng([int(seed), int(purpose), int(block)])
    return rng.standard_normal((n, code_dim)).astype(np.float32)


def split_code(codes, z_dim):
    codes = torch.as_tensor(codes)
    return codes[:, :z_dim], codes[:, z_dim:]


def mapped(generator, codes, device):
    """w [N, w_dim] of codes [N, z_dim + 3]: the mapping network's output."""
    z, extra = split_code(torch.as_tensor(codes, device=device), generator.z_dim)
    return generator.mapping(z, extra)


def images(generator, codes, device):
    """Generator images (NCHW, raw range) of codes [N, z_dim + 3], truncation off, fixed noise."""
    z, extra = split_code(torch.as_tensor(codes, device=device), generator.z_dim)
    return generator(z, extra, trunc_psi=1.0, trunc_layers=0, randomize_noise=False)['image']


@torch.inference_mode()
def render_and_score(generator, cnn, codes, device, batch_size, names=PROPERTY_NAMES):
    """Property Score CNN scores `names` [N, len(names)] for codes [N, z_dim + 3], straight from
    the generator's float output (the CNN resizes to 256 itself): no uint8 or JPEG round trip."""
    scores = [cnn.score(images(generator, codes[i:i + batch_size], device), names).float().cpu()
              for i in range(0, len(codes), batch_size)]
    return torch.cat(scores).numpy()
