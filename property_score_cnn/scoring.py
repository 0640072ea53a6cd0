"""What the Property Score CNN sees of an image, and the CNN-derived all_scores table.

The CNN is trained to score the output of a low-resolution generator, so every image it learns
from or is judged on goes through `cnn_view` first: downscaled to R x R by area averaging (what a
generator of that resolution can draw at best). The CNN's forward pass then upsamples it back to
256 x 256 bilinearly, exactly as it does for a generator's output. Training, evaluation and the
CNN-derived table all use this one function, so the CNN never sees anything else.

    views = load_table_views(table.abs_img_path, resolution=64)   # uint8 [N, 64, 64, 3]
    cnn_score_table(model, 'world/all_scores_v2.csv', 'world/all_scores_v2_cnn.csv', 64)
"""
import os

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from common import distributed
from property_score_cnn.model import IMAGE_SIZE, score_images
from scores.table import DECIMALS, SCORE_COLUMNS, read_score_table, write_score_table

# Images decoded per call of `cnn_view` while loading: bounds the float copy it makes.
LOAD_CHUNK = 256


def cnn_view(images, resolution):
    """uint8 RGB images [N, H, W, 3] as the CNN sees them: R x R by area averaging, still uint8.

    resolution: R, at most the images' size; 0 leaves the images as they are.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f'expected uint8 RGB images [N, H, W, 3], got {images.dtype} {images.shape}')
    check_resolution(resolution, min(images.shape[1:3]))
    if resolution == 0 or images.shape[1:3] == (resolution, resolution):
        return images
    pixels = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    small = F.interpolate(pixels, size=(resolution, resolution), mode='area')
    return small.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def check_resolution(resolution, size=IMAGE_SIZE):
    if not 0 <= resolution <= size:
        raise ValueError(f'resolution must be 0 (off) or 1 .. {size}, got {resolution}')


def load_table_views(paths, resolution):
    """The CNN's views (`cnn_view`) of 256x256 image files, as one uint8 array [N, R, R, 3].

    Images are decoded a chunk at a time, so only the reduced copies are ever all in memory.
    """
    paths = list(paths)
    chunks = []
    for start in tqdm(range(0, len(paths), LOAD_CHUNK), desc='loading images', unit='chunk',
                      disable=not distributed.is_main()):
        chunk = np.stack([_read_rgb(path) for path in paths[start:start + LOAD_CHUNK]])
        chunks.append(cnn_view(chunk, resolution))
    return np.concatenate(chunks)


def _read_rgb(path):
    with Image.open(path) as image:
        rgb = np.asarray(image.convert('RGB'))
    if rgb.shape[:2] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f'{path}: expected a {IMAGE_SIZE}x{IMAGE_SIZE} image,'
                         f' got {rgb.shape[1]}x{rgb.shape[0]}')
    return rgb


def cnn_score_table(model, table_path, out_path, resolution, views=None, batch_size=64):
    """Write the CNN-derived version of an all_scores table: same rows, the scores replaced by
    the CNN's outputs on each image (rounded as the tables are), `img_path` relative to `out_path`.

    views: the images' `cnn_view`s when already in memory (as after training), to skip decoding
    them again. Returns the new table.
    """
    table = read_score_table(table_path)
    if views is None:
        views = load_table_views(table.abs_img_path, resolution)
    if len(views) != len(table):
        raise ValueError(f'{table_path}: {len(table)} rows but {len(views)} images were given')
    scores = score_images(model, views, batch_size=batch_size, progress='scoring images')
    out_dir = os.path.dirname(os.path.abspath(out_path))
    derived = pd.DataFrame({'img_no': table.img_no,
                            'img_path': [os.path.relpath(p, out_dir) for p in table.abs_img_path]})
    for index, column in enumerate(SCORE_COLUMNS):
        derived[column] = np.round(scores[:, index].astype(float), DECIMALS)
    write_score_table(derived, out_path)
    return derived


def pearson_per_column(predicted, target):
    """Pearson r of each column of two [N, K] arrays (NaN for a column that does not vary)."""
    predicted, target = np.asarray(predicted, float), np.asarray(target, float)
    p, t = predicted - predicted.mean(0), target - target.mean(0)
    denominator = np.sqrt((p ** 2).sum(0) * (t ** 2).sum(0))
    with np.errstate(invalid='ignore', divide='ignore'):
        return (p * t).sum(0) / denominator
