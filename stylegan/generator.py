"""The StyleGAN generator (Karras et al. 2019) with the numerics of the genforce implementation,
which the published Oh-LoRA checkpoints were trained with.

    z, label --mapping--> w --truncation--> wp (one w per layer) --synthesis--> image

Parameter names follow genforce, so a published raw state dict loads with no renaming. Weights
are stored unscaled and multiplied at run time by He's constant times a learning-rate multiplier
("equalised learning rate"), which is why a mapping layer with multiplier 0.01 stores weights
100 times larger than it uses.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

INIT_RES = 4
FUSED_SCALE_MIN_RES = 128  # genforce 'auto': transposed conv from 128 px up, nearest+conv below
W_AVG_SAMPLES = 1000
W_AVG_SEED = 0


def upsample_nearest(x):
    """2x nearest-neighbour upsampling of NCHW, equal to F.interpolate(mode='nearest') to the bit:
    written as a broadcast copy because interpolate's CPU kernel took a large share of a small
    generator's forward pass (docs/performance.md, benchmarks/generator_throughput.py)."""
    n, c, h, w = x.shape
    return x[:, :, :, None, :, None].expand(n, c, h, 2, w, 2).reshape(n, c, 2 * h, 2 * w)


def num_blocks(resolution):
    """Resolutions from 4 px up to `resolution`: one synthesis (or discriminator) block each."""
    return int(math.log2(resolution)) - int(math.log2(INIT_RES)) + 1


class PixelNorm(nn.Module):
    def forward(self, x):
        return x / torch.sqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class Dense(nn.Module):
    """Weight-scaled fully connected layer with leaky ReLU."""

    def __init__(self, in_dim, out_dim, lr_mul=1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.zeros(out_dim))
        self.wscale = math.sqrt(2.0) / math.sqrt(in_dim) * lr_mul
        self.lr_mul = lr_mul

    def forward(self, x):
        x = F.linear(x, self.weight * self.wscale, self.bias * self.lr_mul)
        return F.leaky_relu(x, 0.2)


class Mapping(nn.Module):
    """z (and the label) -> w: pixel norm, then `num_layers` dense layers."""

    def __init__(self, config):
        super().__init__()
        self.z_dim = config['z_dim']
        self.label_mode = config['label_mode']
        self.label_dim = config['label_dim'] if self.label_mode != 'none' else 0
        extra = {'embed': config['label_embed_dim'], 'concat': self.label_dim, 'none': 0}
        if self.label_mode not in extra:
            raise ValueError(f"label_mode must be one of {sorted(extra)}, got {self.label_mode!r}")
        if self.label_mode == 'embed':
            self.label_weight = nn.Parameter(torch.randn(self.label_dim, config['label_embed_dim']))
        dims = ([self.z_dim + extra[self.label_mode]]
                + [config['mapping_fmaps']] * (config['mapping_layers'] - 1) + [config['w_dim']])
        self.num_layers = config['mapping_layers']
        for i in range(self.num_layers):
            self.add_module(f'dense{i}', Dense(dims[i], dims[i + 1], config['mapping_lr_mul']))
        self.norm = PixelNorm()

    def forward(self, z, label=None):
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f'z must have shape [batch, {self.z_dim}], got {list(z.shape)}')
        if self.label_mode != 'none':
            if label is None or tuple(label.shape) != (z.shape[0], self.label_dim):
                got = None if label is None else list(label.shape)
                raise ValueError(f'label must have shape [{z.shape[0]}, {self.label_dim}],'
                                 f' got {got}')
            extra = label @ self.label_weight if self.label_mode == 'embed' else label
            z = torch.cat([z, extra.to(z.dtype)], dim=1)
        w = self.norm(z)
        for i in range(self.num_layers):
            w = getattr(self, f'dense{i}')(w)
        return w


class Truncation(nn.Module):
    """Broadcast w to every layer; pull the first `trunc_layers` layers towards a w average."""

    def __init__(self, w_dim, num_layers):
        super().__init__()
        self.num_layers = num_layers
        self.register_buffer('w_avg', torch.zeros(w_dim))

    def forward(self, w, trunc_psi=1.0, trunc_layers=0, w_avg=None):
        """`w` is [N, w_dim] or already per layer [N, L, w_dim]; `w_avg` ([w_dim] or a per-sample
        [N, w_dim]) replaces the stored average."""
        wp = w.unsqueeze(1).repeat(1, self.num_layers, 1) if w.ndim == 2 else w
        trunc_psi = 1.0 if trunc_psi is None else trunc_psi
        trunc_layers = 0 if trunc_layers is None else min(trunc_layers, self.num_layers)
        if trunc_psi >= 1.0 or trunc_layers <= 0:
            return wp
        w_avg = self.w_avg if w_avg is None else w_avg
        w_avg = w_avg.view(-1, 1, wp.shape[2])
        coefs = torch.ones(1, self.num_layers, 1, dtype=wp.dtype, device=wp.device)
        coefs[:, :trunc_layers] = trunc_psi
        return w_avg + (wp - w_avg) * coefs


