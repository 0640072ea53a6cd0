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
