"""SIGKILL at a chosen point of a real VectorFind process, then the same command: the outputs
equal an uninterrupted run's, and no temp file or lock of the killed run is left behind."""
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from tiny_models import write_tiny_models

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    return write_tiny_models(tmp_path_factory.mktemp('models'), 16)


def command(models, out_dir):
    return [sys.executable, 'run_stylegan_vectorfind_v6.py', '--generator', str(models / 'generator.pth'),
            '--cnn', str(models / 'cnn.pth'), '--scores-table', str(models / 'all_scores_v2_cnn.csv'),
            '--n', '300', '--chunk-size', '20', '--batch-size', '20', '--max-tries', '2', '--device', 'cpu',
            '--directions', 'svm', '--space', 'z', '--layers', '', '--no-tsne', '--out-dir', str(out_dir)]


def test_sigkill_while_sampling_then_the_same_command_gives_the_same_outputs(models, tmp_path):
    subprocess.run(command(models, tmp_path / 'straight'), cwd=REPO, check=True, capture_output=True)
    killed = subprocess.Popen(command(models, tmp_path / 'killed'), cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples = tmp_path / 'killed' / 'samples'
    deadline = time.time() + 60
    while time.time() < deadline and len(list(samples.glob('chunk_*.npz'))) < 3:
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    made = len(list(samples.glob('chunk_*.npz')))
    assert 3 <= made < 15, made  # killed part-way through the sampling
    subprocess.run(command(models, tmp_path / 'killed'), cwd=REPO, check=True, capture_output=True)
    for name in ('test_result.csv', 'latent_codes_all.csv', 'test_statistics.csv'):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / 'straight' / 'image_generation_report' / name),
                                      pd.read_csv(tmp_path / 'killed' / 'image_generation_report' / name))
    for path in (tmp_path / 'straight' / 'property_score_vectors').iterdir():
        assert path.read_bytes() == (tmp_path / 'killed' / 'property_score_vectors' / path.name).read_bytes()
    left = [p.name for p in (tmp_path / 'killed').rglob('*') if '.tmp' in p.name or p.name == 'run.lock']
    assert left == []
