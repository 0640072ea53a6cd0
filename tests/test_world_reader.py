"""The world reader (judge/): its factor encodings, its file's errors, an exact resume of its
training after a kill, and that nothing that steers imports it."""
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from data.face_world import face_rng, render_face, sample_factors
from judge.factors import (IDENTITY_FACTORS, PROPERTY_FACTORS, READ_FACTORS,
                           changes_in_spreads, decode, encode, world_spreads)
from judge.reader import WorldReader, load_world_reader, save_world_reader
from judge.train import main as train_main
from test_layout import REPO, imported_modules, python_files

KILL_AT = os.path.join(REPO, 'tests', 'kill_at.py')
# Packages that fit, hold, train or select steering directions, or that they build on.
STEERING_SIDE = ('vectorfind', 'finetune_v5', 'property_score_cnn', 'stylegan', 'base_training',
                 'segmentation', 'common', 'data', 'characters')


def world_faces(n, seed=13):
    return [sample_factors(face_rng(seed, i)) for i in range(n)]


# ---- factors ----------------------------------------------------------------------------------
def test_the_groups_name_seven_properties_and_every_identity_factor():
    assert len(PROPERTY_FACTORS) == 7 and len(IDENTITY_FACTORS) == 29
    assert not set(PROPERTY_FACTORS) & set(IDENTITY_FACTORS)


def test_encoding_round_trips_to_world_units():
    factors = pd.DataFrame(world_faces(50))
    decoded = decode(encode(factors))
    for name in READ_FACTORS:
        if name == 'iris_hue':  # one of four colours: the read value is its quarter's centre
            np.testing.assert_allclose(decoded[name], (np.floor(factors[name] * 4) + 0.5) / 4)
        else:
            np.testing.assert_allclose(decoded[name], factors[name], atol=1e-5, err_msg=name)
    assert changes_in_spreads(encode(factors), encode(factors)).to_numpy().max() == 0


def test_iris_hue_within_a_quarter_leaves_no_trace_in_the_image():
    """Why iris_hue is read as a class: the renderer only uses which quarter it falls in."""
    face = world_faces(1)[0]
    low, high = (render_face({**face, 'iris_hue': hue, 'eye_openness': 1.0})[0] for hue in (0.26, 0.49))
    other = render_face({**face, 'iris_hue': 0.76, 'eye_openness': 1.0})[0]
    assert np.array_equal(low, high) and not np.array_equal(low, other)


def test_spreads_are_those_of_the_world():
    spreads = world_spreads()
    assert set(spreads) == set(READ_FACTORS)
    assert spreads['eye_openness'] == pytest.approx(1 / np.sqrt(12), rel=0.03)
    assert spreads['background_hue'] == pytest.approx(1.0, rel=0.01)  # (cos, sin) of a uniform angle


# ---- the file -----------------------------------------------------------------------------------
def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ValueError, match=f'not found: {tmp_path / "absent.pth"}'):
        load_world_reader(tmp_path / 'absent.pth')


def test_a_file_of_other_shapes_is_named_with_the_key_and_shapes(tmp_path):
    path = tmp_path / 'reader.pth'
    save_world_reader(WorldReader(32, width=0.25), path)
    payload = torch.load(path, weights_only=True)
    payload['config']['width'] = 0.5
    torch.save(payload, path)
    with pytest.raises(ValueError, match=rf'{path}: not a world reader checkpoint: key .* has shape'):
        load_world_reader(path)


def test_another_model_or_other_factors_are_refused(tmp_path):
    with pytest.raises(ValueError, match='holds a Property Score CNN'):
        load_world_reader(os.path.join(REPO, 'models', 'default', 'property_score_cnn.pth'))
    path = tmp_path / 'reader.pth'
    save_world_reader(WorldReader(32, width=0.25), path)
    payload = torch.load(path, weights_only=True)
    payload['config']['encoding_columns'] = payload['config']['encoding_columns'][:-1]
    torch.save(payload, path)
    with pytest.raises(ValueError, match=f'{path}: a world reader of other factors'):
        load_world_reader(path)


def test_images_of_another_size_are_refused():
    with pytest.raises(ValueError, match='reads 32x32 images, got 64x64'):
        WorldReader(32, width=0.25).read(torch.zeros(1, 3, 64, 64))


