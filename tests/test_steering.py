"""The steering and FineTune-v5 inspection APIs on tiny runs: the faces the pipeline's test renders,
bit for bit; shapes and dtype; the run's groups and space; clear errors on bad input."""
import json
import shutil

import numpy as np
import pytest
import torch

from common.images import to_uint8
from scores.properties import CORE_PROPERTIES
from finetune_v5.inspection import FineTuneRun, training_log
from stylegan import Generator, architecture
from vectorfind.directions import load_direction, vector_path
from property_score_cnn import load_property_score_cnn
from vectorfind.generation_testing import GRID_RANGES, score_code_edits, weight_grid
from vectorfind.local_hold import REACH, LocalHold
from vectorfind.spaces import CodeEditor, LatentSpace
from vectorfind.steering import Steering, read_tested_codes


@pytest.fixture(scope='module')
def grouped(tiny_vectorfind_runs):
    run_dir = tiny_vectorfind_runs['grouped']
    steering = Steering.from_run(run_dir)
    results, codes = read_tested_codes(run_dir, steering.code_dim)
    return run_dir, steering, results, codes


def pipeline_faces(run_dir, steering, code, group, rows, space=LatentSpace(), hold_with=None):
    """The test's faces [len(rows), H, W, 3] of grid rows `rows` of `code`, edited and rendered
    as generation_testing does for a passing code (one row at a time), with the directions of
    `group` as the pipeline stored them, held to the code with the CNN `hold_with` if given."""
    dim = space.dim(steering.generator)
    directions = np.stack([load_direction(vector_path(run_dir, p, group, space.name), dim)[0]
                           for p in CORE_PROPERTIES])
    editor = CodeEditor(steering.generator, space)
    if hold_with is not None:
        directions = LocalHold(hold_with).directions(editor, code, directions, GRID_RANGES)
    with torch.inference_mode():
        edited = editor.edited(code, weight_grid(), directions)
        return np.concatenate([to_uint8(editor.images(edited[i:i + 1])) for i in rows])


def test_a_face_is_the_pipelines_face_of_the_edited_code(grouped):
    run_dir, steering, results, codes = grouped
    rows = (0, 17, 49)  # grid rows: the corners and one inside
    for case in range(len(codes)):
        expected = pipeline_faces(run_dir, steering, codes[case], results.group_name[case], rows)
        for face, (eyes, mouth, pose) in zip(expected, weight_grid()[list(rows)]):
            np.testing.assert_array_equal(steering.render(codes[case], eyes=eyes, mouth=mouth, pose=pose), face)


def test_shapes_dtype_and_strips(grouped):
    _, steering, _, codes = grouped
    face = steering.render(codes[0])
    assert face.shape == (16, 16, 3) and face.dtype == np.uint8
    strip = steering.strip(codes[0], 'pose', [-1.8, 0.0, 0.6])
    assert strip.shape == (3, 16, 16, 3) and strip.dtype == np.uint8
    np.testing.assert_array_equal(strip[1], face)  # weight 0 is the code itself
    np.testing.assert_array_equal(strip[2], steering.render(codes[0], pose=0.6))
    assert not np.array_equal(strip[0], strip[2])


def test_an_ungrouped_run_in_w_steers_in_w_on_its_layers(tiny_vectorfind_runs):
    run_dir = tiny_vectorfind_runs['w']
    steering = Steering.from_run(run_dir)
    assert steering.groups == ['all'] and steering.space == LatentSpace('w', {'eyes': (0, 2)})
    code = read_tested_codes(run_dir, 515)[1][0]
    assert steering.group_of(code) == 'all'
    cnn = load_property_score_cnn(run_dir.parent / 'cnn.pth')
    assert steering.hold is not None  # the run held each code's directions to it
    assert steering.hold.reach == REACH
    for i in (3, 40):
        np.testing.assert_array_equal(steering.render(code, *weight_grid()[i]),
                                      pipeline_faces(run_dir, steering, code, 'all', [i], steering.space, cnn)[0])
    held = steering.code_directions(code)
    assert not np.allclose(held, np.stack([steering.directions[p, 'all'] for p in CORE_PROPERTIES]))


def test_a_run_held_before_the_reach_existed_is_steered_as_it_was_made(tiny_vectorfind_runs, tmp_path):
    """Its config has no hold_reach: it held the fitted directions themselves (reach 0)."""
    run_dir = tmp_path / 'run'
    shutil.copytree(tiny_vectorfind_runs['w'], run_dir, ignore=shutil.ignore_patterns('samples'))
    config = json.loads((run_dir / 'config.json').read_text())
    del config['hold_reach']
    (run_dir / 'config.json').write_text(json.dumps(config))
    assert Steering.from_run(run_dir).hold.reach == 0.0


def test_group_of_an_untested_code_follows_the_pipelines_rule(grouped, tmp_path):
    """Without the test's records, a code's group is computed as the test computed it."""
    run_dir, _, results, codes = grouped
    shutil.copytree(run_dir, tmp_path / 'run', ignore=shutil.ignore_patterns('samples', 'image_generation_report'))
    steering = Steering.from_run(tmp_path / 'run')
    assert [steering.group_of(code) for code in codes] == list(results.group_name)


