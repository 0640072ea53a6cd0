"""The label-aware StyleGAN discriminator (genforce numerics, key names of the published
`stylegan_dis_fine_tuned_v1.pth`).

    image --FromRGB--> [conv, blur + conv + downsample] per resolution --> 4 px: minibatch std,
    conv, dense --> concat(label) --> dense --> score

The label enters at the very end, concatenated to the last features, so the score can judge
whether an image fits its property label.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from common.checkpoints import (DISCRIMINATOR, CheckpointError, describe, load_into, read_checkpoint,
                                save_checkpoint)
from stylegan.generator import INIT_RES, FUSED_SCALE_MIN_RES, Blur, num_blocks

PUBLISHED_DISCRIMINATOR = dict(resolution=256, fmaps_base=16 << 10, fmaps_max=512, label_dim=7,
                               mbstd_group_size=4)


class Conv(nn.Module):
    """Weight-scaled 3x3 (or 1x1) conv with leaky ReLU; `down` blurs first and halves the size."""

    def __init__(self, in_ch, out_ch, kernel=3, down=None):
        super().__init__()
        self.down = down  # None, 'pool' (conv then average pool) or 'fused' (stride-2 conv)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.wscale = math.sqrt(2.0) / math.sqrt(in_ch * kernel * kernel)
        if down:
            self.blur = Blur(in_ch)

    def forward(self, x):
        weight = self.weight * self.wscale
        padding = self.weight.shape[-1] // 2
        if self.down:
            x = self.blur(x)
        if self.down == 'fused':
            # Conv-then-average-pool folded into one stride-2 conv with a 4x4 kernel.
            weight = F.pad(weight, (1, 1, 1, 1))
            weight = (weight[:, :, 1:, 1:] + weight[:, :, :-1, 1:]
                      + weight[:, :, 1:, :-1] + weight[:, :, :-1, :-1]) * 0.25
            x = F.conv2d(x, weight, self.bias, stride=2, padding=1)
        else:
            x = F.conv2d(x, weight, self.bias, padding=padding)
            if self.down == 'pool':
                x = F.avg_pool2d(x, 2)
        return F.leaky_relu(x, 0.2)


class DenseLayer(nn.Module):
    def __init__(self, in_dim, out_dim, gain=math.sqrt(2.0), activate=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim))
        self.wscale = gain / math.sqrt(in_dim)
        self.activate = activate

    def forward(self, x):
        x = F.linear(x.flatten(1), self.weight * self.wscale, self.bias)
        return F.leaky_relu(x, 0.2) if self.activate else x


def minibatch_stddev(x, group_size):
    """Append the mean standard deviation over groups of samples as one more channel, so the
    discriminator can see a lack of variety in a batch of fakes."""
    group = min(group_size, x.shape[0])
    if group <= 1 or x.shape[0] % group:
        return torch.cat([x, x.new_zeros(x.shape[0], 1, *x.shape[2:])], dim=1)
    y = x.view(group, -1, *x.shape[1:])
    y = (y - y.mean(dim=0)).pow(2).mean(dim=0).add(1e-8).sqrt()
    y = y.mean(dim=(1, 2, 3)).view(1, -1, 1, 1, 1).expand(group, -1, 1, *x.shape[2:])
    return torch.cat([x, y.reshape(x.shape[0], 1, *x.shape[2:])], dim=1)


class Discriminator(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = dict(config)
        self.resolution = config['resolution']
        self.label_dim = config['label_dim']
        self.num_blocks = num_blocks(self.resolution)
        self.register_buffer('lod', torch.zeros(()))
        nf = lambda res: min(config['fmaps_base'] // res, config['fmaps_max'])
        for block in range(self.num_blocks):
            res = self.resolution >> block
            self.add_module(f'input{block}', Conv(3, nf(res), kernel=1))
            if res > INIT_RES:
                down = 'fused' if res >= FUSED_SCALE_MIN_RES else 'pool'
                self.add_module(f'layer{2 * block}', Conv(nf(res), nf(res)))
                self.add_module(f'layer{2 * block + 1}', Conv(nf(res), nf(res // 2), down=down))
            else:
                self.add_module(f'layer{2 * block}', Conv(nf(res) + 1, nf(res)))
                self.add_module(f'layer{2 * block + 1}', DenseLayer(nf(res) * res * res, nf(res // 2)))
        self.add_module(f'layer{2 * self.num_blocks}',
                        DenseLayer(nf(INIT_RES // 2) + self.label_dim, 1, gain=1.0, activate=False))

    def forward(self, image, label):
        """Real-vs-fake logits [N, 1] for images [N, 3, R, R] with labels [N, label_dim]."""
        expected = (3, self.resolution, self.resolution)
        if image.ndim != 4 or tuple(image.shape[1:]) != expected:
            raise ValueError(f'images must have shape [batch, {", ".join(map(str, expected))}],'
                             f' got {list(image.shape)}')
        if tuple(label.shape) != (image.shape[0], self.label_dim):
            raise ValueError(f'labels must have shape [{image.shape[0]}, {self.label_dim}],'
                             f' got {list(label.shape)}')
        x = self.input0(image)
        for block in range(self.num_blocks):
            if block == self.num_blocks - 1:
                x = minibatch_stddev(x, self.config['mbstd_group_size'])
            x = getattr(self, f'layer{2 * block}')(x)
            x = getattr(self, f'layer{2 * block + 1}')(x)
        return getattr(self, f'layer{2 * self.num_blocks}')(torch.cat([x.flatten(1), label], dim=1))


def load_discriminator(source):
    """A discriminator from a file or a state dict: this repository's files carry their
    configuration; a raw state dict is read as the published 256 px v1 discriminator."""
    state_dict, config = read_checkpoint(source, DISCRIMINATOR)
    if config is not None:
        missing = sorted(set(PUBLISHED_DISCRIMINATOR) - set(config))
        if missing:
            raise CheckpointError(f'{describe(source)}: not a {DISCRIMINATOR} checkpoint: its stored'
                                  f' configuration lacks {missing}')
    discriminator = Discriminator(config or PUBLISHED_DISCRIMINATOR)
    return load_into(discriminator, state_dict, describe(source), DISCRIMINATOR)


def save_discriminator(discriminator, path):
    save_checkpoint(path, discriminator.state_dict(), discriminator.config, DISCRIMINATOR)
