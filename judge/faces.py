"""World faces as the reader learns and is tested on them: rendered by `data.face_world`, seen at
the generator's resolution (`judge.views.world_view`), with their factor table.

Tens of thousands of renders take minutes even on two processes, so the training faces are cached
in blocks (`faces_seed<S>_<R>px_<start>_<n>.npz`, written atomically) under the training's folder:
a run that is stopped or repeated renders only the blocks it does not find.
"""
import concurrent.futures
import os

import numpy as np
import pandas as pd
from tqdm import tqdm

from common.files import atomic_write
from common.validation import check_count
from data.face_world import FACTOR_NAMES, face_rng, render_face, sample_factors
from judge.views import world_view


def render_views(factor_rows, resolution):
    """uint8 [N, R, R, 3] views of faces given as factor dicts."""
    views = np.zeros((len(factor_rows), resolution, resolution, 3), np.uint8)
    for k, factors in enumerate(factor_rows):
        views[k] = world_view(render_face(factors)[0], resolution)
    return views


def world_factors(seed, start, n):
    """The factor dicts of faces start .. start + n - 1 of the world with `seed`."""
    return [sample_factors(face_rng(seed, i)) for i in range(start, start + n)]


def block_path(folder, seed, resolution, start, n):
    return os.path.join(folder, f'faces_seed{seed}_{resolution}px_{start:07d}_{n}.npz')


def render_block(folder, seed, resolution, start, n):
    """Render one block of faces and write it (images and the factors in FACTOR_NAMES order)."""
    factors = world_factors(seed, start, n)
    views = render_views(factors, resolution)
    table = np.array([[f[name] for name in FACTOR_NAMES] for f in factors], dtype=np.float64)
    with atomic_write(block_path(folder, seed, resolution, start, n)) as tmp:
        np.savez(tmp, images=views, factors=table)


def read_block(path):
    with np.load(path) as block:
        return block['images'], block['factors']


def cached_faces(folder, seed, n, resolution, block_size=2000, workers=2, desc='rendering faces'):
    """Faces 0 .. n - 1 of the world with `seed` at `resolution`: (uint8 [n, R, R, 3], factor
    DataFrame), rendering the blocks missing from `folder` on `workers` processes."""
    check_count(n, 'the number of faces')
    check_count(block_size, 'the block size')
    blocks = [(start, min(block_size, n - start)) for start in range(0, n, block_size)]
    missing = [(start, size) for start, size in blocks
               if not os.path.exists(block_path(folder, seed, resolution, start, size))]
    if missing:
        os.makedirs(folder, exist_ok=True)
        _render_blocks(folder, seed, resolution, missing, workers, desc)
    parts = [read_block(block_path(folder, seed, resolution, start, size)) for start, size in blocks]
    images = np.concatenate([images for images, _ in parts])
    factors = pd.DataFrame(np.concatenate([table for _, table in parts]), columns=list(FACTOR_NAMES))
    return images, factors


def _render_blocks(folder, seed, resolution, blocks, workers, desc):
    bar = tqdm(total=sum(size for _, size in blocks), desc=desc, unit='face')
    if workers <= 1:
        for start, size in blocks:
            render_block(folder, seed, resolution, start, size)
            bar.update(size)
    else:
        with concurrent.futures.ProcessPoolExecutor(workers) as pool:
            futures = {pool.submit(render_block, folder, seed, resolution, start, size): size
                       for start, size in blocks}
            for future in concurrent.futures.as_completed(futures):
                future.result()
                bar.update(futures[future])
    bar.close()
