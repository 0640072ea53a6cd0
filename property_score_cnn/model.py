"""The Property Score CNN: seven property scores of a 256x256 face, each from a small CNN on a crop.

Six sub-CNNs share one design and differ only in the data of `BRANCHES`: which crop they look at,
how many 3x3 valid convolutions they stack, after which of them a 2x2 max pooling follows, and how
many scores they output. With `width=1` the modules and their `state_dict` keys are exactly those
of the published `stylegan_gen_fine_tuned_v2_cnn.pth`; a smaller width scales every layer for
fast models trained on the synthetic face world.
"""
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from common.checkpoints import (PROPERTY_SCORE_CNN, CheckpointError, describe, load_into,
                                read_checkpoint, save_checkpoint)
from scores.properties import PROPERTY_NAMES

IMAGE_SIZE = 256

# Output channels of conv1, conv2, ... and the fc1 size, all at width 1.
CONV_CHANNELS = (32, 64, 64, 128, 128, 128)
FC_SIZE = 256


@dataclass(frozen=True)
class Branch:
    """One sub-CNN, as plain data."""
    name: str
    crop: tuple       # (top, bottom, left, right), fractions of the image side
    convs: int
    pooled: tuple     # 1-based indices of the convs followed by 2x2 max pooling
    outputs: int

    @property
    def module_name(self):
        return f'{self.name}_score_cnn'

    def crop_bounds(self):
        return tuple(int(fraction * IMAGE_SIZE) for fraction in self.crop)

    def crop_of(self, images):
        top, bottom, left, right = self.crop_bounds()
        return images[:, :, top:bottom, left:right]


# In the published registration order (which fixes the order of the state dict).
BRANCHES = (
    Branch('eyes', (3 / 8, 9 / 16, 1 / 4, 3 / 4), convs=4, pooled=(2, 3, 4), outputs=1),
    Branch('mouth', (5 / 8, 13 / 16, 3 / 8, 5 / 8), convs=4, pooled=(2, 3, 4), outputs=1),
    Branch('pose', (7 / 16, 5 / 8, 11 / 32, 21 / 32), convs=5, pooled=(2, 3), outputs=1),
    Branch('hair_color', (0, 1, 0, 1), convs=6, pooled=(2, 3, 4, 5, 6), outputs=1),
    Branch('hair_length', (1 / 2, 1, 0, 1), convs=6, pooled=(2, 3, 4, 5), outputs=1),
    Branch('background', (0, 1 / 2, 0, 1), convs=6, pooled=(2, 3, 4, 5), outputs=2),
)
BRANCH = {branch.name: branch for branch in BRANCHES}
# The branch of each output column (PROPERTY_NAMES, the published order): one branch per property,
# but the background branch gives both background outputs, mean then std.
OUTPUT_BRANCH_OF = {name: 'background' if name.startswith('background_') else name
                    for name in PROPERTY_NAMES}
BRANCH_OUTPUTS = {branch: tuple(name for name in PROPERTY_NAMES if OUTPUT_BRANCH_OF[name] == branch)
                  for branch in BRANCH}


def scaled(channels, width):
    return max(1, round(channels * width))


def feature_shape(branch, width):
    """(channels, height, width) of the last conv block's output on the branch's crop."""
    top, bottom, left, right = branch.crop_bounds()
    height, breadth = bottom - top, right - left
    for index in range(1, branch.convs + 1):
        height, breadth = height - 2, breadth - 2
        if index in branch.pooled:
            height, breadth = height // 2, breadth // 2
    return scaled(CONV_CHANNELS[branch.convs - 1], width), height, breadth


class ScoreCNN(nn.Module):
    """One property's CNN: conv blocks (3x3 valid conv, LeakyReLU, channel dropout 0.05, some
    followed by 2x2 max pooling), then fc1 (tanh, dropout 0.45) and a linear output layer."""

    def __init__(self, branch, width=1.0):
        super().__init__()
        self.branch = branch
        channels = [3] + [scaled(c, width) for c in CONV_CHANNELS[:branch.convs]]
        for index in range(1, branch.convs + 1):
            # A Sequential, so that the conv's parameters are published as `convK.0.*`.
            self.add_module(f'conv{index}', nn.Sequential(
                nn.Conv2d(channels[index - 1], channels[index], kernel_size=3),
                nn.LeakyReLU(0.01),
                nn.Dropout2d(0.05)))
        hidden = scaled(FC_SIZE, width)
        self.fc1 = nn.Sequential(
            nn.Linear(int(np.prod(feature_shape(branch, width))), hidden),
            nn.Tanh(),
            nn.Dropout(0.45))
        self.fc_final = nn.Linear(hidden, branch.outputs)

    def forward(self, x):
        for index in range(1, self.branch.convs + 1):
            x = getattr(self, f'conv{index}')(x)
            if index in self.branch.pooled:
                x = F.max_pool2d(x, 2)
        return self.fc_final(self.fc1(torch.flatten(x, 1)))