class NoiseInjection(nn.Module):
    """Per-pixel noise scaled per channel; the stored buffer makes a generator deterministic."""

    def __init__(self, resolution, channels):
        super().__init__()
        self.register_buffer('noise', torch.randn(1, 1, resolution, resolution))
        self.weight = nn.Parameter(torch.zeros(channels))

    def forward(self, x, randomize_noise):
        if randomize_noise:
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
        else:
            noise = self.noise
        return x + noise * self.weight.view(1, -1, 1, 1)


class StyleMod(nn.Module):
    """Affine map of w to a per-channel scale and shift, applied after instance norm."""

    def __init__(self, w_dim, channels):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(2 * channels, w_dim))
        self.bias = nn.Parameter(torch.zeros(2 * channels))
        self.wscale = 1.0 / math.sqrt(w_dim)

    def forward(self, x, w):
        style = F.linear(w, self.weight * self.wscale, self.bias)
        scale, shift = style.view(-1, 2, x.shape[1], 1, 1).unbind(1)
        return x * (scale + 1) + shift


class Blur(nn.Module):
    """Depthwise [1, 2, 1] x [1, 2, 1] / 16 low-pass filter after every upsampling."""

    def __init__(self, channels):
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        kernel = torch.outer(k, k) / 16.0
        self.register_buffer('kernel', kernel.expand(channels, 1, 3, 3).clone())

    def forward(self, x):
        return F.conv2d(x, self.kernel, padding=1, groups=x.shape[1])


def instance_norm(x):
    x = x - x.mean(dim=(2, 3), keepdim=True)
    return x / torch.sqrt(x.pow(2).mean(dim=(2, 3), keepdim=True) + 1e-8)


class StyleConv(nn.Module):
    """One synthesis layer: [const | (upsample) conv (blur)], noise, bias, lrelu, norm, style."""

    def __init__(self, in_ch, out_ch, resolution, w_dim, kind):
        super().__init__()
        self.kind = kind  # 'const', 'conv', 'up' (nearest + conv) or 'fused_up' (transposed conv)
        self.bias = nn.Parameter(torch.zeros(out_ch))
        if kind == 'const':
            self.const = nn.Parameter(torch.ones(1, in_ch, resolution, resolution))
        else:
            self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 3, 3))
            self.wscale = math.sqrt(2.0) / math.sqrt(in_ch * 9)
        self.apply_noise = NoiseInjection(resolution, out_ch)
        self.style = StyleMod(w_dim, out_ch)
        if kind in ('up', 'fused_up'):
            self.blur = Blur(out_ch)

    def convolve(self, x):
        weight = self.weight * self.wscale
        if self.kind == 'fused_up':
            # Upsample-then-3x3 folded into one stride-2 transposed conv with a 4x4 kernel.
            weight = F.pad(weight, (1, 1, 1, 1))
            weight = (weight[:, :, 1:, 1:] + weight[:, :, :-1, 1:]
                      + weight[:, :, 1:, :-1] + weight[:, :, :-1, :-1])
            return F.conv_transpose2d(x, weight.transpose(0, 1), stride=2, padding=1)
        if self.kind == 'up':
            x = upsample_nearest(x)
        return F.conv2d(x, weight, padding=1)

    def forward(self, x, w, randomize_noise=False):
        if self.kind == 'const':
            x = self.const.expand(w.shape[0], -1, -1, -1)
        else:
            x = self.convolve(x)
            if self.kind != 'conv':
                x = self.blur(x)
        x = self.apply_noise(x, randomize_noise)
        x = F.leaky_relu(x + self.bias.view(1, -1, 1, 1), 0.2)
        return self.style(instance_norm(x), w)


class ToRGB(nn.Module):
    def __init__(self, in_ch, out_ch=3):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 1, 1))
        self.wscale = 1.0 / math.sqrt(in_ch)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.wscale, self.bias)


