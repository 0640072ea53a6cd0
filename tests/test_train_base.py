"""Base-generator training: a few steps on a tiny world, and an exact resume."""

import numpy as np
import pandas as pd
import pytest
import torch

from common.checkpoints import CheckpointError
from common.parity_weights import parity_state_dict
from random_world import write_random_world
from stylegan import Generator, load_generator, architecture, save_generator
from stylegan.discriminator import Discriminator, load_discriminator, save_discriminator
from base_training.train import LOG_COLUMNS, discriminator_config, parse_args, train


@pytest.fixture(scope='module')
def tiny_world(tmp_path_factory):
    return write_random_world(tmp_path_factory.mktemp('world'))


def run(world, out, steps, *extra):
    return train(parse_args(['--data', str(world), '--architecture', 'tiny', '--out', str(out),
                             '--steps', str(steps), '--batch-size', '4', '--log-every', '1',
                             '--sample-every', '2', '--checkpoint-every', '100', '--device', 'cpu',
                             *extra]))


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


def test_a_new_run_can_start_from_a_trained_generator(tiny_world, tmp_path):
    first = run(tiny_world, tmp_path / 'first', 2)
    second = run(tiny_world, tmp_path / 'second', 0, '--init-generator', str(tmp_path / 'first' / 'generator.pth'))
    for key, value in first.G_ema.state_dict().items():
        assert torch.equal(value, second.G.state_dict()[key]), key
        assert torch.equal(value, second.G_ema.state_dict()[key]), key
    assert not all(torch.equal(value, second.D.state_dict()[key])
                   for key, value in first.D.state_dict().items())  # a fresh D without the flag
    with_critic = run(tiny_world, tmp_path / 'with_critic', 0,
                      '--init-generator', str(tmp_path / 'first' / 'generator.pth'),
                      '--init-discriminator', str(tmp_path / 'first' / 'discriminator.pth'))
    for key, value in first.D.state_dict().items():
        assert torch.equal(value, with_critic.D.state_dict()[key]), key
    with pytest.raises(SystemExit):
        parse_args(['--data', str(tiny_world), '--out', str(tmp_path / 'x'),
                    '--init-discriminator', str(tmp_path / 'first' / 'discriminator.pth')])
    save_generator(Generator(architecture('world64')), tmp_path / 'other.pth')
    with pytest.raises(ValueError, match="another configuration than --architecture tiny"):
        run(tiny_world, tmp_path / 'third', 0, '--init-generator', str(tmp_path / 'other.pth'))


def test_missing_table_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match='score table not found'):
        run(tmp_path, tmp_path / 'out', 1)


def test_discriminator_files_load_published_and_own_layouts(tmp_path):
    published = load_discriminator(parity_state_dict('stylegan_dis_fine_tuned_v1.pth'))
    assert published.resolution == 256 and published.label_dim == 7
    critic = Discriminator(discriminator_config(architecture('tiny')))
    save_discriminator(critic, tmp_path / 'd.pth')
    loaded = load_discriminator(tmp_path / 'd.pth')
    assert loaded.config == critic.config
    for key, value in critic.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    with pytest.raises(CheckpointError, match="not a StyleGAN discriminator checkpoint"):
        load_discriminator(parity_state_dict('stylegan_dis_fine_tuned_v5.pth'))


def test_a_discriminator_of_another_architecture_is_refused(tiny_world, tmp_path):
    run(tiny_world, tmp_path / 'first', 1)
    save_discriminator(Discriminator(discriminator_config(architecture('world64'))), tmp_path / 'other.pth')
    with pytest.raises(ValueError, match='a discriminator of another configuration than --architecture tiny'):
        run(tiny_world, tmp_path / 'second', 0, '--init-generator', str(tmp_path / 'first' / 'generator.pth'),
            '--init-discriminator', str(tmp_path / 'other.pth'))


def test_discriminator_warmup_keeps_the_generator_until_it_ends(tiny_world, tmp_path):
    start = run(tiny_world, tmp_path / 'start', 1)
    init = ['--init-generator', str(tmp_path / 'start' / 'generator.pth'), '--d-warmup-steps', '2']
    warming = run(tiny_world, tmp_path / 'warming', 2, *init)
    for key, value in start.G_ema.state_dict().items():
        assert torch.equal(value, warming.G.state_dict()[key]), key
        assert torch.equal(value, warming.G_ema.state_dict()[key]), key
    assert not all(torch.equal(value, warming.D.state_dict()[key])
                   for key, value in start.D.state_dict().items())
    log = pd.read_csv(tmp_path / 'warming' / 'train_log.csv')
    assert log.g_loss.isna().all() and np.isfinite(log.d_loss).all()
    warmed = run(tiny_world, tmp_path / 'warming', 3, *init)  # resumes past the warm-up
    assert not all(torch.equal(value, warmed.G.state_dict()[key])
                   for key, value in start.G_ema.state_dict().items())
    assert np.isfinite(pd.read_csv(tmp_path / 'warming' / 'train_log.csv').g_loss.iloc[-1])


def test_a_fresh_start_keeps_no_row_of_a_killed_attempt_and_checkpoints_by_time(tiny_world, tmp_path):
    """A run killed before its first checkpoint starts again from step 0: its earlier rows are
    not kept beside the new ones. With --checkpoint-minutes 0.0001 every step is checkpointed."""
    (tmp_path / 'out').mkdir()
    pd.DataFrame({column: [1, 2, 3] for column in LOG_COLUMNS}).to_csv(tmp_path / 'out' / 'train_log.csv', index=False)
    run(tiny_world, tmp_path / 'out', 3, '--checkpoint-minutes', '0.0001')
    log = pd.read_csv(tmp_path / 'out' / 'train_log.csv')
    assert list(log.step) == [1, 2, 3]
