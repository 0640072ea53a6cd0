"""The published checkpoints' formats, and deterministic stand-in weights in those formats.

`published_checkpoint_formats.json` lists every key and shape of each published file (a copy of
the SPEC's reference). The stand-in weights fill them so that every tensor is a function of its key
alone: the original implementation and this one can be given identical weights without sharing a
file (the forward-pass parity fixture of the tests), and the benchmarks can run the published
shapes without the published files.
"""
import json
import os
import zlib

import numpy as np
import torch

FORMATS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'published_checkpoint_formats.json')
# genforce's mapping layers scale their weights by lr multiplier 0.01 at run time.
MAPPING_WEIGHT_SCALE = 100.0


def checkpoint_format(format_name):
    """`{key: shape}` of a published file, e.g. 'stylegan_gen_fine_tuned_v2_cnn.pth'."""
    with open(FORMATS_PATH) as file:
        formats = json.load(file)
    if format_name not in formats:
        raise KeyError(f'unknown checkpoint format {format_name!r}; known: {sorted(formats)}')
    return formats[format_name]


def binomial_kernel(shape):
    kernel = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]) / 16.0
    return np.broadcast_to(kernel, shape)


def parity_tensor(key, shape):
    if key.endswith('blur.kernel'):
        return binomial_kernel(shape)
    if key.endswith('lod'):
        return np.zeros(shape)
    values = np.random.default_rng((zlib.crc32(key.encode()) + 1) % 2**32).standard_normal(shape)
    values = values.astype(np.float32)
    if key.startswith('mapping.dense') and key.endswith('.weight'):
        values = values * MAPPING_WEIGHT_SCALE
    return values


def parity_state_dict(format_name):
    """The parity weights of every key of a published format, as float32 tensors."""
    return {key: torch.tensor(np.asarray(parity_tensor(key, shape), dtype=np.float32))
            for key, shape in checkpoint_format(format_name).items()}
