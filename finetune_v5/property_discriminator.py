"""The StyleGAN-FineTune-v5 discriminator: a critic specialised in the three core properties.

The ordinary StyleGAN discriminator did not learn to tell whether a face shows the asked-for
eyes, mouth and pose (FineTune-v4). v5 builds its discriminator from the Property Score CNN's eyes,
mouth and pose sub-CNNs instead, so that it starts out measuring exactly those properties, and
judges the 3 measured scores together with the 3-dim label: [scores, label] -> Linear(6, 64) ->
tanh -> Linear(64, 1). With `width=1` its keys are those of `stylegan_dis_fine_tuned_v5.pth`.
"""
import torch
from torch import nn

from common.checkpoints import V5_DISCRIMINATOR, load_into, save_checkpoint
from scores.properties import CORE_PROPERTIES
from property_score_cnn.model import BRANCH, ScoreCNN, fit_to_input_size, load_width_model

HIDDEN = 64


class PropertyDiscriminator(nn.Module):
    def __init__(self, width=1.0):
        super().__init__()
        self.width = width
        for name in CORE_PROPERTIES:
            self.add_module(BRANCH[name].module_name, ScoreCNN(BRANCH[name], width))
        self.fc1 = nn.Sequential(nn.Linear(2 * len(CORE_PROPERTIES), HIDDEN), nn.Tanh())
        self.fc_final = nn.Linear(HIDDEN, 1)

    def forward(self, images, labels):
        """images: float [N, 3, H, W] in [-1, 1] (resized to 256x256 when H, W differ, bilinear,
        align_corners=False, no antialiasing); labels: [N, 3] (eyes, mouth, pose).

        Returns logits [N, 1].
        """
        images = fit_to_input_size(images)
        if labels.shape != (len(images), len(CORE_PROPERTIES)):
            raise ValueError(f'expected labels of shape [{len(images)}, {len(CORE_PROPERTIES)}]'
                             f' (eyes, mouth, pose), got {list(labels.shape)}')
        scores = [getattr(self, BRANCH[name].module_name)(BRANCH[name].crop_of(images))
                  for name in CORE_PROPERTIES]
        return self.fc_final(self.fc1(torch.cat(scores + [labels.to(images.dtype)], dim=1)))


def load_property_discriminator(source, width=None):
    """The v5 discriminator from a file or a state dict (published or this repository's)."""
    return load_width_model(PropertyDiscriminator, source, width, V5_DISCRIMINATOR)


def save_property_discriminator(discriminator, path):
    save_checkpoint(path, discriminator.state_dict(), {'width': discriminator.width}, V5_DISCRIMINATOR)


def init_from_property_score_cnn(discriminator, cnn):
    """Start the discriminator's eyes, mouth and pose sub-CNNs from a trained Property Score CNN."""
    for name in CORE_PROPERTIES:
        module_name = BRANCH[name].module_name
        load_into(getattr(discriminator, module_name), getattr(cnn, module_name).state_dict(),
                  'the Property Score CNN', f'{module_name} sub-CNN')
    return discriminator