@pytest.mark.parametrize('call, message', [
    (lambda s, c: s.render(c[:512]), r'shape \[515\] \(z_dim \+ label_dim\), got shape \[512\]'),
    (lambda s, c: s.render(np.stack([c, c])), r'got shape \[2, 515\]'),
    (lambda s, c: s.render(np.full(515, np.nan)), 'NaN or infinite'),
    (lambda s, c: s.render(c, eyes=np.inf), 'weights: expected finite numbers'),
    (lambda s, c: s.render(c, mouth='open'), 'weights: expected finite numbers'),
    (lambda s, c: s.strip(c, 'nose', [1.0]), r"property 'nose': expected one of \('eyes', 'mouth', 'pose'\)"),
    (lambda s, c: s.strip(c, 'eyes', []), 'expected finite numbers'),
    (lambda s, c: s.strip(c, 'eyes', [0.0, np.nan]), 'expected finite numbers'),
])
def test_bad_input_says_what_was_expected(grouped, call, message):
    _, steering, _, codes = grouped
    with pytest.raises(ValueError, match=message):
        call(steering, codes[0])


@pytest.mark.parametrize('missing', ['config.json', 'stylegan_gen_vector_find_v6.pth',
                                     'property_score_vectors/mouth_change_w_vector_all.csv'])
def test_an_incomplete_run_folder_names_the_missing_file(tiny_vectorfind_runs, tmp_path, missing):
    shutil.copytree(tiny_vectorfind_runs['w'], tmp_path / 'run', ignore=shutil.ignore_patterns('samples'))
    (tmp_path / 'run' / missing).unlink()
    with pytest.raises(FileNotFoundError, match=f'lacks {missing}'):
        Steering.from_run(tmp_path / 'run')
    with pytest.raises(FileNotFoundError, match='is not a folder'):
        Steering.from_run(tmp_path / 'nowhere')


def test_finetune_faces_for_labels(tiny_finetune_run):
    run = FineTuneRun.from_run(tiny_finetune_run)
    labels = [[-1.6, 0.0, 0.0], [1.6, 0.0, 0.0], [0.0, 1.6, 2.4]]
    faces = run.render(labels, psi=0.5, seed=3)
    assert faces.shape == (3, 16, 16, 3) and faces.dtype == np.uint8
    np.testing.assert_array_equal(run.render(labels[1], psi=0.5, seed=3), faces[1])  # one label, one face
    assert not np.array_equal(run.render(labels, psi=0.5, seed=4), faces)  # another seed, another face
    assert not np.array_equal(run.render(labels, psi=1.0, seed=3), faces)
    log = training_log(tiny_finetune_run)
    assert list(log.batch) == [1]


@pytest.mark.parametrize('labels, psi, message', [
    ([0.0, 0.0], 0.5, r'labels of shape \[N, 3\] or \[3\]'),
    ([[0.0, 0.0, np.nan]], 0.5, 'finite'),
    ([[0.0, 0.0, 0.0]], 1.5, r'psi must be a number in \[0, 1\]'),
    ([[0.0, 0.0, 0.0]], None, r'psi must be a number in \[0, 1\]'),
])
def test_finetune_bad_input_says_what_was_expected(tiny_finetune_run, labels, psi, message):
    with pytest.raises(ValueError, match=message):
        FineTuneRun.from_run(tiny_finetune_run).render(labels, psi=psi)


def test_finetune_missing_generator_is_named(tiny_finetune_run, tmp_path):
    shutil.copy(tiny_finetune_run / 'config.json', tmp_path / 'config.json')
    with pytest.raises(FileNotFoundError, match='lacks generator.pth'):
        FineTuneRun.from_run(tmp_path)


def test_published_shapes_render_at_their_own_size():
    """Nothing assumes the default world's 64 px: the published 256 px v6 and v5 shapes (random
    weights) render at 256 px."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    directions = {(prop, 'all'): rng.standard_normal(515).astype(np.float32) for prop in CORE_PROPERTIES}
    face = Steering(Generator(architecture('v6')), directions).render(rng.standard_normal(515), eyes=1.0)
    assert face.shape == (256, 256, 3) and face.dtype == np.uint8
    face = FineTuneRun(Generator(architecture('v5'))).render([1.6, -1.2, 0.0], psi=0.5)
    assert face.shape == (256, 256, 3) and face.dtype == np.uint8


def test_a_held_run_recorded_what_its_steering_directions_score(tiny_vectorfind_runs):
    """The pipeline's test moved the code along the directions held to it: scoring the code's
    edits along `code_directions` gives the correlations it recorded."""
    run_dir = tiny_vectorfind_runs['w']
    steering = Steering.from_run(run_dir)
    results, codes = read_tested_codes(run_dir, steering.code_dim)
    cnn = load_property_score_cnn(run_dir.parent / 'cnn.pth')
    _, corr = score_code_edits(steering.editor, cnn, codes[0], steering.code_directions(codes[0]))
    for prop in CORE_PROPERTIES:
        assert round(corr[prop], 4) == pytest.approx(results[f'{prop}_corr'][0], abs=1e-4)
