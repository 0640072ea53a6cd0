"""The three commands on two processes under torchrun (gloo on the CPU) against one process:
VectorFind writes the same outputs and a run sampled by two processes resumes on one; training
follows the same losses, and a checkpoint written by two processes resumes on one; an error on
one rank ends both in one line.

Every process runs one thread (torchrun's default, and the only way two processes fit on two
cores): scores computed with another number of threads differ in their last bits. The
one-process runs happen in this process, with one thread too; `patched.py` applies the same
patches to the torchrun runs."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from common import distributed
from common.validation import InputError
from finetune_v5 import pipeline as finetune_v5
from patched import fixed_noise, mouth_decides, one_sample_set
from property_score_cnn import PropertyScoreCNN, save_property_score_cnn
from random_world import write_random_world
from base_training import train as train_base
from stylegan import Generator, architecture, save_generator
from tiny_models import write_tiny_models
from vectorfind import pipeline as vectorfind

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATCHED = os.path.join('tests', 'patched.py')


def torchrun(*arguments, expect=0):
    """A script and its arguments (or '-m', a module and its arguments) on two processes; `--`
    keeps torchrun's parser from reading them (it takes `--n` for its own `--nnodes`)."""
    module = ['-m'] if arguments[0] == '-m' else []
    done = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
                           '--standalone', *module, '--', *arguments[len(module):]], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, 'OMP_NUM_THREADS': '1'},
                          timeout=300)
    assert done.returncode == expect, done.stderr[-3000:]
    return done


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---- VectorFind ---------------------------------------------------------------------------------
def vectorfind_args(models, out_dir, num_pass=4):
    """The SPEC's method (grouped SVMs in z, here one group) on the tiny models. Seed 2: cases 0,
    1, 3, 4 and 5 pass when the mouth decides, so the fourth pass is case 4, tested by rank 0
    beside case 5 on rank 1, which passes too and must be dropped."""
    return ['--preset', 'ohlora', '--no-grouping', '--generator', str(models / 'generator.pth'), '--cnn', str(models / 'cnn.pth'),
            '--scores-table', str(models / 'all_scores_v2_cnn.csv'), '--n', '120', '--chunk-size', '20',
            '--batch-size', '20', '--max-tries', '12', '--num-pass', str(num_pass), '--seed', '2',
            '--device', 'cpu', '--directions', 'svm', '--space', 'z', '--layers', '', '--no-tsne', '--no-local-hold',
            '--out-dir', str(out_dir)]


def same_vectorfind_outputs(a, b):
    report = 'image_generation_report'
    for name in ('test_result.csv', 'test_statistics.csv', 'latent_codes_all.csv'):
        pd.testing.assert_frame_equal(pd.read_csv(a / report / name), pd.read_csv(b / report / name))
    vectors = sorted(os.listdir(a / 'property_score_vectors'))
    assert vectors == sorted(os.listdir(b / 'property_score_vectors'))
    for name in vectors:
        assert (a / 'property_score_vectors' / name).read_bytes() == (b / 'property_score_vectors' / name).read_bytes()
    grids = sorted(p.name for p in (a / report).glob('passed_case_*.png'))
    assert grids == sorted(p.name for p in (b / report).glob('passed_case_*.png'))
    for name in grids:
        assert (a / report / name).read_bytes() == (b / report / name).read_bytes()


def test_vectorfind_on_two_processes_equals_one_and_resumes_on_one(tmp_path, one_thread, monkeypatch):
    models = write_tiny_models(tmp_path, 16)
    one, two = tmp_path / 'one', tmp_path / 'two'
    torchrun(PATCHED, 'mouth-decides', 'vectorfind.pipeline', *vectorfind_args(models, two))
    assert not (two / 'run.lock').exists()
    mouth_decides(monkeypatch.setattr)
    vectorfind.main(vectorfind_args(models, one))
    assert list(pd.read_csv(one / 'image_generation_report' / 'test_result.csv').passed) == list('OOXOO')
    same_vectorfind_outputs(one, two)
    # Sampled by two processes, everything else made again by one.
    for entry in two.iterdir():
        if entry.name != 'samples':
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    vectorfind.main(vectorfind_args(models, two))
    same_vectorfind_outputs(one, two)
    # The code dropped after the fourth pass does pass: one more asked for, it is the next.
    vectorfind.main(vectorfind_args(models, one, num_pass=5))
    results = pd.read_csv(one / 'image_generation_report' / 'test_result.csv')
    assert list(results.case[results.passed == 'O']) == [0, 1, 3, 4, 5]


