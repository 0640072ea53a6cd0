"""Images as the models see them and as people see them: the brightness and contrast jitter of
training, and generator output as uint8 arrays, contact sheets and PNG files."""
import numpy as np
import torch
from PIL import Image

from common.files import atomic_write

# ITU-R 601 luma weights, the grey level that contrast jitter pulls towards.
LUMA = (0.299, 0.587, 0.114)


def jitter(images, strength, rng):
    """Brightness, then contrast, each scaled by a factor uniform in 1 +- strength per image, on
    [0, 1] intensities (as torchvision's ColorJitter does); images float NCHW in [-1, 1]."""
    if strength == 0:
        return images
    shape = (len(images), 1, 1, 1)
    brightness = 1 + strength * (2 * torch.rand(shape, generator=rng) - 1)
    contrast = 1 + strength * (2 * torch.rand(shape, generator=rng) - 1)
    x = ((images + 1) / 2 * brightness).clamp(0, 1)
    grey = (x * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True).mean((2, 3), keepdim=True)
    x = ((x - grey) * contrast + grey).clamp(0, 1)
    return x * 2 - 1


def to_uint8(images):
    """Generator output (NCHW, about [-1, 1]) -> NHWC uint8 RGB."""
    images = (images.float().clamp(-1, 1) + 1) * 127.5  # float32 even from bfloat16 autocast
    return images.round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def contact_sheet(images, columns=8, fill=255):
    """Tile NHWC uint8 images into one picture, row by row; empty cells take `fill`."""
    n, h, w, c = images.shape
    rows = -(-n // columns)
    sheet = np.full((rows * h, columns * w, c), fill, dtype=np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        sheet[r * h:(r + 1) * h, col * w:(col + 1) * w] = image
    return sheet


def save_png(array, path):
    """An RGB uint8 array as a PNG file, atomically."""
    with atomic_write(path) as tmp:
        Image.fromarray(array).save(tmp)
