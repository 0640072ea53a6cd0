"""SIGKILL of a real process at a chosen point of each long job, then the same command: the
outputs equal an uninterrupted run's, no log row appears twice, and no temp file or lock of the
killed run is left behind. `kill_at.py` kills a process right after the named call; the sampling
case kills one from outside, at whatever moment it has made a few chunks."""
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from random_world import write_random_world
from tiny_models import write_finetune_inputs, write_tiny_models

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILL_AT = os.path.join(REPO, 'tests', 'kill_at.py')
KILLED = -signal.SIGKILL


def run(arguments, expect=0):
    done = subprocess.run([sys.executable, *arguments], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert done.returncode == expect, done.stderr[-2000:]


def killed_at(point, call, command, arguments):
    run([KILL_AT, point, str(call), command, *arguments], expect=KILLED)


def leftovers(folder):
    return [p.name for p in folder.rglob('*') if '.tmp' in p.name or p.name == 'run.lock']


def same_files(a, b, names):
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def same_weights(a, b):
    for key, value in a.items():
        assert torch.equal(value, b[key]), key


# ---- VectorFind ---------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def models(tmp_path_factory):
    return write_tiny_models(tmp_path_factory.mktemp('models'), 16)


def vectorfind(models, out_dir, tsne=False):
    return ['--generator', str(models / 'generator.pth'), '--cnn', str(models / 'cnn.pth'),
            '--scores-table', str(models / 'all_scores_v2_cnn.csv'), '--n', '300', '--chunk-size', '20',
            '--batch-size', '20', '--max-tries', '4', '--num-pass', '4', '--device', 'cpu',
            '--directions', 'svm', '--space', 'z', '--layers', '', '--no-grouping', '--no-local-hold',
            *([] if tsne else ['--no-tsne']), '--out-dir', str(out_dir)]


@pytest.fixture(scope='module')
def straight_vectorfind(models, tmp_path_factory):
    root = tmp_path_factory.mktemp('straight')
    run(['run_stylegan_vectorfind_v6.py', *vectorfind(models, root, tsne=True)])
    return root


def same_vectorfind_outputs(straight, resumed):
    report = 'image_generation_report'
    for name in ('test_result.csv', 'latent_codes_all.csv', 'test_statistics.csv'):
        pd.testing.assert_frame_equal(pd.read_csv(straight / report / name), pd.read_csv(resumed / report / name))
    vectors = sorted(p.name for p in (straight / 'property_score_vectors').iterdir())
    assert vectors == sorted(p.name for p in (resumed / 'property_score_vectors').iterdir())
    same_files(straight / 'property_score_vectors', resumed / 'property_score_vectors', vectors)
    assert leftovers(resumed) == []


def test_sigkill_while_sampling(models, straight_vectorfind, tmp_path):
    killed = subprocess.Popen([sys.executable, 'run_stylegan_vectorfind_v6.py',
                               *vectorfind(models, tmp_path, tsne=True)], cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(list((tmp_path / 'samples').glob('chunk_*.npz'))) < 3:
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert 3 <= len(list((tmp_path / 'samples').glob('chunk_*.npz'))) < 15  # killed part-way
    run(['run_stylegan_vectorfind_v6.py', *vectorfind(models, tmp_path, tsne=True)])
    same_vectorfind_outputs(straight_vectorfind, tmp_path)


@pytest.mark.parametrize('point, call', [
    ('vectorfind.pipeline:save_direction', 1),            # fitting: one of three directions saved
    ('vectorfind.directions:_scatter', 2),                # t-SNE: two of three plots made
    ('vectorfind.generation_testing:score_code_edits', 3),  # testing: two codes saved, the third scored
])
def test_sigkill_while_fitting_plotting_or_testing(models, straight_vectorfind, tmp_path, point, call):
    killed_at(point, call, 'vectorfind.pipeline', vectorfind(models, tmp_path, tsne=True))
    run(['run_stylegan_vectorfind_v6.py', *vectorfind(models, tmp_path, tsne=True)])
    same_vectorfind_outputs(straight_vectorfind, tmp_path)
    assert sorted(os.listdir(tmp_path / 'tsne')) == sorted(os.listdir(straight_vectorfind / 'tsne'))


# ---- training ----------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def finetune_inputs(tmp_path_factory):
    return write_finetune_inputs(tmp_path_factory.mktemp('finetune'))


def finetune(root, out_dir):
    return ['--preset', 'faithful', '--generator', str(root / 'base.pth'), '--property-cnn',
            str(root / 'cnn.pth'), '--scores', str(root / 'scores.csv'), '--out-dir', str(out_dir),
            '--steps', '4', '--batch-size', '4', '--eval-every', '1', '--max-minutes', '0',
            '--checkpoint-minutes', '1e-9', '--spread-samples', '16', '--device', 'cpu']


def test_sigkill_while_fine_tuning(finetune_inputs, tmp_path):
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    run(['run_stylegan_finetune_v5.py', *finetune(finetune_inputs, straight)])
    # After the third batch, before its checkpoint: the second batch's checkpoint is the last.
    killed_at('finetune_v5.trainer:FineTuneV5.train_step', 3, 'finetune_v5.pipeline',
              finetune(finetune_inputs, resumed))
    assert list(pd.read_csv(resumed / 'train_log.csv').idx) == [0, 1]
    run(['run_stylegan_finetune_v5.py', *finetune(finetune_inputs, resumed)])
    log = pd.read_csv(resumed / 'train_log.csv')
    assert list(log.idx) == [0, 1, 2, 3]  # no batch logged twice
    pd.testing.assert_frame_equal(pd.read_csv(straight / 'train_log.csv'), log)
    for name in ('generator.pth', 'discriminator.pth'):
        same_weights(torch.load(straight / name, weights_only=True)['state_dict'],
                     torch.load(resumed / name, weights_only=True)['state_dict'])
    pd.testing.assert_frame_equal(pd.read_csv(straight / 'samples' / 'summary.csv'),
                                  pd.read_csv(resumed / 'samples' / 'summary.csv'))
    assert leftovers(resumed) == []


def train_base(world, out_dir):
    return ['--data', str(world), '--architecture', 'tiny', '--out-dir', str(out_dir), '--steps', '5',
            '--batch-size', '4', '--log-every', '1', '--sample-every', '2', '--checkpoint-every', '100',
            '--checkpoint-minutes', '1e-9', '--device', 'cpu']


def test_sigkill_while_training_the_base_generator(tmp_path):
    world = write_random_world(tmp_path / 'world')
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    run(['-m', 'base_training.train', *train_base(world, straight)])
    killed_at('base_training.train:BaseTrainer.train_step', 4, 'base_training.train', train_base(world, resumed))
    assert list(pd.read_csv(resumed / 'train_log.csv').step) == [1, 2, 3]
    run(['-m', 'base_training.train', *train_base(world, resumed)])
    columns = [c for c in pd.read_csv(straight / 'train_log.csv').columns if c != 'seconds']
    log = pd.read_csv(resumed / 'train_log.csv')
    assert list(log.step) == [1, 2, 3, 4, 5]
    pd.testing.assert_frame_equal(pd.read_csv(straight / 'train_log.csv')[columns], log[columns])
    for name in ('generator.pth', 'discriminator.pth'):
        same_weights(torch.load(straight / name, weights_only=True)['state_dict'],
                     torch.load(resumed / name, weights_only=True)['state_dict'])
    assert leftovers(resumed) == []


def cnn_training(world, out_dir):
    return ['--scores', str(world / 'all_scores_v2.csv'), '--out', str(out_dir / 'cnn.pth'), '--width',
            '0.125', '--resolution', '32', '--epochs', '2', '--batch-size', '4', '--val-fraction', '0.25',
            '--checkpoint-minutes', '1e-9', '--device', 'cpu']


def test_sigkill_while_training_the_property_score_cnn(tmp_path):
    world = write_random_world(tmp_path / 'world', size=256)
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    run(['-m', 'property_score_cnn.train', *cnn_training(world, straight)])
    # The second save is inside the first epoch: two of its batches done.
    killed_at('property_score_cnn.train:save_checkpoint', 2, 'property_score_cnn.train',
              cnn_training(world, resumed))
    run(['-m', 'property_score_cnn.train', *cnn_training(world, resumed)])
    same_weights(torch.load(straight / 'cnn.pth', weights_only=True)['state_dict'],
                 torch.load(resumed / 'cnn.pth', weights_only=True)['state_dict'])
    columns = [c for c in pd.read_csv(straight / 'cnn_log.csv').columns if c != 'seconds']
    pd.testing.assert_frame_equal(pd.read_csv(straight / 'cnn_log.csv')[columns],
                                  pd.read_csv(resumed / 'cnn_log.csv')[columns])
    assert leftovers(resumed) == []
