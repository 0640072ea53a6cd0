"""A stand-in Property Score CNN whose seven scores are fixed linear read-outs of the image, so
that what a change of the generator's input does to them can be predicted."""
import torch

from scores.properties import PROPERTY_NAMES


class LinearScores(torch.nn.Module):
    def __init__(self, pixels, seed=2):
        super().__init__()
        self.readout = torch.randn(pixels, len(PROPERTY_NAMES),
                                   generator=torch.Generator().manual_seed(seed))

    def score(self, images, names):
        return images.flatten(1) @ self.readout[:, [PROPERTY_NAMES.index(n) for n in names]]


class LinearGenerator(torch.nn.Module):
    """A stand-in v6 generator whose image is a fixed linear map of its code (z and the extra
    dims), and whose mapping network is another: with `LinearScores`, every score is linear in
    the code, so a steering solve has an exact answer to reach."""

    def __init__(self, z_dim=8, label_dim=3, size=8, seed=3):
        super().__init__()
        self.z_dim, self.label_dim, self.size = z_dim, label_dim, size
        generator = torch.Generator().manual_seed(seed)
        code_dim = z_dim + label_dim
        self.to_image = torch.nn.Parameter(torch.randn(code_dim, 3 * size * size, generator=generator) / code_dim ** 0.5)
        self.to_w = torch.nn.Parameter(torch.randn(code_dim, code_dim, generator=generator))

    def mapping(self, z, extra):
        return torch.cat([z, extra], 1) @ self.to_w

    def forward(self, z, extra, **_):
        image = torch.cat([z, extra], 1) @ self.to_image
        return {'image': image.reshape(-1, 3, self.size, self.size)}
