"""The device script that trains the default generator, dry-run on the CPU: device time is
scarce, so a broken flag or path must show up here rather than on the lent GPU."""

import os
import subprocess
import sys
import tarfile

import pytest

from stylegan import load_generator
from stylegan.discriminator import load_discriminator

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, 'base_training', 'train_on_gpu.sh')


@pytest.mark.parametrize('init', ['', 'models/default'], ids=['from_scratch', 'continue_committed_pair'])
def test_dry_run_leaves_the_pair_and_its_run_per_gamma(tmp_path, init):
    env = dict(os.environ, N_WORLD='12', WORLD=str(tmp_path / 'world'), MINUTES='0.01',
               DEVICE='cpu', GAMMAS='1', BATCH_SIZE='4', EVAL_N='40', RUN=str(tmp_path / 'run'),
               OUT=str(tmp_path / 'out'), PYTHON=sys.executable, INIT=init, SEED='1')
    done = subprocess.run(['bash', SCRIPT], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    out = tmp_path / 'out' / 'gamma_1'
    assert load_generator(str(out / 'generator.pth'), 'v1').config['resolution'] == 64
    load_discriminator(str(out / 'discriminator.pth'))
    with tarfile.open(out / 'run.tar.gz') as packed:
        names = set(packed.getnames())
    assert {'train_log.csv', 'config.json', 'evaluate_base.csv', 'grid.png'} <= names
    if init:
        assert 'starting D from models/default/base_discriminator.pth' in (tmp_path / 'run' / 'gamma_1' / 'train.log').read_text()
