"""Training phase, step 1: draw latent codes, generate, score; streamed to disk in chunks.

Each chunk `samples/chunk_NNNNN.npz` holds its codes [k, 515] and CNN scores [k, 7] and is written
atomically once finished, so memory stays flat however large n is, and an interrupted run only
redoes the chunk it was in. A chunk's content follows from the seed and its index alone, so under
torchrun each rank makes its own share of the chunks (every N-th), and a run sampled by N
processes continues, or is read, by any number.
"""
import os

import numpy as np
from tqdm import tqdm

from common import distributed
from common.files import atomic_write
from vectorfind.latents import SAMPLING, draw_codes, render_and_score


def chunk_path(out_dir, index):
    return os.path.join(out_dir, 'samples', f'chunk_{index:05d}.npz')


def chunk_sizes(n, chunk_size):
    return [min(chunk_size, n - start) for start in range(0, n, chunk_size)]


def sample_and_score(generator, cnn, n, seed, out_dir, batch_size, chunk_size):
    """Make sure this rank's chunks of the n samples exist (all of them in one process), made on
    the generator's device; return how many chunks were newly made."""
    device = next(generator.parameters()).device
    sizes = chunk_sizes(n, chunk_size)
    here = distributed.world()
    # By index, not by position among the missing ones: ranks that look at the folder at
    # different moments still split the chunks alike.
    mine = [i for i in range(len(sizes)) if i % here.size == here.rank]
    todo = [i for i in mine if not os.path.exists(chunk_path(out_dir, i))]
    code_dim = generator.z_dim + generator.label_dim
    share = sum(sizes[i] for i in mine)
    progress = tqdm(total=share, initial=share - sum(sizes[i] for i in todo), desc='sampling',
                    unit='img', disable=not here.main)
    for index in todo:
        codes = draw_codes(sizes[index], code_dim, seed, SAMPLING, index)
        scores = []
        for start in range(0, len(codes), batch_size):
            scores.append(render_and_score(generator, cnn, codes[start:start + batch_size], device,
                                           batch_size))
            progress.update(len(scores[-1]))
        scores = np.concatenate(scores)
        with atomic_write(chunk_path(out_dir, index)) as tmp:
            np.savez(tmp, codes=codes, scores=scores)
    progress.close()
    return len(todo)


def iter_chunks(out_dir, n, chunk_size):
    """(codes, scores) of each chunk, in order."""
    for index, size in enumerate(chunk_sizes(n, chunk_size)):
        with np.load(chunk_path(out_dir, index)) as chunk:
            if len(chunk['codes']) != size:
                raise ValueError(f'{chunk_path(out_dir, index)}: holds {len(chunk["codes"])} samples,'
                                 f' expected {size}; was it made with another --n or chunk size?')
            yield chunk['codes'], chunk['scores']
