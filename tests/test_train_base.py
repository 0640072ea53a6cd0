"""Base-generator training: a few steps on a tiny world, and an exact resume."""
import os

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from segmentation.property_scores import SCORE_NAMES
from segmentation.score_table import all_scores_table, write_score_table
from stylegan import load_generator
from stylegan.train_base import LOG_COLUMNS, parse_args, train


@pytest.fixture(scope='module')
def tiny_world(tmp_path_factory):
    """24 random images with random scores: enough to exercise every code path quickly."""
    root = tmp_path_factory.mktemp('world')
    rng = np.random.default_rng(0)
    os.makedirs(root / 'images')
    paths = [f'images/{i:03d}.png' for i in range(24)]
    for path in paths:
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / path)
    raw = {name: rng.normal(size=len(paths)) for name in SCORE_NAMES}
    write_score_table(all_scores_table(range(len(paths)), paths, raw), root / 'all_scores_v2.csv')
    return root


def run(world, out, steps):
    return train(parse_args(['--data', str(world), '--preset', 'tiny', '--out', str(out),
                             '--steps', str(steps), '--batch-size', '4', '--log-every', '1',
                             '--sample-every', '2', '--checkpoint-every', '100', '--device', 'cpu']))


def test_training_writes_generator_log_and_samples(tiny_world, tmp_path):
    trainer = run(tiny_world, tmp_path, 3)
    log = pd.read_csv(tmp_path / 'train_log.csv')
    assert list(log.columns) == list(LOG_COLUMNS) and list(log.step) == [1, 2, 3]
    assert np.isfinite(log[['d_loss', 'g_loss']].to_numpy()).all()
    assert (tmp_path / 'samples' / 'step_0000002.png').exists()
    G = load_generator(tmp_path / 'generator.pth', 'v1')
    assert G.label_dim == 7
    for key, value in G.state_dict().items():
        assert torch.equal(value, trainer.G_ema.state_dict()[key]), key


def test_resumed_run_continues_exactly(tiny_world, tmp_path):
    straight = run(tiny_world, tmp_path / 'straight', 4)
    run(tiny_world, tmp_path / 'resumed', 2)  # stops with a checkpoint, as an interrupted run does
    resumed = run(tiny_world, tmp_path / 'resumed', 4)
    assert resumed.step == 4
    for key, value in straight.G.state_dict().items():
        assert torch.equal(value, resumed.G.state_dict()[key]), key
    for key, value in straight.D.state_dict().items():
        assert torch.equal(value, resumed.D.state_dict()[key]), key
    log = pd.read_csv(tmp_path / 'resumed' / 'train_log.csv')
    assert list(log.step) == [1, 2, 3, 4]


def test_missing_table_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match='score table not found'):
        run(tmp_path, tmp_path / 'out', 1)
