"""The shared pieces behind every command's errors and writes: the argument checks
(common.validation), the one way to fail (common.cli), atomic writes with fsync, ordinary
permissions and temp-file cleanup (common.files), and model files that say what they hold
(common.checkpoints)."""
import math
import os
import stat
import subprocess
import sys

import pandas as pd
import pytest
import torch

from common.checkpoints import (FORMAT, CheckpointError, GENERATOR, PROPERTY_SCORE_CNN,
                                file_kind, read_checkpoint)
from common.cli import error_message, one_line, run_command
from common.files import atomic_write, default_file_mode, remove_stale_temp_files, write_csv
from common.settings import settings_from
from common.validation import (InputError, check_count, check_device, check_finite,
                               check_fraction, check_positive, check_writable_dir,
                               check_writable_file)
from property_score_cnn import PropertyScoreCNN, load_property_score_cnn, save_property_score_cnn
from stylegan import Generator, load_generator, architecture, save_generator
from stylegan.discriminator import Discriminator, save_discriminator
from stylegan.latent_codes import read_latent_codes
from finetune_v5.property_discriminator import PropertyDiscriminator, load_property_discriminator
from base_training.train import BaseTrainingSettings, discriminator_config
from scores.table import read_score_table


# ---- validators ------------------------------------------------------------------------------
@pytest.mark.parametrize('call, message', [
    (lambda: check_count(0, '--num'), '--num must be at least 1, got 0'),
    (lambda: check_count(-3, '--steps'), '--steps must be at least 1, got -3'),
    (lambda: check_count(1.5, '--n'), '--n must be a whole number'),
    (lambda: check_count(True, '--n'), '--n must be a whole number'),
    (lambda: check_count(-1, '--seed', minimum=0), '--seed must be at least 0'),
    (lambda: check_finite(math.nan, '--trunc-psi', 0, 1), '--trunc-psi must be a finite number, got nan'),
    (lambda: check_finite(math.inf, '--lr'), '--lr must be a finite number'),
    (lambda: check_finite(5.0, '--trunc-psi', 0, 1), '--trunc-psi must be between 0 and 1, got 5'),
    (lambda: check_finite(-1.0, '--r1-gamma', low=0), '--r1-gamma must be at least 0, got -1'),
    (lambda: check_finite('a', '--x'), '--x must be a number'),
    (lambda: check_positive(0.0, '--lr'), '--lr must be above 0, got 0'),
    (lambda: check_fraction(1.0, '--jitter'), '--jitter must be at least 0 and below 1'),
    (lambda: check_fraction(-0.1, '--jitter'), '--jitter must be between 0 and 1'),
    (lambda: check_device('foo'), "--device 'foo' is not a device"),
    (lambda: check_device('vulkan'), "--device 'vulkan': device type 'vulkan' is not supported"),
])
def test_validators_name_the_flag_and_what_is_expected(call, message):
    with pytest.raises(InputError, match='^' + message.replace('(', r'\(').replace(')', r'\)')):
        call()


def test_validators_return_good_values():
    assert check_count(3, '--n') == 3 and check_count(0, '--n', minimum=0) == 0
    assert check_finite(0.5, '--psi', 0, 1) == 0.5 and check_finite(1, '--psi', 0, 1) == 1.0
    assert check_positive(1e-3, '--lr') == 1e-3
    assert check_fraction(1.0, '--share', include_one=True) == 1.0
    assert check_device('cpu') == 'cpu'
    assert issubclass(InputError, ValueError)


@pytest.mark.skipif(torch.cuda.is_available(), reason='this machine has CUDA')
def test_cuda_without_cuda_is_refused():
    with pytest.raises(InputError, match='CUDA is not available.*--device cpu'):
        check_device('cuda')
    with pytest.raises(InputError, match='CUDA is not available'):
        check_device('cuda:1', '--gpu')


