"""Characters (`characters/`): on a linear stand-in generator and CNN, where every score is linear
in the code, requested values are reached by the solve and by the cached lattice, her reach is
the span her directions cover and is refused beyond, and a character file reads back; on a tiny
run, picking and animating write what they say, the same frames twice, and bad input fails in one
line with nothing written."""
import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image, ImageSequence

from characters import animate, cast as cast_command
from characters.cast import Cast
from characters.character import (HOLD_TOLERANCE, SWEEP_POINTS, TOLERANCE, UNSTEERED_COLUMNS, CharacterFile,
                                  build)
from characters.timeline import Timeline
from linear_scores import LinearGenerator, LinearScores
from scores.properties import CORE_COLUMNS, CORE_PROPERTIES, PROPERTY_NAMES
from vectorfind.latents import draw_codes, images
from vectorfind.spaces import LatentSpace
from vectorfind.steering import ALL_SAMPLES, Steering


@pytest.fixture(scope='module')
def linear_cast():
    generator = LinearGenerator(z_dim=64).eval()
    cnn = LinearScores(3 * generator.size ** 2)
    code_dim = generator.z_dim + generator.label_dim
    with torch.no_grad():
        spread = cnn.score(images(generator, draw_codes(200, code_dim, 1, 0, 0), 'cpu'), PROPERTY_NAMES).std(0).numpy()
    rng = np.random.default_rng(0)
    directions = {(prop, ALL_SAMPLES): vector / np.linalg.norm(vector)
                  for prop, vector in zip(CORE_PROPERTIES, rng.standard_normal((3, code_dim)).astype(np.float32))}
    return Cast(Steering(generator, directions, LatentSpace('z')), cnn, spread, table_path=None)


@pytest.fixture(scope='module')
def linear_character(linear_cast):
    code = draw_codes(1, linear_cast.steering.code_dim, 2, 0, 0)[0]
    return build(linear_cast, code)


def met(character, targets, scores):
    spread = character.cast.spread
    steered = np.abs(scores[:, CORE_COLUMNS] - targets) / spread[CORE_COLUMNS]
    held = np.abs(scores[:, UNSTEERED_COLUMNS] - character.neutral[UNSTEERED_COLUMNS]) / spread[UNSTEERED_COLUMNS]
    return (steered <= TOLERANCE).all() and (held <= HOLD_TOLERANCE).all()


def inside(character, n, seed=0):
    """Requests in the middle half of her reach: each reach is one property's alone, and near its
    corners a mix may need a weight beyond the sweep."""
    low, high = character.stored.reach.T
    middle, half = (low + high) / 2, (high - low) / 4
    return np.random.default_rng(seed).uniform(middle - half, middle + half, (n, len(CORE_PROPERTIES)))


def test_on_a_linear_world_the_reach_is_the_whole_span(linear_character):
    """Linear scores rise without end and the directions leave the unsteered ones still, so
    nothing stops a direction before the sweep's end."""
    assert all(low < high for low, high in linear_character.reach.values())
    assert linear_character.spans == [(0, SWEEP_POINTS - 1)] * 3


def test_requested_values_are_reached_and_the_rest_held(linear_character):
    targets = inside(linear_character, 6)
    faces, scores, unknowns = linear_character.render_many(targets)
    assert faces.shape[0] == 6 and faces.dtype == np.uint8
    assert met(linear_character, targets, scores)


def test_the_cached_lattice_meets_requests_without_the_cnn(linear_character):
    targets = inside(linear_character, 6, seed=1)
    scores = linear_character.cast.scored(linear_character, linear_character.unknowns_for(targets), 6)[1]
    assert met(linear_character, targets, scores)


def test_a_value_beyond_the_reach_is_refused_and_clamped_in_frames(linear_character):
    low, high = linear_character.reach['mouth']
    with pytest.raises(ValueError, match=r'mouth .* outside this character\'s reach'):
        linear_character.render(mouth=high + (high - low))
    neutral = linear_character.neutral[CORE_COLUMNS]
    beyond, at_end = neutral.copy(), neutral.copy()
    beyond[1], at_end[1] = high + (high - low), high
    assert np.array_equal(*linear_character.frames(np.stack([beyond, at_end])))


