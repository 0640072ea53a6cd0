"""A tiny "world" of random images with random scores: enough to drive every training code path."""
import os

import numpy as np
from PIL import Image

from scores.properties import PROPERTY_NAMES
from scores.table import all_scores_table, write_score_table


def write_random_world(root, n=24, size=32, table_name='all_scores_v2.csv', seed=0):
    """n random RGB images of size x size under root/images and their score table at root/table_name."""
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, 'images'), exist_ok=True)
    paths = [f'images/{i:03d}.png' for i in range(n)]
    for path in paths:
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(os.path.join(root, path))
    raw = {name: rng.normal(size=n) for name in PROPERTY_NAMES}
    write_score_table(all_scores_table(range(n), paths, raw), os.path.join(root, table_name))
    return root
