"""The published evaluation of FineTune-v5: every corner of the label cube below, 10 fixed z each,
rendered with conditional truncation and scored by the frozen Property Score CNN; correlation and
mean absolute error between asked-for and measured value, per property."""
import numpy as np
import torch

from common.images import to_uint8
from common.properties import CORE_PROPERTIES
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
def render(generator, z, labels, psi, batch_size=16):
    """uint8 NHWC images, stored noise, conditional truncation at `psi`."""
    device = next(generator.parameters()).device
    return np.concatenate([
        to_uint8(generator(z[i:i + batch_size].to(device), labels[i:i + batch_size].to(device),
                           trunc_psi=psi, randomize_noise=False)['image'])
        for i in range(0, len(z), batch_size)])


class CoreScores(torch.nn.Module):
    """The Property Score CNN reduced to its eyes, mouth and pose branches, for `score_images`:
    the evaluation needs no more, and the whole-image hair branches would cost most of its time."""

    def __init__(self, cnn):
        super().__init__()
        self.cnn = cnn

    def forward(self, images):
        return self.cnn.score(images, CORE_PROPERTIES)


def measure(generator, cnn, z, psi):
    """Images, asked-for labels [80, 3] and CNN-measured scores [80, 3] of the evaluation set.
    The images are scored as saved (uint8), as the original scored its saved files."""
    z_all, labels = evaluation_batch(z)
    images = render(generator, z_all, labels, psi)
    return images, labels.numpy(), score_images(CoreScores(cnn), images)


def agreement(labels, scores):
    """Per property: Pearson correlation and mean absolute error of measured vs asked-for."""
    result = {}
    for i, name in enumerate(CORE_PROPERTIES):
        constant = np.ptp(scores[:, i]) == 0
        result[f'{name}_corr'] = float('nan') if constant else float(
            np.corrcoef(labels[:, i], scores[:, i])[0, 1])
    for i, name in enumerate(CORE_PROPERTIES):
        result[f'{name}_mae'] = float(np.abs(labels[:, i] - scores[:, i]).mean())
    return result