def test_an_error_on_rank_0_ends_both_ranks_with_its_one_line(tmp_path):
    """Rank 0 refuses the folder before any model is read (so none is written here)."""
    models = tmp_path
    (tmp_path / 'run').mkdir()
    (tmp_path / 'run' / 'config.json').write_text('{"n": 80}')  # another run's samples
    done = torchrun('run_stylegan_vectorfind_v6.py', *vectorfind_args(models, tmp_path / 'run'), expect=1)
    errors = [line for line in done.stderr.splitlines() if 'error: ' in line]
    assert len(errors) == 1 and errors[0].startswith('error: ') and 'used --n 80' in errors[0]
    ours = [line for line in done.stderr.splitlines()  # torchrun's own report has a traceback
            if line.strip().startswith(f'File "{REPO}') and '.venv' not in line]
    assert ours == []
    assert not (tmp_path / 'run' / 'run.lock').exists()


# ---- training ----------------------------------------------------------------------------------
def same_losses(a, b, columns):
    """The logged losses of two runs, to float tolerance. (Not the weights: Adam moves a weight
    whose gradient is about zero by its learning rate either way, as rounding decides the sign.)"""
    np.testing.assert_allclose(a[columns].to_numpy(float), b[columns].to_numpy(float), rtol=2e-3, atol=2e-4)


def test_train_base_on_two_processes_follows_one_and_resumes_on_one(tmp_path, monkeypatch):
    """A global batch of 8, 4 rows on each rank; R1 at the first step. Three steps on two
    processes, the fourth on one process from their checkpoint."""
    world = write_random_world(tmp_path / 'world')

    def arguments(out_dir, steps):
        return ['--data', str(world), '--architecture', 'tiny', '--steps', str(steps), '--batch-size', '8',
                '--log-every', '1', '--sample-every', '100', '--checkpoint-every', '100',
                '--device', 'cpu', '--out-dir', str(out_dir)]

    torchrun(PATCHED, 'fixed-noise', 'base_training.train', *arguments(tmp_path / 'two', 3))
    fixed_noise(monkeypatch.setattr)
    train_base.main(arguments(tmp_path / 'one', 4))
    train_base.main(arguments(tmp_path / 'two', 4))
    one, two = (pd.read_csv(tmp_path / name / 'train_log.csv') for name in ('one', 'two'))
    assert list(two.step) == [1, 2, 3, 4]
    same_losses(one, two, ['d_loss', 'g_loss', 'r1', 'd_real', 'd_fake'])


def test_finetune_v5_on_two_processes_follows_one(tmp_path, monkeypatch):
    """A global batch of 4, 2 rows on each rank, two steps, the adaptive extra updates decided
    on the losses of the whole batch."""
    root = write_random_world(tmp_path, size=256, table_name='scores.csv')
    torch.manual_seed(0)
    save_generator(Generator(architecture('tiny')), root / 'base.pth')
    save_property_score_cnn(PropertyScoreCNN(width=0.0625), root / 'cnn.pth')  # its evaluations are most of the time

    def arguments(out_dir):
        return ['--preset', 'faithful', '--generator', str(root / 'base.pth'), '--property-cnn',
                str(root / 'cnn.pth'), '--scores', str(root / 'scores.csv'), '--out-dir', str(out_dir),
                '--steps', '2', '--batch-size', '4', '--eval-every', '1', '--max-minutes', '0',
                '--spread-samples', '16', '--device', 'cpu']

    torchrun(PATCHED, 'fixed-noise,one-sample-set', 'finetune_v5.pipeline', *arguments(tmp_path / 'two'))
    fixed_noise(monkeypatch.setattr)
    one_sample_set(monkeypatch.setattr)
    finetune_v5.main(arguments(tmp_path / 'one'))
    one, two = (pd.read_csv(tmp_path / name / 'train_log.csv') for name in ('one', 'two'))
    assert list(two.idx) == [0, 1]
    pd.testing.assert_frame_equal(one[['d_train_count', 'g_train_count']], two[['d_train_count', 'g_train_count']])
    same_losses(one, two, ['d_loss', 'g_loss', 'real_scores_mean', 'fake_scores_mean', 'real_fake_auroc',
                           'eyes_mae', 'mouth_mae', 'pose_mae'])


def test_a_batch_that_does_not_split_over_the_processes_is_refused(monkeypatch):
    """Checked by rank 0 inside the process group, so that the error is one line; here with the
    world of rank 0 of 2 set by hand."""
    monkeypatch.setattr(distributed, '_world', distributed.World(0, 2, 0))
    assert distributed.split_batch(6) == 3
    with pytest.raises(InputError, match='--batch-size 5 is the batch over all 2 processes and must'
                                         ' split evenly among them; give a multiple of 2'):
        distributed.split_batch(5)