# ---- training ---------------------------------------------------------------------------------
def tiny_training(out_dir):
    return ['--out-dir', str(out_dir), '--seed', '3', '--n', '20', '--val-n', '4', '--resolution', '32',
            '--width', '0.125', '--epochs', '2', '--batch-size', '4', '--workers', '1',
            '--block-size', '8', '--checkpoint-minutes', '1e-9', '--device', 'cpu']


def test_a_training_killed_inside_an_epoch_resumes_to_the_same_weights(tmp_path):
    """Every run in a process of one thread: the same arithmetic, so the same weights bit for bit."""
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    one_thread = {**os.environ, 'OMP_NUM_THREADS': '1'}

    def command(*args):
        return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, env=one_thread)
    assert command('-m', 'judge.train', *tiny_training(straight)).returncode == 0
    # SIGKILL right after the third checkpoint: three batches of the first epoch done.
    killed = command(KILL_AT, 'judge.train:save_checkpoint', '3', 'judge.train', *tiny_training(resumed))
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not (resumed / 'world_reader.pth').exists()
    assert command('-m', 'judge.train', *tiny_training(resumed)).returncode == 0
    a = torch.load(straight / 'world_reader.pth', weights_only=True)['state_dict']
    b = torch.load(resumed / 'world_reader.pth', weights_only=True)['state_dict']
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
    columns = [c for c in pd.read_csv(straight / 'log.csv').columns if c != 'seconds']
    pd.testing.assert_frame_equal(pd.read_csv(straight / 'log.csv')[columns],
                                  pd.read_csv(resumed / 'log.csv')[columns])
    assert json.loads((resumed / 'config.json').read_text())['n'] == 20
    assert [p.name for p in resumed.rglob('*') if '.tmp' in p.name or p.name == 'run.lock'] == []
    assert len(load_world_reader(resumed / 'world_reader.pth').read(np.zeros((2, 32, 32, 3), np.uint8))) == 2


def test_bad_settings_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as exit_:
        train_main(['--out-dir', 'unused', '--n', '10', '--val-n', '10'])
    assert exit_.value.code == 2 and '--val-n must be below --n (10)' in capsys.readouterr().err


# ---- layout -------------------------------------------------------------------------------------
def test_nothing_that_steers_imports_the_judge():
    offenders = [(os.path.relpath(path, REPO), module) for package in STEERING_SIDE
                 for path in python_files(package) for module in imported_modules(path)
                 if module.split('.')[0] == 'judge']
    assert offenders == []
    assert 'judge' in {m.split('.')[0] for m in imported_modules(os.path.join(REPO, 'judge', 'train.py'))}


# ---- the committed reader on constructed faces ---------------------------------------------------
MODEL = os.path.join(REPO, 'models', 'default', 'world_reader.pth')
EVALUATION = os.path.join(REPO, 'models', 'default', 'world_reader_evaluation.csv')


@pytest.fixture(scope='module')
def reader():
    return load_world_reader(MODEL)


@pytest.fixture(scope='module')
def tolerance():
    """How far a reading may move when its factor did not: four times the measured reading noise
    of a difference of two readings (sqrt 2 of one), in spreads."""
    table = pd.read_csv(EVALUATION).set_index('factor')
    return 4 * np.sqrt(2) * table.reading_noise


def read_edit(reader, name, before, after, n=6):
    """Encodings of n world faces rendered with factor `name` at `before` and at `after`."""
    from judge.faces import render_views
    faces = world_faces(n)
    views = [render_views([{**face, name: value} for face in faces], reader.resolution)
             for value in (before, after)]
    return reader.encoded(views[0]), reader.encoded(views[1])


@pytest.mark.parametrize('name, before, after, least', [
    ('eye_openness', 0.1, 0.9, 0.5), ('mouth_openness', 0.1, 0.9, 0.5), ('head_turn', -0.6, 0.6, 0.8),
    ('skin_lightness', 120.0, 200.0, 50.0), ('clothes_lightness', 60.0, 180.0, 80.0)])
def test_one_factor_changed_is_read_moving_alone(reader, tolerance, name, before, after, least):
    start, end = read_edit(reader, name, before, after)
    moved = decode(end)[name] - decode(start)[name]
    assert (moved > least).all(), f'{name} read to move by {moved.round(3).tolist()}, at least {least} expected'
    changes = changes_in_spreads(start, end).drop(columns=name)
    excess = changes.median() - tolerance[changes.columns]
    assert (excess <= 0).all(), f'{name} edit moved {excess[excess > 0].round(3).to_dict()} spreads past the noise'