def test_writable_dir_and_file_checks(tmp_path, monkeypatch):
    (tmp_path / 'a_file').write_text('x')
    assert check_writable_dir(tmp_path / 'new' / 'deeper', '--out-dir') == str(tmp_path / 'new' / 'deeper')
    assert not (tmp_path / 'new').exists()  # nothing is created
    with pytest.raises(InputError, match='--out-dir .*a_file is a file, not a folder'):
        check_writable_dir(tmp_path / 'a_file', '--out-dir')
    with pytest.raises(InputError, match='--out-dir .*a_file is a file'):
        check_writable_dir(tmp_path / 'a_file' / 'sub', '--out-dir')
    with pytest.raises(InputError, match='--out .* is a folder; expected a file path'):
        check_writable_file(tmp_path, '--out')
    with pytest.raises(InputError, match='--out .*cannot write it, .*a_file is a file'):
        check_writable_file(tmp_path / 'a_file' / 'x.csv', '--out')
    assert check_writable_file(tmp_path / 'new' / 'x.csv', '--out')
    # Root may write anywhere, so the permission is simulated.
    real_access = os.access
    monkeypatch.setattr(os, 'access', lambda path, mode: os.fspath(path) != str(tmp_path) and real_access(path, mode))
    with pytest.raises(InputError, match='not writable'):
        check_writable_dir(tmp_path, '--out-dir')
    with pytest.raises(InputError, match='not writable'):
        check_writable_dir(tmp_path / 'new', '--out-dir')
    with pytest.raises(InputError, match='--out .*not writable'):
        check_writable_file(tmp_path / 'x.csv', '--out')


def test_settings_validate_on_construction():
    with pytest.raises(InputError, match='--batch-size must be at least 1'):
        BaseTrainingSettings(data='-', out_dir='-', batch_size=0, device='cpu')
    with pytest.raises(InputError, match=r"--architecture 'foo' is unknown; expected one of .*tiny"):
        BaseTrainingSettings(data='-', out_dir='-', architecture='foo', device='cpu')
    with pytest.raises(InputError, match='--steps must be at least 1'):
        BaseTrainingSettings(data='-', out_dir='-', steps=0, device='cpu')
    assert BaseTrainingSettings(data='-', out_dir='-', steps=0, init_generator='g.pth', device='cpu').steps == 0
    # --debug (common.cli) is not a setting
    assert settings_from(BaseTrainingSettings, {'data': '-', 'out_dir': '-', 'debug': True,
                                                'device': 'cpu'}).steps == 20000


# ---- one way to fail --------------------------------------------------------------------------
def _raise(error):
    def work():
        raise error
    return work


@pytest.mark.parametrize('error, message', [
    (ValueError('table.csv: row 3, column eyes_score: not a number'),
     'error: table.csv: row 3, column eyes_score: not a number'),
    (InputError('--num must be at least 1, got 0'), 'error: --num must be at least 1, got 0'),
    (CheckpointError('model file not found: m.pth\nm.pth is published on HuggingFace at x;'),
     'error: model file not found: m.pth; m.pth is published on HuggingFace at x;'),
    (KeyError("unknown generator preset 'foo'; known: ['tiny']"), "error: unknown generator preset 'foo'; known: ['tiny']"),
    (FileNotFoundError(2, 'No such file or directory', 'gone.csv'), 'error: gone.csv: No such file or directory'),
    (PermissionError(13, 'Permission denied', '/x/y.png'), 'error: /x/y.png: Permission denied'),
    (OSError('could not write a.png'), 'error: could not write a.png'),
])
def test_expected_errors_end_in_one_line(error, message):
    with pytest.raises(SystemExit) as exit_:
        run_command(_raise(error), [])
    assert exit_.value.code == message


@pytest.mark.parametrize('error, start', [
    (KeyError('resolution'), "error: unexpected KeyError: 'resolution'"),
    (RuntimeError('boom'), 'error: unexpected RuntimeError: boom'),
    (ValueError(), 'error: unexpected ValueError'),
])
def test_a_bug_is_one_line_that_asks_for_debug(error, start):
    with pytest.raises(SystemExit) as exit_:
        run_command(_raise(error), [])
    assert exit_.value.code.startswith(start) and '--debug' in exit_.value.code


def test_debug_reraises_and_success_returns(capsys):
    with pytest.raises(ValueError, match='bad'):
        run_command(_raise(ValueError('bad')), ['--debug'])
    with pytest.raises(KeyError):
        run_command(_raise(KeyError('resolution')), [], debug=True)
    assert run_command(lambda: 42, []) == 42
    with pytest.raises(SystemExit) as exit_:
        run_command(_raise(KeyboardInterrupt()), [], interrupted='re-run to continue')
    assert exit_.value.code == 130
    assert capsys.readouterr().err == 'interrupted; re-run to continue\n'


def test_one_line_and_error_message():
    assert one_line('a\n  b\n\nc.\nd') == 'a; b; c. d'
    assert one_line('') == ''
    assert error_message(FileNotFoundError(2, 'No such file', 'a', None, 'b')) == 'a -> b: No such file'