def fit_to_input_size(images):
    """Check a float NCHW RGB batch and bring it to 256x256.

    Any other size is resized first (bilinear, align_corners=False, no antialiasing), which keeps
    gradients flowing, so a generator of any resolution can be scored or discriminated.
    """
    if images.ndim != 4 or images.shape[1] != 3 or not images.is_floating_point():
        raise ValueError(f'expected a float image batch of shape [N, 3, H, W] in [-1, 1],'
                         f' got {images.dtype} of shape {list(images.shape)}')
    if tuple(images.shape[-2:]) != (IMAGE_SIZE, IMAGE_SIZE):
        images = F.interpolate(images, size=(IMAGE_SIZE, IMAGE_SIZE), mode='bilinear',
                               align_corners=False, antialias=False)
    return images


class PropertyScoreCNN(nn.Module):
    """Seven scores per image: eyes, hair_color, hair_length, mouth, pose, background_mean,
    background_std (the z-scored property values it was trained on)."""

    def __init__(self, width=1.0):
        super().__init__()
        self.width = width
        for branch in BRANCHES:
            self.add_module(branch.module_name, ScoreCNN(branch, width))

    def forward(self, images):
        """images: float [N, 3, H, W] in [-1, 1], resized to 256x256 when H, W differ -> [N, 7]."""
        return self.score(images, PROPERTY_NAMES)

    def score(self, images, names):
        """Only the scores `names` (from PROPERTY_NAMES) -> [N, len(names)], running only the
        sub-CNNs they need: eyes, mouth and pose read small crops and cost a fraction of the rest."""
        unknown = [name for name in names if name not in PROPERTY_NAMES]
        if unknown:
            raise ValueError(f'unknown property {unknown}; expected names from {PROPERTY_NAMES}')
        # Channels-last runs these narrow convolutions faster on the CPU (oneDNN's layout;
        # docs/performance.md).
        images = fit_to_input_size(images).contiguous(memory_format=torch.channels_last)
        outputs = {}
        for branch_name in dict.fromkeys(OUTPUT_BRANCH_OF[name] for name in names):
            branch = BRANCH[branch_name]
            scores = getattr(self, branch.module_name)(branch.crop_of(images))
            outputs.update(zip(BRANCH_OUTPUTS[branch_name], scores.unbind(1)))
        return torch.stack([outputs[name] for name in names], dim=1)


def load_width_model(model_class, source, width, variant):
    """Build `model_class(width)` and load `source` (a path or a state dict) into it, in eval mode.

    The width comes from the repository's own file when it has one; a published raw state dict
    is width 1 unless `width` says otherwise.
    """
    state_dict, config = read_checkpoint(source, variant)
    if config is not None and not isinstance(config.get('width'), (int, float)):
        raise CheckpointError(f'{describe(source)}: not a {variant} checkpoint: its stored'
                              f' configuration has no width ({sorted(config)})')
    stored = None if config is None else config['width']
    if stored is not None and width is not None and stored != width:
        raise ValueError(f'{describe(source)}: holds a {variant} of width {stored},'
                         f' but width {width} was asked for')
    model = model_class(width=stored if stored is not None else (width or 1.0))
    load_into(model, state_dict, describe(source), variant)
    return model.eval()


def load_property_score_cnn(source, width=None):
    """The Property Score CNN from a file or a state dict (published or this repository's)."""
    return load_width_model(PropertyScoreCNN, source, width, PROPERTY_SCORE_CNN)


def save_property_score_cnn(model, path):
    save_checkpoint(path, model.state_dict(), {'width': model.width}, PROPERTY_SCORE_CNN)


def as_model_input(images):
    """A float NCHW tensor in [-1, 1] from either that or a uint8 NHWC RGB batch (x / 127.5 - 1)."""
    if isinstance(images, np.ndarray) and not images.flags.writeable:
        images = images.copy()  # e.g. np.asarray of a PIL image; torch wants writable memory
    images = torch.as_tensor(images)
    if images.dtype == torch.uint8:
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f'expected a uint8 RGB batch of shape [N, H, W, 3],'
                             f' got shape {list(images.shape)}')
        return images.permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return images.float()


def score_images(model, images, batch_size=64, device=None, progress=None):
    """Property scores of many images, batch by batch, without gradients -> float32 [N, 7].

    `images`: a float tensor or array [N, 3, H, W] in [-1, 1], or a uint8 [N, H, W, 3] RGB batch.
    Images that are not 256x256 are resized to 256x256 (bilinear, align_corners=False, no
    antialiasing). The model runs in eval mode, its previous mode restored afterwards; a given
    `device` moves the model there, otherwise the model's own device is used. `progress`: a
    label for a progress bar over the batches (none without it).
    """
    if device is not None:
        model.to(device)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            batches = range(0, len(images), batch_size)
            scores = [model(as_model_input(images[start:start + batch_size]).to(device)).cpu()
                      for start in tqdm(batches, desc=progress, unit='batch', disable=progress is None)]
    finally:
        model.train(was_training)
    if not scores:
        return np.zeros((0, len(PROPERTY_NAMES)), dtype=np.float32)
    return torch.cat(scores).numpy().astype(np.float32)
