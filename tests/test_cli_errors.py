"""Every bad input of a command ends in one clear line, never a traceback or a silent wrong result.

Each case calls a command's `main(argv)` in-process and checks: it exits with a non-zero status
(2 for a bad argument, as argparse reports its own; 1 for a bad file), the message names the input
(flag or file) and says what was expected, it is one line, and no traceback is printed. A handful
of cases run the command as a subprocess to prove the same end to end.
"""
import os
import subprocess
import sys

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

import data.build_default_world
import data.contact_sheet
import property_score_cnn.evaluate
import property_score_cnn.train
import segmentation.score_label_maps
import base_training.evaluate
import stylegan.generate
import base_training.train
from common.paths import REPO
from property_score_cnn import PropertyScoreCNN, save_property_score_cnn
from random_world import write_random_world
from stylegan import Generator, convert_v1_to_v6, architecture, save_generator

CUDA = torch.cuda.is_available()


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """Tiny good files and every kind of bad one, made once."""
    root = tmp_path_factory.mktemp('inputs')
    torch.manual_seed(0)
    save_generator(Generator(architecture('tiny')), root / 'g1.pth')
    save_generator(convert_v1_to_v6(Generator(architecture('tiny'))), root / 'g6.pth')
    save_property_score_cnn(PropertyScoreCNN(width=0.125), root / 'cnn.pth')
    (root / 'empty.pth').write_bytes(b'')
    whole = (root / 'g6.pth').read_bytes()
    (root / 'truncated.pth').write_bytes(whole[:len(whole) // 2])
    (root / 'text.pth').write_text('not a checkpoint')
    (root / 'a_file').write_text('in the way')
    write_random_world(root / 'world', n=8, size=16)
    write_random_world(root / 'world256', n=8, size=256)
    pd.DataFrame(columns=range(515)).to_csv(root / 'header_only.csv', index=False)
    (root / 'empty.csv').write_text('')
    codes = pd.DataFrame(np.zeros((3, 515))).astype(object)
    codes.iloc[2, 4] = 'abc'
    codes.to_csv(root / 'text_cell.csv', index=False)
    pd.DataFrame(columns=['img_no', 'img_path', 'eyes_score']).to_csv(root / 'no_scores.csv', index=False)
    header = pd.read_csv(root / 'world' / 'all_scores_v2.csv').iloc[:0]
    header.to_csv(root / 'header_only_table.csv', index=False)
    return root


def label_maps(root, damage=None, n=3):
    """A folder pair images/ and maps/ of n real faces, `damage(maps_dir, images_dir)` applied."""
    from data.face_world import render_faces
    images, maps, _ = render_faces(n, 0)
    (root / 'images').mkdir()
    (root / 'maps').mkdir()
    for i in range(n):
        cv2.imwrite(str(root / 'images' / f'{i:03d}.png'), cv2.cvtColor(images[i], cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(root / 'maps' / f'{i:03d}.png'), maps[i])
    if damage:
        damage(root / 'maps', root / 'images')
    return ['--images', str(root / 'images'), '--label-maps', str(root / 'maps'),
            '--out', str(root / 'scores.csv')]


def generate(f, *extra):
    return ['--generator', str(f / 'g6.pth'), '--variant', 'v6', '--device', 'cpu',
            '--out-dir', str(f / 'faces'), *extra]


def train_base(f, *extra):
    return ['--data', str(f / 'world'), '--architecture', 'tiny', '--out-dir', str(f / 'base_run'),
            '--steps', '1', '--batch-size', '2', '--device', 'cpu', *extra]


def evaluate_base(f, *extra):
    return ['--generator', str(f / 'g1.pth'), '--cnn', str(f / 'cnn.pth'),
            '--scores-table', str(f / 'world' / 'all_scores_v2.csv'), '--n', '4',
            '--grid', str(f / 'eval' / 'grid.png'), '--plot', str(f / 'eval' / 'plot.png'),
            '--out', str(f / 'eval' / 'eval.csv'), '--device', 'cpu', *extra]


def train_cnn(f, *extra):
    return ['--scores', str(f / 'world256' / 'all_scores_v2.csv'), '--out', str(f / 'cnn_run' / 'cnn.pth'),
            '--width', '0.125', '--resolution', '16', '--epochs', '1', '--batch-size', '4',
            '--val-fraction', '0.25', '--device', 'cpu', *extra]


def evaluate_cnn(f, *extra):
    return ['--cnn', str(f / 'cnn.pth'), '--n', '3', '--out', str(f / 'cnn_eval.json'), *extra]


def world(f, *extra):
    return ['--n', '2', '--workers', '1', '--out-dir', str(f / 'new_world'), *extra]


def sheet(f, *extra):
    return ['--n', '1', '--out', str(f / 'sheet.png'), *extra]


def truncate_block(root):
    data.build_default_world.main(['--n', '2', '--workers', '1', '--out-dir', str(root / 'w')])
    block = root / 'w' / 'blocks' / '000000.csv'
    block.write_text(block.read_text()[:200])
    return ['--n', '2', '--workers', '1', '--out-dir', str(root / 'w')]


GENERATE, TRAIN_BASE = stylegan.generate.main, base_training.train.main
EVALUATE_BASE, TRAIN_CNN = base_training.evaluate.main, property_score_cnn.train.main
EVALUATE_CNN, SCORE_MAPS = property_score_cnn.evaluate.main, segmentation.score_label_maps.main
BUILD_WORLD, CONTACT_SHEET = data.build_default_world.main, data.contact_sheet.main

# (id, command, argv from (files, tmp_path), exit status, what the message must say)
CASES = [
    # python -m stylegan.generate
    ('generate psi nan', GENERATE, lambda f, t: generate(f, '--num', '2', '--trunc-psi', 'nan'), 2,
     ['--trunc-psi', 'finite']),
    ('generate psi 5', GENERATE, lambda f, t: generate(f, '--num', '2', '--trunc-psi', '5'), 2,
     ['--trunc-psi', 'between 0 and 1', 'got 5']),
    ('generate psi -3', GENERATE, lambda f, t: generate(f, '--num', '2', '--trunc-psi', '-3'), 2,
     ['--trunc-psi', 'got -3']),
    ('generate trunc layers -1', GENERATE, lambda f, t: generate(f, '--num', '2', '--trunc-layers', '-1'), 2,
     ['--trunc-layers', 'at least 0']),
    ('generate num 0', GENERATE, lambda f, t: generate(f, '--num', '0'), 2, ['--num', 'at least 1']),
    ('generate batch 0', GENERATE, lambda f, t: generate(f, '--num', '2', '--batch-size', '0'), 2,
     ['--batch-size', 'at least 1']),
    ('generate device foo', GENERATE, lambda f, t: generate(f, '--num', '2', '--device', 'foo'), 2,
     ["--device 'foo'", 'cpu']),
    pytest.param('generate device cuda', GENERATE, lambda f, t: generate(f, '--num', '2', '--device', 'cuda'), 2,
                 ['--device cuda', 'not available', '--device cpu'],
                 marks=pytest.mark.skipif(CUDA, reason='this machine has CUDA')),
    ('generate variant foo', GENERATE, lambda f, t: generate(f, '--num', '2', '--variant', 'foo'), 2,
     ['--variant', 'foo']),
    ('generate out-dir is a file', GENERATE,
     lambda f, t: generate(f, '--num', '2', '--out-dir', str(f / 'a_file')), 2, ['--out-dir', 'a_file', 'not a folder']),
    ('generate out-dir under a file', GENERATE,
     lambda f, t: generate(f, '--num', '2', '--out-dir', str(f / 'a_file' / 'faces')), 2, ['--out-dir', 'a_file']),
    ('generate 0-byte generator', GENERATE, lambda f, t: generate(f, '--num', '2', '--generator', str(f / 'empty.pth')), 1,
     ['empty.pth', 'empty (0 bytes)']),
    ('generate truncated generator', GENERATE,
     lambda f, t: generate(f, '--num', '2', '--generator', str(f / 'truncated.pth')), 1, ['truncated.pth', 'truncated']),
    ('generate text as generator', GENERATE, lambda f, t: generate(f, '--num', '2', '--generator', str(f / 'text.pth')), 1,
     ['text.pth', 'not a torch checkpoint', 'begins']),
    ('generate CNN as generator', GENERATE, lambda f, t: generate(f, '--num', '2', '--generator', str(f / 'cnn.pth')), 1,
     ['cnn.pth', 'not a StyleGAN generator', 'holds a Property Score CNN']),
    ('generate missing generator', GENERATE, lambda f, t: generate(f, '--num', '2', '--generator', str(f / 'gone.pth')), 1,
     ['gone.pth', 'not found']),
    ('generate header-only latents', GENERATE, lambda f, t: generate(f, '--latents', str(f / 'header_only.csv')), 1,
     ['header_only.csv', 'only a header']),
    ('generate empty latents', GENERATE, lambda f, t: generate(f, '--latents', str(f / 'empty.csv')), 1,
     ['empty.csv', 'empty']),
    ('generate text cell', GENERATE, lambda f, t: generate(f, '--latents', str(f / 'text_cell.csv')), 1,
     ['text_cell.csv', "row 2, column '4'", "'abc'", 'not a number']),
    ('generate missing latents', GENERATE, lambda f, t: generate(f, '--latents', str(f / 'gone.csv')), 1,
     ['gone.csv', 'not found']),
    # python -m base_training.train
    ('train_base batch 0', TRAIN_BASE, lambda f, t: train_base(f, '--batch-size', '0'), 2, ['--batch-size', 'at least 1']),
    ('train_base steps -3', TRAIN_BASE, lambda f, t: train_base(f, '--steps', '-3'), 2, ['--steps', 'got -3']),
    ('train_base steps 0', TRAIN_BASE, lambda f, t: train_base(f, '--steps', '0'), 2, ['--steps', '--init-generator']),
    ('train_base unknown architecture', TRAIN_BASE, lambda f, t: train_base(f, '--architecture', 'foo'), 2,
     ["--architecture 'foo'", 'tiny', 'world64']),
    ('train_base lr 0', TRAIN_BASE, lambda f, t: train_base(f, '--lr', '0'), 2, ['--lr', 'above 0']),
    ('train_base lr nan', TRAIN_BASE, lambda f, t: train_base(f, '--lr', 'nan'), 2, ['--lr', 'finite']),
    ('train_base label dropout 2', TRAIN_BASE, lambda f, t: train_base(f, '--label-dropout', '2'), 2, ['--label-dropout']),
    ('train_base ema 0', TRAIN_BASE, lambda f, t: train_base(f, '--ema-kimg', '0'), 2, ['--ema-kimg']),
    ('train_base device foo', TRAIN_BASE, lambda f, t: train_base(f, '--device', 'foo'), 2, ["--device 'foo'"]),
    ('train_base out-dir is a file', TRAIN_BASE, lambda f, t: train_base(f, '--out-dir', str(f / 'a_file')), 1,
     ['--out-dir', 'a_file']),
    ('train_base missing data', TRAIN_BASE, lambda f, t: train_base(f, '--data', str(t / 'nowhere')), 1,
     ['nowhere', 'score table not found']),
    ('train_base header-only table', TRAIN_BASE, lambda f, t: train_base(f, '--data', str(f / 'header_only_table.csv')), 1,
     ['header_only_table.csv', 'no rows']),
    ('train_base CNN as init generator', TRAIN_BASE,
     lambda f, t: train_base(f, '--out-dir', str(t / 'run'), '--init-generator', str(f / 'cnn.pth')), 1,
     ['cnn.pth', 'holds a Property Score CNN']),
    ('train_base missing init generator', TRAIN_BASE,
     lambda f, t: train_base(f, '--out-dir', str(t / 'run'), '--init-generator', str(f / 'gone.pth')), 1,
     ['--init-generator', 'gone.pth', 'not found']),
    ('train_base 0-byte checkpoint', TRAIN_BASE,
     lambda f, t: (os.makedirs(t / 'run'), (t / 'run' / 'checkpoint.pth').write_bytes(b''),
                   train_base(f, '--out-dir', str(t / 'run')))[-1], 1,
     ['checkpoint.pth', 'empty', 'delete it']),
    # python -m base_training.evaluate
    ('evaluate_base n 0', EVALUATE_BASE, lambda f, t: evaluate_base(f, '--n', '0'), 2, ['--n', 'at least 2']),
    ('evaluate_base device foo', EVALUATE_BASE, lambda f, t: evaluate_base(f, '--device', 'foo'), 2, ["--device 'foo'"]),
    ('evaluate_base out is a folder', EVALUATE_BASE, lambda f, t: evaluate_base(f, '--out', str(t)), 2,
     ['--out', 'is a folder']),
    ('evaluate_base CNN as generator', EVALUATE_BASE, lambda f, t: evaluate_base(f, '--generator', str(f / 'cnn.pth')), 1,
     ['cnn.pth', 'holds a Property Score CNN']),
    ('evaluate_base generator as CNN', EVALUATE_BASE, lambda f, t: evaluate_base(f, '--cnn', str(f / 'g1.pth')), 1,
     ['g1.pth', 'not a Property Score CNN', 'holds a StyleGAN generator']),
    ('evaluate_base 0-byte CNN', EVALUATE_BASE, lambda f, t: evaluate_base(f, '--cnn', str(f / 'empty.pth')), 1,
     ['empty.pth', 'empty']),
    # python -m property_score_cnn.train
    ('train_cnn epochs 0', TRAIN_CNN, lambda f, t: train_cnn(f, '--epochs', '0'), 2, ['--epochs', 'at least 1']),
    ('train_cnn batch 0', TRAIN_CNN, lambda f, t: train_cnn(f, '--batch-size', '0'), 2, ['--batch-size']),
    ('train_cnn lr -1', TRAIN_CNN, lambda f, t: train_cnn(f, '--lr', '-1'), 2, ['--lr', 'above 0']),
    ('train_cnn width 0', TRAIN_CNN, lambda f, t: train_cnn(f, '--width', '0'), 2, ['--width', 'above 0']),
    ('train_cnn val fraction 1.5', TRAIN_CNN, lambda f, t: train_cnn(f, '--val-fraction', '1.5'), 2, ['--val-fraction']),
    ('train_cnn jitter nan', TRAIN_CNN, lambda f, t: train_cnn(f, '--jitter', 'nan'), 2, ['--jitter', 'finite']),
    ('train_cnn resolution 300', TRAIN_CNN, lambda f, t: train_cnn(f, '--resolution', '300'), 2, ['--resolution', '256']),
    ('train_cnn device foo', TRAIN_CNN, lambda f, t: train_cnn(f, '--device', 'foo'), 2, ["--device 'foo'"]),
    ('train_cnn out under a file', TRAIN_CNN, lambda f, t: train_cnn(f, '--out', str(f / 'a_file' / 'cnn.pth')), 1,
     ['--out', 'a_file', 'not a folder']),
    ('train_cnn empty table', TRAIN_CNN, lambda f, t: train_cnn(f, '--scores', str(f / 'empty.csv')), 1,
     ['empty.csv', 'empty']),
    ('train_cnn table without scores', TRAIN_CNN, lambda f, t: train_cnn(f, '--scores', str(f / 'no_scores.csv')), 1,
     ['no_scores.csv', 'missing column']),
    ('train_cnn truncated checkpoint', TRAIN_CNN,
     lambda f, t: train_cnn(f, '--out', str(t / 'cnn.pth'), '--checkpoint', str(f / 'truncated.pth')), 1,
     ['truncated.pth', 'delete it']),
    ('train_cnn generator as checkpoint', TRAIN_CNN,
     lambda f, t: train_cnn(f, '--out', str(t / 'cnn.pth'), '--checkpoint', str(f / 'g1.pth')), 1,
     ['g1.pth', 'not a checkpoint of property_score_cnn.train']),
    # python -m property_score_cnn.evaluate
    ('evaluate_cnn n 2', EVALUATE_CNN, lambda f, t: evaluate_cnn(f, '--n', '2'), 2, ['--n', 'at least 3']),
    ('evaluate_cnn seed -1', EVALUATE_CNN, lambda f, t: evaluate_cnn(f, '--seed', '-1'), 2, ['--seed']),
    ('evaluate_cnn resolution 300', EVALUATE_CNN, lambda f, t: evaluate_cnn(f, '--resolution', '300'), 2, ['--resolution']),
    ('evaluate_cnn out is a folder', EVALUATE_CNN, lambda f, t: evaluate_cnn(f, '--out', str(t)), 2, ['--out']),
    ('evaluate_cnn generator as CNN', EVALUATE_CNN, lambda f, t: evaluate_cnn(f, '--cnn', str(f / 'g1.pth')), 1,
     ['g1.pth', 'holds a StyleGAN generator']),
    ('evaluate_cnn missing CNN', EVALUATE_CNN, lambda f, t: evaluate_cnn(f, '--cnn', str(f / 'gone.pth')), 1,
     ['gone.pth', 'not found']),
    # python -m segmentation.score_label_maps
    ('score maps wrong size', SCORE_MAPS,
     lambda f, t: label_maps(t, lambda m, i: cv2.imwrite(str(m / '001.png'), np.zeros((100, 100), np.uint8))), 1,
     ['001.png', '224x224', '100x100']),
    ('score maps class 50', SCORE_MAPS,
     lambda f, t: label_maps(t, lambda m, i: cv2.imwrite(str(m / '001.png'), np.full((224, 224), 50, np.uint8))), 1,
     ['001.png', 'class 50', '--classes celebamask19']),
    ('score maps RGB map', SCORE_MAPS,
     lambda f, t: label_maps(t, lambda m, i: cv2.imwrite(str(m / '001.png'), np.zeros((224, 224, 3), np.uint8))), 1,
     ['001.png', 'single-channel']),
    ('score maps non-image map', SCORE_MAPS,
     lambda f, t: label_maps(t, lambda m, i: (m / '001.png').write_text('text')), 1, ['001.png', 'not a readable PNG']),
    ('score maps non-image image', SCORE_MAPS,
     lambda f, t: label_maps(t, lambda m, i: (i / '001.png').write_text('text')), 1,
     ['images/001.png', 'not a readable image']),
    ('score maps missing image', SCORE_MAPS, lambda f, t: label_maps(t, lambda m, i: (i / '001.png').unlink()), 1,
     ['no image named 001', 'maps/001.png']),
    ('score maps empty folder', SCORE_MAPS,
     lambda f, t: label_maps(t, lambda m, i: [p.unlink() for p in m.iterdir()]), 1, ['no PNG label maps', 'maps']),
    ('score maps all one class', SCORE_MAPS,
     lambda f, t: label_maps(t, lambda m, i: [cv2.imwrite(str(p), np.zeros((224, 224), np.uint8)) for p in m.iterdir()]),
     1, ['single class', '000.png', 'no face']),
    ('score maps missing folder', SCORE_MAPS,
     lambda f, t: ['--images', str(t / 'no_images'), '--label-maps', str(t), '--out', str(t / 's.csv')], 1,
     ['--images', 'no_images', 'not found']),
    ('score maps out is a folder', SCORE_MAPS,
     lambda f, t: ['--images', str(t), '--label-maps', str(t), '--out', str(t)], 2, ['--out', 'is a folder']),
    # python -m data.build_default_world
    ('world n 0', BUILD_WORLD, lambda f, t: world(f, '--n', '0'), 2, ['--n', 'at least 2']),
    ('world seed -1', BUILD_WORLD, lambda f, t: world(f, '--seed', '-1'), 2, ['--seed']),
    ('world workers 0', BUILD_WORLD, lambda f, t: world(f, '--workers', '0'), 2, ['--workers']),
    ('world out-dir is a file', BUILD_WORLD, lambda f, t: world(f, '--out-dir', str(f / 'a_file')), 2, ['--out-dir']),
    ('world truncated block', BUILD_WORLD, lambda f, t: truncate_block(t), 1, ['000000.csv', 'delete it']),
    # python -m data.contact_sheet
    ('sheet n 0', CONTACT_SHEET, lambda f, t: sheet(f, '--n', '0'), 2, ['--n', 'at least 1']),
    ('sheet columns 0', CONTACT_SHEET, lambda f, t: sheet(f, '--columns', '0'), 2, ['--columns']),
    ('sheet seed -1', CONTACT_SHEET, lambda f, t: sheet(f, '--seed', '-1'), 2, ['--seed']),
    ('sheet out is a folder', CONTACT_SHEET, lambda f, t: sheet(f, '--out', str(t)), 2, ['--out', 'is a folder']),
]


def _id(case):
    return case.values[0] if hasattr(case, 'values') else case[0]


@pytest.mark.parametrize('name, command, argv, status, expected', CASES, ids=[_id(c) for c in CASES])
def test_bad_input_is_one_clear_line(files, tmp_path, capsys, name, command, argv, status, expected):
    arguments = argv(files, tmp_path)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        command(arguments)
    stderr = capsys.readouterr().err
    code = exit_.value.code
    if isinstance(code, str):  # run_command: the message is the exit code, as sys.exit prints it
        message, exit_status = code, 1
        assert message.startswith('error: ') and '\n' not in message, message
    else:  # a usage error: argparse printed usage and '<prog>: error: <message>'
        message, exit_status = stderr.strip().splitlines()[-1], code
        assert ': error: ' in message, stderr
    assert exit_status == status, message
    for part in expected:
        assert part in message, f'{part!r} not in {message!r}'
    assert 'Traceback' not in stderr


def test_an_out_dir_that_is_not_writable_is_refused_before_any_work(files, tmp_path, monkeypatch, capsys):
    locked = tmp_path / 'locked'
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, 'access', lambda path, mode: os.fspath(path) != str(locked) and real_access(path, mode))
    for command, argv in ((GENERATE, generate(files, '--num', '1', '--out-dir', str(locked / 'faces'))),
                          (TRAIN_BASE, train_base(files, '--out-dir', str(locked)))):
        with pytest.raises(SystemExit) as exit_:
            command(argv)
        message = exit_.value.code if isinstance(exit_.value.code, str) else capsys.readouterr().err
        assert 'not writable' in message and str(locked) in message
    assert os.listdir(locked) == []


def test_a_label_map_of_one_class_among_faces_is_named_in_a_warning(tmp_path, capsys):
    argv = label_maps(tmp_path, lambda m, i: cv2.imwrite(str(m / '001.png'), np.ones((224, 224), np.uint8)))
    SCORE_MAPS(argv)
    err = capsys.readouterr().err
    assert 'warning:' in err and '001.png' in err and 'class 1' in err
    assert len(pd.read_csv(tmp_path / 'scores.csv')) == 3


def test_generate_warns_that_psi_needs_trunc_layers(files, tmp_path, capsys):
    GENERATE(generate(files, '--num', '1', '--trunc-psi', '0.5', '--out-dir', str(tmp_path)))
    assert '--trunc-layers' in capsys.readouterr().err


def test_debug_shows_the_exception_in_process(files):
    from common.checkpoints import CheckpointError
    with pytest.raises(CheckpointError, match='holds a Property Score CNN'):
        GENERATE(generate(files, '--num', '1', '--generator', str(files / 'cnn.pth'), '--debug'))


def _run(module, *argv):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, '-m', module, *map(str, argv)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize('module, argv, status, expected', [
    ('stylegan.generate', lambda f, t: generate(f, '--num', '2', '--trunc-psi', 'nan'), 2, '--trunc-psi'),
    ('stylegan.generate', lambda f, t: generate(f, '--num', '2', '--generator', str(f / 'cnn.pth')), 1,
     'holds a Property Score CNN'),
    ('base_training.train', lambda f, t: train_base(f, '--architecture', 'foo'), 2, "--architecture 'foo'"),
    ('segmentation.score_label_maps',
     lambda f, t: label_maps(t, lambda m, i: cv2.imwrite(str(m / '001.png'), np.zeros((224, 224, 3), np.uint8))),
     1, 'single-channel'),
    ('data.build_default_world', lambda f, t: world(f, '--n', '0'), 2, '--n must be at least 2'),
], ids=['generate psi nan', 'generate CNN file', 'train_base architecture', 'score maps RGB', 'world n 0'])
def test_commands_fail_in_one_line_end_to_end(files, tmp_path, module, argv, status, expected):
    result = _run(module, *argv(files, tmp_path))
    assert result.returncode == status, result.stderr
    assert 'Traceback' not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert 'error: ' in last and expected in last, result.stderr
    lines = result.stderr.replace('\r', '\n').splitlines()
    assert [line for line in lines if 'error' in line.lower()] == [last]  # beside progress bars


def test_debug_flag_shows_the_traceback_end_to_end(files, tmp_path):
    result = _run('stylegan.generate', *generate(files, '--num', '1', '--generator', files / 'cnn.pth', '--debug'))
    assert result.returncode == 1
    assert 'Traceback' in result.stderr and 'CheckpointError' in result.stderr


def test_a_killed_write_leaves_a_temp_file_that_the_next_run_removes(files, tmp_path):
    out = tmp_path / 'faces'
    killed = subprocess.run(
        [sys.executable, '-c', 'import os, sys\nfrom common.files import atomic_write\n'
                               'with atomic_write(sys.argv[1]) as tmp:\n'
                               '    open(tmp, "w").write("half")\n    os._exit(9)',
         str(out / 'contact_sheet.png')], cwd=REPO, timeout=60)
    assert killed.returncode == 9
    left = [name for name in os.listdir(out) if '.tmp' in name]
    assert len(left) == 1 and left[0].startswith('.contact_sheet.')
    GENERATE(generate(files, '--num', '1', '--out-dir', str(out)))
    assert not [name for name in os.listdir(out) if '.tmp' in name]
    assert (out / 'contact_sheet.png').exists()
