"""A warm start for FineTune-v5's label: the label columns of the first mapping layer set so that
asking for a property change moves z along the generator's own direction for it.

The v1-to-v5 conversion gives the 3-dim label (eyes, mouth, pose) random columns in the first
mapping layer, so at the start the label moves the face in random directions, and weakly (3 of
515 inputs). Fine-tuning at the published AdamW 1e-4 then has to grow and aim those columns from
scratch, which takes far more steps than a CPU budget holds. Yet the generator already spans the
properties in z: attributes of a GAN's latent space are close to linear (InterFaceGAN, Shen et al.
2020; VectorFind-v6 here). So:

1. sample z, render with the label at zero (the label columns play no part), score all seven
   properties with the Property Score CNN;
2. fit them linearly on the pixel-normalised z, which is what the first layer sees:
   scores ~ x B + c, B [z_dim, 7] (`vectorfind/least_squares.py`: the average gradient, with the
   Gram matrix corrected for the fit's noise);
3. the smallest move of x whose predicted change is T l, with T [7, 3] giving eyes, mouth and
   pose each its own entry of the label l and the other four properties (hair colour and length,
   background mean and spread) no change, is s = B G^-1 T l with G = B^T B. Holding the other
   four is InterFaceGAN's conditional manipulation: a move along the eyes direction alone
   re-colours hair and background too. The first layer is linear in [x; l] before its
   activation, so label columns W_z B G^-1 T make l act exactly as that move of x.

The label then starts as a control that is already right to first order, and the fine-tuning
(property loss, discriminator) has to correct only what the linear picture misses.

This module is the one place where FineTune-v5 uses VectorFind: the warm start is VectorFind's
least-squares fit in z (and its way of drawing and scoring codes), applied to the label columns,
so it calls that fit rather than keeping a second one. Nothing else of FineTune-v5 imports
`vectorfind`, and nothing of `vectorfind` imports FineTune-v5 (tests/test_layout.py).
"""
import torch

from scores.properties import CORE_PROPERTIES, PROPERTY_NAMES
from stylegan.generator import PixelNorm
from vectorfind.latents import draw_codes, render_and_score
from vectorfind.least_squares import conditional_moves, fit_property_directions, hold_targets

WARM_START_PURPOSE = 2  # a block of draw_codes of its own, apart from VectorFind's


def label_columns(z_columns, directions, gram, targets):
    """Columns for the label that act as the move B G^-1 T l of the input: `z_columns` [out, D]
    (the layer's weights on z), `directions` B [D, P], `gram` G [P, P], `targets` T [P, L] (the
    change of each property per unit of each label entry) -> [out, L]."""
    if z_columns.shape[1] != len(directions):
        raise ValueError(f'the layer takes {z_columns.shape[1]} z inputs, the directions have'
                         f' {len(directions)} rows')
    move = conditional_moves(directions, gram, targets)  # [D, L]: the move of x per unit of label
    return z_columns.double() @ torch.from_numpy(move).to(z_columns.device)


def warm_start_label(generator, cnn, samples, seed, device, batch_size=16):
    """Set the label columns of a v5 generator's first mapping layer from the property
    directions of its z (module docstring). Returns the fit's adjusted R^2 per property."""
    if generator.mapping.label_mode != 'concat' or generator.label_dim != len(CORE_PROPERTIES):
        raise ValueError(f'the warm start is for a v5 generator (label concatenated to z, '
                         f'{len(CORE_PROPERTIES)} dims); got label_mode '
                         f'{generator.mapping.label_mode!r} with {generator.label_dim} dims')
    codes = draw_codes(samples, generator.z_dim + generator.label_dim, seed, WARM_START_PURPOSE, 0)
    codes[:, generator.z_dim:] = 0.0
    scores = render_and_score(generator, cnn, codes, device, batch_size, PROPERTY_NAMES)
    x = PixelNorm()(torch.from_numpy(codes)).numpy()[:, :generator.z_dim]
    directions, gram, r2 = fit_property_directions(x, scores)
    dense0 = generator.mapping.dense0
    with torch.no_grad():
        # One run-time scale serves all columns, so the stored values combine directly. The
        # in-place write bumps the weight's version, which drops the cached per-label w averages.
        weight = dense0.weight
        columns = label_columns(weight[:, :generator.z_dim], directions, gram, hold_targets('all')[1])
        weight[:, generator.z_dim:] = columns.to(weight.dtype)
    return dict(zip(PROPERTY_NAMES, r2.round(4).tolist()))
