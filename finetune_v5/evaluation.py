"""The published evaluation of FineTune-v5: every corner of the label cube below, 10 fixed z each,
rendered with conditional truncation and scored by the frozen Property Score CNN; correlation and
mean absolute error between asked-for and measured value, per property, and each property's
leakage into the other six scores (`scores/leakage.py`)."""
import numpy as np
import torch
from tqdm import tqdm

from common.images import to_uint8
from scores.leakage import leakage
from scores.properties import CORE_COLUMNS, CORE_PROPERTIES
from property_score_cnn.model import score_images

EVAL_LABELS = tuple((eyes, mouth, pose) for eyes in (-1.6, 1.6) for mouth in (-1.2, 1.6)
                    for pose in (-1.2, 2.4))
EVAL_Z_PER_LABEL = 10
SAMPLE_PSIS = (1.0, 0.75, 0.5, 0.25, 0.0)


def evaluation_batch(z):
    """Latents and labels of the published evaluation: each label row repeats over the fixed z."""
    labels = torch.tensor(EVAL_LABELS, dtype=torch.float32).repeat_interleave(len(z), dim=0)
    return z.repeat(len(EVAL_LABELS), 1), labels


@torch.no_grad()
def render(generator, z, labels, psi, batch_size=16, progress=None):
    """uint8 NHWC images, stored noise, conditional truncation at `psi`; `progress` labels a
    progress bar (none without it)."""
    device = next(generator.parameters()).device
    batches = range(0, len(z), batch_size)
    return np.concatenate([
        to_uint8(generator(z[i:i + batch_size].to(device), labels[i:i + batch_size].to(device),
                           trunc_psi=psi, randomize_noise=False)['image'])
        for i in tqdm(batches, desc=progress, unit='batch', disable=progress is None)])


def measure(generator, cnn, z, psi):
    """Images, asked-for labels [80, 3] and all seven CNN-measured scores [80, 7] of the
    evaluation set. The images are scored as saved (uint8), as the original scored its files."""
    z_all, labels = evaluation_batch(z)
    images = render(generator, z_all, labels, psi)
    return images, labels.numpy(), score_images(cnn, images)


def score_spread(generator, cnn, labels, samples, seed):
    """Standard deviation [7] of each CNN score over `samples` random faces of the generator
    (z ~ N(0, 1), labels drawn from `labels` [N, 3], no truncation, as VectorFind's samples):
    leakage's unit. (Truncated, every distinct label would need its own w average.)"""
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, generator.z_dim, generator=rng)
    drawn = labels[torch.randint(len(labels), (samples,), generator=rng)]
    images = render(generator, z, drawn, psi=1.0, progress='score spread: rendering')
    return score_images(cnn, images, progress='score spread: scoring').std(axis=0, ddof=1)


def agreement(labels, all_scores, score_std):
    """Per property: Pearson correlation and mean absolute error of measured vs asked-for, and
    leakage (`scores/leakage.py`, scores in units of `score_std` [7]): per fixed z, over its face
    at each of the label corners, then the median over the z, as VectorFind takes the median of
    its codes' leakage; `labels` and `all_scores` in `evaluation_batch`'s order."""
    scores = all_scores[:, CORE_COLUMNS]
    result = {}
    for i, name in enumerate(CORE_PROPERTIES):
        constant = np.ptp(scores[:, i]) == 0
        result[f'{name}_corr'] = float('nan') if constant else float(
            np.corrcoef(labels[:, i], scores[:, i])[0, 1])
    for i, name in enumerate(CORE_PROPERTIES):
        result[f'{name}_mae'] = float(np.abs(labels[:, i] - scores[:, i]).mean())
    per_z = [leakage(labels[k::EVAL_Z_PER_LABEL], all_scores[k::EVAL_Z_PER_LABEL], score_std)
             for k in range(EVAL_Z_PER_LABEL)]
    for name in CORE_PROPERTIES:
        result[f'{name}_leakage'] = float(np.median([leaks[name][0] for leaks in per_z]))
    return result