# ---- writes -----------------------------------------------------------------------------------
@pytest.fixture
def umask():
    """Set the process umask for a test, restored afterwards."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield lambda value: os.umask(value)
    os.umask(saved)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_outputs_get_the_permissions_of_an_ordinary_file(tmp_path, umask):
    umask(0o022)
    write_csv(tmp_path / 'a.csv', pd.DataFrame({'x': [1]}))
    assert _mode(tmp_path / 'a.csv') == 0o644 == default_file_mode()
    umask(0o077)
    write_csv(tmp_path / 'b.csv', pd.DataFrame({'x': [1]}))
    assert _mode(tmp_path / 'b.csv') == 0o600
    umask(0o022)
    os.chmod(tmp_path / 'b.csv', 0o640)  # a replaced file keeps its permissions
    write_csv(tmp_path / 'b.csv', pd.DataFrame({'x': [2]}))
    assert _mode(tmp_path / 'b.csv') == 0o640 and pd.read_csv(tmp_path / 'b.csv').x[0] == 2


def test_writes_are_synced_unless_asked_not_to(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, 'fsync', lambda fd: (synced.append(fd), real_fsync(fd)))
    with atomic_write(tmp_path / 'a.txt') as tmp:
        open(tmp, 'w').write('a')
    assert len(synced) == 2  # the file, then its folder
    with atomic_write(tmp_path / 'b.txt', durable=False) as tmp:
        open(tmp, 'w').write('b')
    assert len(synced) == 2


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    (tmp_path / 'a.txt').write_text('old')
    with pytest.raises(RuntimeError):
        with atomic_write(tmp_path / 'a.txt') as tmp:
            open(tmp, 'w').write('half')
            raise RuntimeError
    assert (tmp_path / 'a.txt').read_text() == 'old' and os.listdir(tmp_path) == ['a.txt']


def test_stale_temp_files_are_removed_and_nothing_else(tmp_path):
    stale = ['.contact_sheet.abcd_123.tmp.png', '.checkpoint.x1y2z3w4.tmp.pth', '.config.q1w2e3r4.tmp']
    kept = ['contact_sheet.png', '.gitignore', 'a.tmp', '.notes.tmp.txt', '.x.abc.tmp.png', 'run.tmp.csv']
    for name in stale + kept:
        (tmp_path / name).write_text('x')
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / stale[0]).write_text('x')  # only the folder itself is cleaned
    removed = remove_stale_temp_files(tmp_path)
    assert sorted(os.path.basename(p) for p in removed) == sorted(stale)
    assert sorted(os.listdir(tmp_path)) == sorted(kept + ['sub'])
    assert remove_stale_temp_files(tmp_path / 'missing') == []


def test_temp_files_of_a_running_writer_are_spared(tmp_path):
    with atomic_write(tmp_path / 'grid.png') as tmp:
        open(tmp, 'w').write('x')
        assert remove_stale_temp_files(tmp_path) == []  # this process is writing it
    assert f'.grid.p{os.getpid()}.' in os.path.basename(tmp)
    ended = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                           capture_output=True, text=True, check=True)
    left = tmp_path / os.path.basename(tmp).replace(f'.p{os.getpid()}.', f'.p{int(ended.stdout)}.')
    left.write_text('as a killed run leaves it')
    assert remove_stale_temp_files(tmp_path) == [str(left)]


# ---- model files ------------------------------------------------------------------------------
def test_damaged_files_are_named(tmp_path):
    (tmp_path / 'empty.pth').write_bytes(b'')
    with pytest.raises(CheckpointError, match=r'empty\.pth: the file is empty \(0 bytes\)'):
        load_generator(tmp_path / 'empty.pth', 'v1')
    save_generator(Generator(architecture('tiny')), tmp_path / 'g.pth')
    whole = (tmp_path / 'g.pth').read_bytes()
    (tmp_path / 'cut.pth').write_bytes(whole[:len(whole) // 3])
    with pytest.raises(CheckpointError, match=r'cut\.pth: not a readable torch checkpoint \(truncated'):
        load_generator(tmp_path / 'cut.pth', 'v1')
    (tmp_path / 'notes.pth').write_text('hello')
    with pytest.raises(CheckpointError, match=r"notes\.pth: not a torch checkpoint .*begins b'hello'"):
        load_property_score_cnn(tmp_path / 'notes.pth')
    with pytest.raises(CheckpointError, match='is a folder'):
        load_generator(tmp_path, 'v1')


def test_a_file_of_another_model_says_what_it_holds(tmp_path):
    save_generator(Generator(architecture('tiny')), tmp_path / 'g.pth')
    save_property_score_cnn(PropertyScoreCNN(width=0.125), tmp_path / 'cnn.pth')
    save_discriminator(Discriminator(discriminator_config(architecture('tiny'))), tmp_path / 'd.pth')
    with pytest.raises(CheckpointError, match='cnn.pth: not a StyleGAN generator checkpoint: the file holds a Property Score CNN'):
        load_generator(tmp_path / 'cnn.pth', 'v1')
    with pytest.raises(CheckpointError, match='g.pth: not a Property Score CNN checkpoint: the file holds a StyleGAN generator'):
        load_property_score_cnn(tmp_path / 'g.pth')
    with pytest.raises(CheckpointError, match='holds a StyleGAN discriminator'):
        load_generator(tmp_path / 'd.pth', 'v6')
    with pytest.raises(CheckpointError, match='not a FineTune-v5 discriminator checkpoint: the file holds a Property Score CNN'):
        load_property_discriminator(tmp_path / 'cnn.pth')
    with pytest.raises(CheckpointError, match='holds a FineTune-v5 discriminator'):
        load_property_score_cnn(PropertyDiscriminator(width=0.125).state_dict())
    state = {'G': {}, 'D': {}, 'G_ema': {}, 'step': 3}
    torch.save(state, tmp_path / 'checkpoint.pth')
    with pytest.raises(CheckpointError, match='training checkpoint of base_training.train.*generator.pth'):
        load_generator(tmp_path / 'checkpoint.pth', 'v1')


def test_files_store_their_kind_and_older_files_still_load(tmp_path):
    generator = Generator(architecture('tiny'))
    save_generator(generator, tmp_path / 'g.pth')
    assert torch.load(tmp_path / 'g.pth', weights_only=True)['kind'] == GENERATOR
    # A file written before the kind was stored is recognised by its keys.
    torch.save({'format': FORMAT, 'config': {'width': 0.125},
                'state_dict': PropertyScoreCNN(width=0.125).state_dict()}, tmp_path / 'old_cnn.pth')
    assert load_property_score_cnn(tmp_path / 'old_cnn.pth').width == 0.125
    with pytest.raises(CheckpointError, match='holds a Property Score CNN'):
        load_generator(tmp_path / 'old_cnn.pth', 'v1')
    torch.save({'format': FORMAT, 'config': generator.config, 'state_dict': generator.state_dict()},
               tmp_path / 'old_g.pth')
    assert load_generator(tmp_path / 'old_g.pth', 'v1').config == generator.config
    assert file_kind(PropertyScoreCNN(width=0.125).state_dict()) == PROPERTY_SCORE_CNN
    assert file_kind({'something': torch.zeros(1)}) is None
    state_dict, config = read_checkpoint({'something': torch.zeros(1)}, GENERATOR)  # unknown: left to load_into
    assert config is None and list(state_dict) == ['something']


# ---- tables -----------------------------------------------------------------------------------
def test_latent_code_files_name_file_row_and_column(tmp_path):
    pd.DataFrame([[0.0, 1.0, 2.0], [0.0, 'x', 1.0]]).to_csv(tmp_path / 'codes.csv', index=False)
    with pytest.raises(ValueError, match=r"codes\.csv: row 1, column '1' \(line 3 of the file\) is not a number: 'x'"):
        read_latent_codes(tmp_path / 'codes.csv', 3)
    pd.DataFrame(columns=['0', '1', '2']).to_csv(tmp_path / 'header.csv', index=False)
    with pytest.raises(ValueError, match=r'header\.csv: no latent codes, only a header'):
        read_latent_codes(tmp_path / 'header.csv', 3)
    (tmp_path / 'empty.csv').write_text('')
    with pytest.raises(ValueError, match=r'empty\.csv: the file is empty'):
        read_latent_codes(tmp_path / 'empty.csv', 3)
    with pytest.raises(FileNotFoundError, match='latent codes file not found'):
        read_latent_codes(tmp_path / 'gone.csv', 3)


def test_score_tables_without_rows_are_refused(tmp_path):
    from scores.table import TABLE_COLUMNS
    pd.DataFrame(columns=list(TABLE_COLUMNS)).to_csv(tmp_path / 'header.csv', index=False)
    with pytest.raises(ValueError, match=r'header\.csv: the table has no rows'):
        read_score_table(tmp_path / 'header.csv')
    (tmp_path / 'empty.csv').write_text('')
    with pytest.raises(ValueError, match=r'empty\.csv: the file is empty'):
        read_score_table(tmp_path / 'empty.csv')
