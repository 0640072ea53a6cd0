"""Where VectorFind looks for directions: z or w, and in w which synthesis layers an edit reaches.

* ``z`` (v6): a point is the latent code itself, z and the 3 extra dims (515 numbers);
* ``w`` (v7): a point is the mapping network's output for the code (w_dim numbers). The published
  v7 found its directions there because w is less entangled than z. An edited point is rendered
  with truncation psi 1, as v7 does, so an unedited code renders exactly as it does in z.

In w an edit can also be restricted to some synthesis layers (StyleGAN's w+): each layer takes its
own copy of w, and adding a direction only to the layers whose styles draw a property leaves what
the other layers draw as it was. `layers` maps a property to the range of layers [first, stop) its
direction is added to; a property it does not name reaches every layer.
"""
from dataclasses import dataclass, field

import numpy as np
import torch

from scores.properties import CORE_PROPERTIES
from vectorfind.latents import images as latent_images, mapped

SPACES = ('z', 'w')


@dataclass(frozen=True)
class LatentSpace:
    name: str = 'z'
    layers: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.name not in SPACES:
            raise ValueError(f'space {self.name!r}: expected one of {SPACES}')
        if self.layers and self.name != 'w':
            raise ValueError('layer ranges restrict edits of w; they need --space w')
        unknown = sorted(set(self.layers) - set(CORE_PROPERTIES))
        if unknown:
            raise ValueError(f'layer ranges for {unknown}: expected properties among {CORE_PROPERTIES}')

    def dim(self, generator):
        """Length of a point, and so of a direction."""
        return generator.z_dim + generator.label_dim if self.name == 'z' else generator.config['w_dim']

    @torch.inference_mode()
    def points(self, generator, codes, device, batch_size=1000):
        """Points [N, dim] float32 of codes [N, z_dim + 3]."""
        if self.name == 'z':
            return np.asarray(codes, dtype=np.float32)
        out = []
        for start in range(0, len(codes), batch_size):
            out.append(mapped(generator, codes[start:start + batch_size], device).float().cpu())
        return torch.cat(out).numpy()

    def check(self, generator):
        """Refuse layer ranges beyond the generator's synthesis layers."""
        for prop, (first, stop) in self.layers.items():
            if stop > generator.num_layers:
                raise ValueError(f'--layers {prop}={first}-{stop}: the generator has'
                                 f' {generator.num_layers} synthesis layers (0-{generator.num_layers})')


@dataclass(frozen=True, eq=False)
class CodeEditor:
    """How one generator's codes are moved and drawn in one space: the single form of an edit that
    every VectorFind stage uses (the test, the local hold, steering, retest, the leakage matrix).

    `edited` moves one code [z_dim + 3] by each row of weights [N, 3] along directions [3, dim]
    (eyes, mouth, pose): codes [N, z_dim + 3] in z, per-layer styles [N, layers, w_dim] in w;
    `images` draws rows of that, truncation off, fixed noise. Both are differentiable (the local
    hold takes their gradient); `render` does both without autograd, in batches.
    """
    generator: torch.nn.Module
    space: LatentSpace = LatentSpace()
    device: str = 'cpu'

    def edited(self, code, weights, directions, shift=None):
        """`code` edited by each row of `weights` along `directions`, which may also be one set
        per row [N, 3, dim] (the local hold's probes, `vectorfind/local_hold.py`), and moved by
        `shift` [N, dim] besides, on every layer (a character's corrections,
        `characters/character.py`)."""
        generator, device = self.generator, self.device
        weights = torch.as_tensor(np.asarray(weights, dtype=np.float32), device=device)
        moves = weights[..., None] * torch.as_tensor(directions, device=device)  # [N, 3, dim]
        if shift is not None:
            shift = torch.as_tensor(shift, dtype=moves.dtype, device=device)
        if self.space.name == 'z':
            edited = torch.as_tensor(code, device=device)[None, :] + moves.sum(dim=1)
            return edited if shift is None else edited + shift
        with torch.no_grad():  # in the synthesis network's dtype, whatever autocast ran the mapping in
            w = mapped(generator, code[None, :], device).to(next(generator.synthesis.parameters()).dtype)
        styles = generator.truncation(w.repeat(len(weights), 1))  # psi 1: w on every layer
        for k, prop in enumerate(CORE_PROPERTIES):
            first, stop = self.space.layers.get(prop, (0, generator.num_layers))
            styles[:, first:stop] += moves[:, k, None, :]
        return styles if shift is None else styles + shift[:, None, :]

    def images(self, edited):
        """Images (NCHW, raw range) of rows of `edited`'s output."""
        if self.space.name == 'z':
            return latent_images(self.generator, edited, self.device)
        return self.generator.synthesis(edited.to(self.device), randomize_noise=False)

    @torch.inference_mode()
    def render(self, code, weights, directions, batch_size=1, shift=None):
        """Images of `code` edited by each row of `weights` (and `shift`), drawn `batch_size`
        rows at a time: a batched convolution rounds a few pixels differently depending on what
        else is in the batch, so each caller keeps its own batching and gets its own faces bit
        for bit."""
        edited = self.edited(code, weights, directions, shift)
        return torch.cat([self.images(edited[i:i + batch_size]) for i in range(0, len(edited), batch_size)])


def parse_layers(text):
    """{property: (first, stop)} from 'eyes=2-6,pose=0-4' (layers first..stop-1)."""
    layers = {}
    for part in filter(None, (text or '').split(',')):
        try:
            prop, span = part.split('=')
            first, stop = (int(v) for v in span.split('-'))
        except ValueError:
            raise ValueError(f'--layers {text!r}: expected PROPERTY=FIRST-STOP[,...], e.g.'
                             f' eyes=2-6,pose=0-4') from None
        if not 0 <= first < stop:
            raise ValueError(f'--layers {part!r}: need 0 <= FIRST < STOP')
        layers[prop.strip()] = (first, stop)
    return layers