class Synthesis(nn.Module):
    """wp [N, L, w_dim] -> image [N, 3, R, R], two layers per resolution from 4 px up.

    `lod` (level of detail) blends the output of a coarser resolution, as in progressive growing;
    a trained generator has lod 0 and renders at full resolution.
    """

    def __init__(self, config):
        super().__init__()
        self.resolution = config['resolution']
        self.num_blocks = num_blocks(self.resolution)
        self.num_layers = 2 * self.num_blocks
        self.register_buffer('lod', torch.zeros(()))
        nf = lambda res: min(config['fmaps_base'] // res, config['fmaps_max'])
        w_dim = config['w_dim']
        for block in range(self.num_blocks):
            res = INIT_RES * 2 ** block
            if block == 0:
                first = StyleConv(nf(res), nf(res), res, w_dim, 'const')
            else:
                kind = 'fused_up' if res >= FUSED_SCALE_MIN_RES else 'up'
                first = StyleConv(nf(res // 2), nf(res), res, w_dim, kind)
            self.add_module(f'layer{2 * block}', first)
            self.add_module(f'layer{2 * block + 1}', StyleConv(nf(res), nf(res), res, w_dim, 'conv'))
            self.add_module(f'output{block}', ToRGB(nf(res)))

    def forward(self, wp, lod=None, randomize_noise=False):
        lod = float(self.lod) if lod is None else float(lod)
        if not 0 <= lod <= self.num_blocks - 1:
            raise ValueError(f'lod must be in [0, {self.num_blocks - 1}], got {lod}')
        if wp.ndim != 3 or wp.shape[1] != self.num_layers:
            raise ValueError(f'wp must have shape [batch, {self.num_layers}, w_dim],'
                             f' got {list(wp.shape)}')
        x = image = None
        for block in range(self.num_blocks):
            block_lod = self.num_blocks - 1 - block
            if lod < block_lod + 1:
                x = getattr(self, f'layer{2 * block}')(x, wp[:, 2 * block], randomize_noise)
                x = getattr(self, f'layer{2 * block + 1}')(x, wp[:, 2 * block + 1], randomize_noise)
            if block_lod - 1 < lod <= block_lod:
                image = getattr(self, f'output{block}')(x)
            elif block_lod < lod < block_lod + 1:
                alpha = math.ceil(lod) - lod
                image = (getattr(self, f'output{block}')(x) * alpha
                         + upsample_nearest(image) * (1 - alpha))
            elif lod >= block_lod + 1:
                image = upsample_nearest(image)
        return image


class Generator(nn.Module):
    """The whole generator, called like the original: ``G(z, label, trunc_psi, trunc_layers,
    randomize_noise)`` returns a dict with ``w`` (mapping output), ``wp`` and ``image``
    (NCHW, raw range, about [-1, 1])."""

    def __init__(self, config):
        super().__init__()
        self.config = dict(config)
        self.num_layers = 2 * num_blocks(config['resolution'])
        # Registered in the published order, which fixes the order of the state dict's keys.
        self.mapping = Mapping(config)
        self.truncation = Truncation(config['w_dim'], self.num_layers)
        self.synthesis = Synthesis(config)
        self._w_avg_cache = {}
        self._w_avg_version = None

    @property
    def z_dim(self):
        return self.config['z_dim']

    @property
    def label_dim(self):
        return self.mapping.label_dim

    def forward(self, z, label=None, trunc_psi=1.0, trunc_layers=0, randomize_noise=False, lod=None):
        w = self.mapping(z, label)
        if self.config.get('conditional_truncation'):
            # Faithful to FineTune-v5: every layer is truncated towards its label's own w average,
            # whatever `trunc_layers` says.
            psi = 1.0 if trunc_psi is None else trunc_psi
            w_avg = self.conditional_w_avg(label) if psi < 1.0 else None
            wp = self.truncation(w, psi, self.num_layers, w_avg=w_avg)
        else:
            wp = self.truncation(w, trunc_psi, trunc_layers)
        image = self.synthesis(wp, lod=lod, randomize_noise=randomize_noise)
        return {'z': z, 'label': label, 'w': w, 'wp': wp, 'image': image}

    def update_w_avg(self, w_mean, decay=0.995):
        """Moving average of w used for truncation, updated with a training batch's mean w [w_dim]
        (under torchrun, the trainer passes the mean over every process's rows)."""
        with torch.no_grad():
            self.truncation.w_avg.lerp_(w_mean.detach(), 1.0 - decay)

    def conditional_w_avg(self, label, num_samples=W_AVG_SAMPLES, seed=W_AVG_SEED):
        """Per-sample w average for each row's label: the mean w of `num_samples` fixed z drawn with
        `seed`, with that label. Computed in one batched mapping pass per distinct label and cached
        until the mapping's weights change."""
        version = tuple(p._version for p in self.mapping.parameters())
        if version != self._w_avg_version:
            self._w_avg_cache, self._w_avg_version = {}, version
        device = label.device
        keys = [row.tobytes() for row in label.detach().cpu().numpy().astype(np.float32)]
        missing = [i for i, key in enumerate(keys) if (key, str(device)) not in self._w_avg_cache]
        if missing:
            distinct = list({keys[i]: i for i in missing}.values())
            generator = torch.Generator().manual_seed(seed)
            z = torch.randn(num_samples, self.z_dim, generator=generator).to(device)
            with torch.no_grad():
                w = self.mapping(z.repeat(len(distinct), 1),
                                 label[distinct].detach().repeat_interleave(num_samples, dim=0))
            for i, mean in zip(distinct, w.view(len(distinct), num_samples, -1).mean(dim=1)):
                self._w_avg_cache[(keys[i], str(device))] = mean
        return torch.stack([self._w_avg_cache[(key, str(device))] for key in keys])
