"""A finished FineTune-v5 run, for reading: its training log over the batches trained, and faces
from its last generator for labels of the reader's choosing.

    run = FineTuneRun.from_run('outputs/finetune_v5/improved')
    faces = run.render([[-1.6, -1.2, 0.0], [1.6, 1.6, 0.0]], psi=0.5, seed=0)   # [2, H, W, 3] uint8
    log = training_log('outputs/finetune_v5/improved')                           # + a 'batch' column

A label is (eyes, mouth, pose) in the property scores' units, as the run was trained on. Faces
are rendered as the run's sample sets are (`finetune_v5.evaluation.render`: conditional
truncation towards each label's own w average at `psi`, stored noise).
"""
import json
import os

import numpy as np
import pandas as pd
import torch

from scores.properties import CORE_PROPERTIES
from finetune_v5.evaluation import render
from stylegan import load_generator

GENERATOR_FILE = 'generator.pth'


def in_run(out_dir, name):
    """The path of a file that the run in `out_dir` must hold; a missing one fails naming it."""
    if not os.path.isdir(out_dir):
        raise FileNotFoundError(f'{out_dir} is not a folder: expected the output folder of'
                                f' run_stylegan_finetune_v5.py (outputs/finetune_v5/<preset> by default)')
    path = os.path.join(out_dir, name)
    if not os.path.exists(path):
        raise FileNotFoundError(f'{path} not found: the FineTune-v5 run folder {out_dir} lacks {name},'
                                f' which `python run_stylegan_finetune_v5.py --out-dir {out_dir}` writes')
    return path


def training_log(out_dir):
    """train_log.csv of the run, with `batch`, the batches trained when each row was logged."""
    with open(in_run(out_dir, 'config.json')) as f:
        batches_per_epoch = json.load(f)['batches_per_epoch']
    log = pd.read_csv(in_run(out_dir, 'train_log.csv'))
    return log.assign(batch=log.epoch * batches_per_epoch + log.idx + 1)


def as_labels(labels):
    """Labels as float32 [N, 3] (eyes, mouth, pose) from [N, 3] or one [3], or a ValueError."""
    try:
        array = np.asarray(labels, dtype=np.float32)
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim not in (1, 2) or array.shape[-1] != len(CORE_PROPERTIES) or array.size == 0:
        raise ValueError(f'expected labels of shape [N, 3] or [3] (eyes, mouth, pose), got {labels!r}')
    if not np.isfinite(array).all():
        raise ValueError(f'labels must be finite numbers, got {labels!r}')
    return array.reshape(-1, len(CORE_PROPERTIES))


class FineTuneRun:
    """A v5 generator (label concatenated to z, conditional truncation) to render faces with."""

    def __init__(self, generator, device='cpu'):
        if generator.label_dim != len(CORE_PROPERTIES):
            raise ValueError(f'expected a v5 generator with a 3-dim label, got label_dim {generator.label_dim}')
        self.generator, self.device = generator.to(device).eval(), device

    @classmethod
    def from_run(cls, out_dir, device='cpu'):
        """The last generator of the run in `out_dir` (generator.pth, saved at every checkpoint)."""
        return cls(load_generator(in_run(out_dir, GENERATOR_FILE), 'v5'), device)

    @classmethod
    def from_file(cls, path, device='cpu'):
        """A v5 generator file: this repository's, or the published stylegan_gen_fine_tuned_v5.pth."""
        return cls(load_generator(path, 'v5'), device)

    def render(self, labels, psi=0.5, seed=0):
        """Faces [N, H, W, 3] uint8 of one face (z drawn from `seed`) for each label of `labels`
        [N, 3] (eyes, mouth, pose), at truncation `psi` in [0, 1]; one label [3] gives [H, W, 3]."""
        rows = as_labels(labels)
        try:
            truncation = float(psi)
        except (TypeError, ValueError):
            truncation = float('nan')
        if not 0 <= truncation <= 1:
            raise ValueError(f'psi must be a number in [0, 1] (1: no truncation), got {psi!r}')
        z = torch.randn(1, self.generator.z_dim, generator=torch.Generator().manual_seed(int(seed)))
        faces = render(self.generator, z.repeat(len(rows), 1), torch.from_numpy(rows), truncation)
        return faces[0] if np.ndim(labels) == 1 else faces
