"""Bad inputs to the two jobs: one line naming the input, before any sampling or training."""
import os

import pandas as pd
import pytest

from finetune_v5.pipeline import main as finetune_main
from tiny_models import write_tiny_models
from vectorfind.compare_runs import main as compare_runs_main
from vectorfind.leakage_matrix import main as leakage_matrix_main
from vectorfind.retest import main as retest_main
from vectorfind.pipeline import main as vectorfind_main


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    return write_tiny_models(tmp_path_factory.mktemp('models'), 16)


def vectorfind_args(models, out_dir, *extra):
    return ['--generator', str(models / 'generator.pth'), '--cnn', str(models / 'cnn.pth'),
            '--scores-table', str(models / 'all_scores_v2_cnn.csv'), '--n', '40', '--chunk-size', '20',
            '--max-tries', '1', '--device', 'cpu', '--no-tsne', '--no-local-hold', '--out-dir', str(out_dir), *extra]


def write(path, text):
    path.write_text(text)
    return str(path)


USAGE = [  # (extra arguments, words the message must hold)
    (['--n', '0'], '--n'), (['--batch-size', '0'], '--batch-size'), (['--max-tries', '0'], '--max-tries'),
    (['--device', 'foo'], '--device'), (['--ratio', 'nan'], '--ratio'), (['--max-leakage', '-1'], '--max-leakage'),
    (['--layers', 'eyes=4-2'], '--layers'), (['--space', 'z', '--layers', 'pose=0-2'], '--space w'),
    (['--hold-reach', '-1'], '--hold-reach'), (['--hold-reach', 'nan'], '--hold-reach'),
]


@pytest.mark.parametrize('extra, words', USAGE, ids=[' '.join(e) for e, _ in USAGE])
def test_vectorfind_usage_errors(models, tmp_path, capsys, extra, words):
    with pytest.raises(SystemExit) as stop:
        vectorfind_main(vectorfind_args(models, tmp_path / 'out', *extra))
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert words in error and 'Traceback' not in error
    assert not os.path.exists(tmp_path / 'out')


def test_vectorfind_bad_files_fail_before_sampling(models, tmp_path, capsys):
    codes = pd.DataFrame([[0.0] * 515])
    codes.to_csv(tmp_path / 'codes.csv', index=False)
    cases = {'missing latents': (['--latents', str(tmp_path / 'none.csv')], 'none.csv'),
             'text cell': (['--latents', write(tmp_path / 'bad.csv', ','.join(map(str, range(515))) + '\n'
                                                + ','.join(['0'] * 514 + ['x']) + '\n')], 'bad.csv'),
             'bad group': (['--latents', str(tmp_path / 'codes.csv'), '--group-names',
                            write(tmp_path / 'groups.csv', 'group_name\nxyz\n')], "'xyz' is not a group"),
             'out-dir is a file': ([], 'is a file')}
    for name, (extra, words) in cases.items():
        out = tmp_path / name.replace(' ', '_')
        args = vectorfind_args(models, out, *extra)
        if name == 'out-dir is a file':
            out.write_text('')
        with pytest.raises(SystemExit) as stop:
            vectorfind_main(args)
        message = str(stop.value.code)
        assert message.startswith('error:') and words in message, (name, message)
        assert not os.path.exists(out / 'samples'), name


FINETUNE_USAGE = [  # (extra arguments, words the message must hold): refused before any work
    (['--device', 'foo'], '--device'), (['--spread-samples', '1'], '--spread-samples must be at least 2'),
    (['--batch-size', '1'], '--batch-size must be at least 2'), (['--steps', '-1'], '--steps'),
    (['--eval-every', '0'], '--eval-every'), (['--checkpoint-minutes', 'nan'], '--checkpoint-minutes must be a finite number'),
    (['--trunc-psi', '2'], '--trunc-psi'), (['--lr', '0'], '--lr must be above 0'),
    (['--d-repeat-ratio', 'nan'], '--d-repeat-ratio'), (['--jitter', '1'], '--jitter'),
]


@pytest.mark.parametrize('extra, words', FINETUNE_USAGE, ids=[' '.join(e) for e, _ in FINETUNE_USAGE])
def test_finetune_usage_errors(tmp_path, capsys, extra, words):
    with pytest.raises(SystemExit) as stop:
        finetune_main(['--out-dir', str(tmp_path / 'out'), *extra])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert words in error.splitlines()[-1] and 'Traceback' not in error
    assert not os.path.exists(tmp_path / 'out')