def test_a_character_file_reads_back_and_refuses_another_generator(linear_cast, linear_character, tmp_path):
    path = tmp_path / 'character_00.npz'
    linear_character.stored.save(path)
    again = linear_cast.bound(CharacterFile.load(path), path)
    targets = inside(linear_character, 3, seed=2)
    assert np.array_equal(again.frames(targets), linear_character.frames(targets))
    other = Cast(Steering(LinearGenerator(z_dim=64, seed=9), linear_cast.steering.directions, LatentSpace('z')),
                 linear_cast.cnn, linear_cast.spread, None)
    with pytest.raises(ValueError, match='another generator'):
        other.bound(CharacterFile.load(path), path)


# A tiny run: picking and animating end to end.

@pytest.fixture(scope='module')
def run_with_characters(tiny_vectorfind_runs, tmp_path_factory):
    run_dir = shutil.copytree(tiny_vectorfind_runs['w'], tmp_path_factory.mktemp('characters') / 'run',
                              ignore=shutil.ignore_patterns('samples'))
    assert cast_command.main([str(run_dir), '--n', '1', '--candidates', '1']) in (0, None)
    return run_dir


def write_timeline(path, **changes):
    timeline = {'fps': 10, 'seconds': 1.0, 'seed': 3, 'base': {'mouth': 0.2},
                'pulses': [{'property': 'mouth', 'start': 0.1, 'to': 0.8, 'ease_in': 0.3, 'hold': 0.1,
                            'ease_out': 0.3}],
                'blinks': {'value': -1.0, 'frames': [2, 3], 'every': [0.3, 0.5]},
                'jitter': {'pose': 0.05, 'period': 0.5}, **changes}
    path.write_text(json.dumps(timeline).replace('"NaN"', 'NaN'))
    return path


def gif_milliseconds(path):
    with Image.open(path) as gif:
        return sum(frame.info['duration'] for frame in ImageSequence.Iterator(gif))


def test_picking_writes_characters_a_table_and_a_contact_sheet(run_with_characters):
    folder = run_with_characters / 'characters'
    table = pd.read_csv(folder / 'characters.csv')
    assert list(table.character) == [0] and {'case', 'passed', 'covered', 'eyes_low', 'pose_high'} <= set(table)
    assert Image.open(folder / 'contact_sheet.png').size[0] == 7 * 16
    assert (folder / 'config.json').exists() and (folder / 'candidates' / 'case_0000.npz').exists()
    she = Cast.from_run(run_with_characters).character(0)
    assert she.stored.case == 0


def test_an_animation_writes_its_frames_table_and_sheet_and_repeats_itself(run_with_characters, tmp_path):
    timeline = write_timeline(tmp_path / 'talk.json')
    out = tmp_path / 'anim' / 'talk.gif'
    assert animate.main([str(run_with_characters), '--timeline', str(timeline), '--out', str(out),
                         '--every', '5']) in (0, None)
    frames = pd.read_csv(tmp_path / 'anim' / 'talk_frames.csv')
    assert len(frames) == 10 and {'mouth_requested', 'mouth_used', 'mouth_read'} <= set(frames)
    assert gif_milliseconds(out) == 10 * 100  # Pillow merges repeated frames into longer ones
    assert Image.open(tmp_path / 'anim' / 'talk_sheet.png').size == (10 * 16, 16)
    assert json.loads((tmp_path / 'anim' / 'talk_config.json').read_text())['timeline']['seed'] == 3
    she = Cast.from_run(run_with_characters).character(0)
    values = Timeline.from_dict(json.loads(timeline.read_text())).values()
    assert np.array_equal(animate.render_frames(she, values, 4, progress=False),
                          animate.render_frames(she, values, 4, progress=False))


