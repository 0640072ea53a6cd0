"""The world reader: a small CNN from a face image to the world's factors, and its file.

Conv blocks (3x3 convolution, BatchNorm, ReLU) halve the image four times; the last map is
flattened, not averaged, so that where a part lies (an eye's row, the mouth's) stays readable; a
fully connected layer gives the features (`features`, for a Frechet distance) and a linear layer
the factor encodings of `judge.factors`, scaled to unit spread per column by the training set's
mean and std, which the model keeps as buffers and undoes in `encoded` and `read`.
"""
import torch
from torch import nn

from common.checkpoints import CheckpointError, describe, load_into, read_checkpoint, save_checkpoint
from judge.factors import ENCODING_COLUMNS, decode
from judge.views import reader_input

WORLD_READER = 'world reader'
# (output channels at width 1, convolutions) of each stage; each stage ends by halving the map.
# One convolution at full resolution, where it costs most, two at each coarser one.
STAGES = ((16, 1), (32, 2), (64, 2), (96, 2))
FEATURES = 256


def conv_block(inputs, outputs):
    return nn.Sequential(nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
                         nn.BatchNorm2d(outputs), nn.ReLU(inplace=True))


class WorldReader(nn.Module):
    """Factor encodings of `resolution` px faces (float NCHW in [-1, 1]): `forward` gives them
    scaled to unit std (what training fits), `encoded` / `read` in the world's units."""

    def __init__(self, resolution=64, width=1.0):
        super().__init__()
        if resolution % 16 or resolution < 16:
            raise ValueError(f'the world reader needs a resolution that is a multiple of 16, got'
                             f' {resolution}')
        self.resolution, self.width = int(resolution), float(width)
        layers, channels = [], 3
        for outputs, convs in STAGES:
            outputs = max(1, round(outputs * width))
            for _ in range(convs):
                layers.append(conv_block(channels, outputs))
                channels = outputs
            layers.append(nn.MaxPool2d(2))
        self.trunk = nn.Sequential(*layers)
        side = resolution // 16
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(channels * side * side, FEATURES),
                                  nn.ReLU(inplace=True))
        self.out = nn.Linear(FEATURES, len(ENCODING_COLUMNS))
        self.register_buffer('target_mean', torch.zeros(len(ENCODING_COLUMNS)))
        self.register_buffer('target_std', torch.ones(len(ENCODING_COLUMNS)))

    def config(self):
        return {'resolution': self.resolution, 'width': self.width,
                'encoding_columns': list(ENCODING_COLUMNS)}

    def set_target_scale(self, mean, std):
        """Remember the training targets' per-column mean and std (std floored: no column is
        constant in the world, but a tiny test set may make one so)."""
        self.target_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.target_std.copy_(torch.as_tensor(std, dtype=torch.float32).clamp_min(1e-6))

    def forward(self, images):
        return self.out(self.head(self.trunk(images)))

    def scale(self, encodings):
        """World encodings -> the unit-std targets `forward` is trained to give."""
        return (encodings - self.target_mean) / self.target_std

    def features(self, images, batch_size=256):
        """Penultimate features of images -> float32 numpy [N, FEATURES]."""
        return self._run(images, lambda x: self.head(self.trunk(x)), batch_size)

    def encoded(self, images, batch_size=256):
        """Factor encodings in world units (judge.factors) -> float32 numpy [N, columns]."""
        return self._run(images, lambda x: self(x) * self.target_std + self.target_mean, batch_size)

    def read(self, images, batch_size=256):
        """The read factors in world units -> DataFrame [N, judge.factors.READ_FACTORS]."""
        return decode(self.encoded(images, batch_size))

    def _run(self, images, function, batch_size):
        """`function` over batches of images, in eval mode and without gradients (the model's mode
        is restored afterwards)."""
        if len(images) == 0:
            raise ValueError('no images to read: expected a batch of at least one image')
        device = self.target_mean.device
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                outputs = [function(reader_input(images[start:start + batch_size], self.resolution)
                                    .to(device)).float().cpu()
                           for start in range(0, len(images), batch_size)]
        finally:
            self.train(was_training)
        return torch.cat(outputs).numpy()


def save_world_reader(model, path):
    save_checkpoint(path, model.state_dict(), model.config(), WORLD_READER)


def load_world_reader(path, device='cpu'):
    """The world reader saved at `path`, in eval mode; a missing file, another model's file or one
    of other shapes is a CheckpointError naming the file and what was expected."""
    state_dict, config = read_checkpoint(path, WORLD_READER)
    where = describe(path)
    if config is None or not {'resolution', 'width', 'encoding_columns'} <= set(config):
        raise CheckpointError(f'{where}: not a world reader file (expected one written by'
                              f' judge.train, with its resolution, width and encoding columns)')
    if list(config['encoding_columns']) != list(ENCODING_COLUMNS):
        raise CheckpointError(f'{where}: a world reader of other factors'
                              f' ({len(config["encoding_columns"])} columns, expected'
                              f' {len(ENCODING_COLUMNS)}); train it again with judge.train')
    model = WorldReader(int(config['resolution']), float(config['width']))
    load_into(model, state_dict, where, WORLD_READER)
    return model.to(device).eval()