def test_finetune_missing_table_is_one_line(tmp_path):
    with pytest.raises(SystemExit) as stop:
        finetune_main(['--out-dir', str(tmp_path / 'out'), '--scores', 'missing.csv'])
    assert str(stop.value.code).startswith('error:') and 'missing.csv' in str(stop.value.code)


@pytest.mark.parametrize('tool, argv, words', [
    (leakage_matrix_main, lambda t: [str(t / 'none')], 'none is not a folder'),
    (leakage_matrix_main, lambda t: [str(t), '--codes', '0'], '--codes must be at least 1'),
    (compare_runs_main, lambda t: [str(t / 'none'), str(t), '--out', str(t / 'c.png')], 'none is not a folder'),
    (compare_runs_main, lambda t: [str(t), str(t), '--codes', '-1', '--out', str(t / 'c.png')], '--codes'),
    (compare_runs_main, lambda t: [str(t), str(t), '--out', str(t)], '--out'),
    (retest_main, lambda t: [str(t / 'none')], 'none is not a folder'),
])
def test_run_inspection_tools_fail_in_one_line(tmp_path, capsys, tool, argv, words):
    with pytest.raises(SystemExit) as stop:
        tool(argv(tmp_path))
    message = stop.value.code if isinstance(stop.value.code, str) else capsys.readouterr().err.splitlines()[-1]
    assert words in message and 'Traceback' not in capsys.readouterr().err


def test_a_folder_made_with_other_settings_is_refused(models, tmp_path):
    """Other samples (seed, n, models) are never mixed in; other fit settings need --retrain; and
    config.json keeps describing what the outputs were made with."""
    from vectorfind.pipeline import parse_args, run
    svm = ('--space', 'z', '--layers', '', '--directions', 'svm')
    run(parse_args(vectorfind_args(models, tmp_path, *svm)))
    for extra, words in ((['--seed', '1'], '--seed 0'), (['--n', '60'], '--n 40'),
                         (['--ratio', '0.3'], 'add --retrain'), (['--hold-reach', '0.5'], 'add --retrain')):
        with pytest.raises(ValueError, match=words):
            run(parse_args(vectorfind_args(models, tmp_path, *svm, *extra)))
    assert '"seed": 0' in (tmp_path / 'config.json').read_text()
    run(parse_args(vectorfind_args(models, tmp_path, *svm, '--ratio', '0.3', '--retrain')))
    assert '"ratio": 0.3' in (tmp_path / 'config.json').read_text()


def test_a_second_run_into_a_held_folder_is_refused_naming_the_holder(tmp_path):
    import subprocess
    import sys
    from common.run_lock import FolderInUse, run_lock
    holder = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])
    try:
        (tmp_path / 'run.lock').write_text(str(holder.pid))
        with pytest.raises(FolderInUse, match=f'process {holder.pid}'):
            with run_lock(tmp_path):
                pass
    finally:
        holder.kill()
        holder.wait()
    with run_lock(tmp_path):  # the holder is gone: its lock is taken over, and released after
        assert (tmp_path / 'run.lock').read_text() == str(os.getpid())
    assert not (tmp_path / 'run.lock').exists()


@pytest.mark.parametrize('cell', ['nan', 'inf', 'abc'])
def test_a_damaged_direction_file_is_named_not_used(models, tmp_path, cell):
    out = tmp_path / 'out'
    vectorfind_main(vectorfind_args(models, out, '--directions', 'svm', '--space', 'z', '--layers', ''))
    path = out / 'property_score_vectors' / 'mouth_change_z_vector_all.csv'
    lines = path.read_text().splitlines()
    lines[1] = lines[1].split(',', 1)[0] + ',' + cell + ',' + lines[1].split(',', 2)[2]
    path.write_text('\n'.join(lines) + '\n')
    with pytest.raises(SystemExit) as stop:
        vectorfind_main(vectorfind_args(models, out, '--directions', 'svm', '--space', 'z', '--layers', ''))
    assert 'mouth_change_z_vector_all.csv' in str(stop.value.code) and '--retrain' in str(stop.value.code)