@pytest.mark.parametrize('problem, arguments, changes', [
    ('unknown property', [], {'base': {'nose': 0.1}}),
    ('negative duration', [], {'pulses': [{'property': 'mouth', 'start': 0.1, 'to': 0.8, 'ease_in': -0.3,
                                           'hold': 0.1, 'ease_out': 0.3}]}),
    ('NaN value', [], {'base': {'eyes': 'NaN'}}),
    ('no such character', ['--character', '3'], {}),
])
def test_bad_input_fails_in_one_line_and_writes_nothing(run_with_characters, tmp_path, problem, arguments, changes):
    timeline = write_timeline(tmp_path / 'talk.json', **changes)
    out = tmp_path / 'anim' / 'talk.gif'
    with pytest.raises(SystemExit) as exit:
        animate.main([str(run_with_characters), '--timeline', str(timeline), '--out', str(out), *arguments])
    message = str(exit.value.code)
    assert len(message.splitlines()) == 1 and message != '0', problem
    assert not os.path.exists(tmp_path / 'anim') or not os.listdir(tmp_path / 'anim')


def test_a_run_without_characters_fails_in_one_line(tiny_vectorfind_runs, tmp_path):
    timeline = write_timeline(tmp_path / 'talk.json')
    with pytest.raises(SystemExit) as exit:
        animate.main([str(tiny_vectorfind_runs['grouped']), '--timeline', str(timeline),
                      '--out', str(tmp_path / 'talk.gif')])
    assert 'has no characters' in str(exit.value.code) and not (tmp_path / 'talk.gif').exists()


def test_smoothness_finds_a_flicker_and_a_reversal():
    timeline = Timeline.from_dict({'fps': 10, 'seconds': 2.0, 'base': {'mouth': 0.0},
                                   'pulses': [{'property': 'mouth', 'start': 0.0, 'to': 1.0, 'ease_in': 1.0,
                                               'hold': 0.0, 'ease_out': 1.0}]})
    read = np.r_[np.linspace(0, 1, 11), np.linspace(0.9, 0, 9)]
    change = np.r_[0.0, np.full(19, 1.0)]
    table = pd.DataFrame({'mouth_read': read, 'pixel_change': change, 'blinking': np.zeros(20, bool)})
    smooth = animate.smoothness(timeline, table, np.ones(7))
    assert smooth == {'flicker': 1.0, 'local flicker': 1.0, 'reversal': 0.0}
    read[5], change[12] = 0.2, 5.0  # a fall of 0.2 along the ease-in, one frame jumping
    smooth = animate.smoothness(timeline, table.assign(mouth_read=read, pixel_change=change), np.ones(7))
    assert smooth['reversal'] == pytest.approx(0.2) and smooth['local flicker'] == pytest.approx(5.0)
    blinking = np.zeros(20, bool)
    blinking[12] = True  # a blink's quick change is not a flicker
    assert animate.smoothness(timeline, table.assign(pixel_change=change, blinking=blinking), np.ones(7))['flicker'] == 1.0


def test_an_mp4_where_imageio_is_installed(run_with_characters, tmp_path):
    pytest.importorskip('imageio_ffmpeg')
    out = tmp_path / 'talk.mp4'
    animate.main([str(run_with_characters), '--timeline', str(write_timeline(tmp_path / 'talk.json')), '--out', str(out)])
    assert out.stat().st_size > 0


def test_an_mp4_without_imageio_is_a_usage_error(run_with_characters, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(animate.importlib.util, 'find_spec', lambda name: None)
    with pytest.raises(SystemExit) as exit:
        animate.main([str(run_with_characters), '--timeline', str(write_timeline(tmp_path / 'talk.json')),
                      '--out', str(tmp_path / 'talk.mp4')])
    assert exit.value.code == 2 and 'pip install imageio imageio-ffmpeg' in capsys.readouterr().err
    assert not (tmp_path / 'talk.mp4').exists()
