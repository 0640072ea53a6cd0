"""The character timeline: eased pulses, seeded blinks and jitter, one-line errors for bad input."""
import json
import re
from pathlib import Path

import numpy as np
import pytest

import characters.timeline as timeline_module
from characters.timeline import Timeline, read_timeline
from scores.properties import CORE_PROPERTIES

MOUTH, EYES, POSE = (CORE_PROPERTIES.index(name) for name in ('mouth', 'eyes', 'pose'))
TALK = Path(__file__).resolve().parent.parent / 'characters' / 'talk.json'
BLINKS = {'value': -1.8, 'frames': [4, 13], 'every': [1.0, 2.0]}


def timeline(**parts):
    return Timeline.from_dict({'fps': 25, 'seconds': 8.0, **parts}, source='talk.json')


def mouth_pulse(**changes):
    return {'property': 'mouth', 'start': 1.0, 'to': 1.2, 'ease_in': 1.2, 'hold': 0.4,
            'ease_out': 1.2, **changes}


def runs(mask):
    """(first, length) of each run of True in `mask`."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return list(zip(starts, ends - starts))


def test_a_pulse_eases_to_its_value_holds_and_returns():
    line = timeline(base={'mouth': -0.5}, pulses=[mouth_pulse()])
    mouth = line.values()[:, MOUTH]
    (name, first, last), = line.pulse_spans()
    assert (name, first, last) == ('mouth', 25, 55)
    assert mouth[:first + 1] == pytest.approx(-0.5)
    assert mouth[last:last + 10] == pytest.approx(1.2)  # the hold: 0.4 s is 10 frames
    fall = 65, 95  # 2.6 s to 3.8 s
    assert mouth[fall[1]:] == pytest.approx(-0.5)
    assert np.all(np.diff(mouth[first:last + 1]) > 0)
    assert np.all(np.diff(mouth[fall[0]:fall[1] + 1]) < 0)
    steps = np.diff(mouth[first:last + 1])
    assert steps[0] < 0.1 * steps.max() and steps[-1] < 0.1 * steps.max()  # zero slope at the ends
    assert np.all(line.values()[:, [EYES, POSE]] == 0.0)


def test_overlapping_pulses_add_their_offsets():
    both = timeline(base={'mouth': -0.5},
                    pulses=[mouth_pulse(), mouth_pulse(start=1.2, to=0.0)]).values()[:, MOUTH]
    one = timeline(base={'mouth': -0.5}, pulses=[mouth_pulse()]).values()[:, MOUTH]
    other = timeline(base={'mouth': -0.5},
                     pulses=[mouth_pulse(start=1.2, to=0.0)]).values()[:, MOUTH]
    assert both == pytest.approx(one + other + 0.5)
    assert both.max() == pytest.approx(1.2 + 0.5)  # where both hold


def test_blinks_last_their_frames_close_fully_and_follow_the_seed():
    eyes = timeline(blinks=BLINKS).values()[:, EYES]
    blinks = [length for first, length in runs(eyes < 0) if first + length < len(eyes)]
    assert len(blinks) >= 3
    assert all(4 <= length <= 13 for length in blinks)
    assert eyes.min() == pytest.approx(-1.8)
    assert np.array_equal(eyes, timeline(blinks=BLINKS).values()[:, EYES])
    assert not np.array_equal(eyes, timeline(blinks=BLINKS, seed=1).values()[:, EYES])


def test_a_blink_draws_the_eyes_from_a_pulse_to_its_value():
    eyes = timeline(pulses=[mouth_pulse(property='eyes', start=0.0, to=1.0, hold=8.0)],
                    blinks=BLINKS).values()[:, EYES]
    assert eyes.min() == pytest.approx(-1.8)
    assert eyes.max() == pytest.approx(1.0)


def test_jitter_stays_within_its_amplitude_and_follows_the_seed():
    jitter = {'eyes': 0.05, 'pose': 0.08, 'period': 1.5}
    values = timeline(jitter=jitter).values()
    for column, amplitude in ((EYES, 0.05), (POSE, 0.08)):
        sway = np.abs(values[:, column])
        assert 0.2 * amplitude < sway.max() <= amplitude
        # Waves of at most 1.5 / period = 1 Hz move at most 2 pi / 25 of the amplitude a frame.
        assert np.abs(np.diff(values[:, column])).max() < 0.26 * amplitude
    assert np.all(values[:, MOUTH] == 0.0)
    assert np.array_equal(values, timeline(jitter=jitter).values())
    assert not np.array_equal(values, timeline(jitter=jitter, seed=1).values())


def test_the_blinks_do_not_change_with_the_jitter():
    eyes = timeline(blinks=BLINKS).values()[:, EYES]
    swaying = timeline(blinks=BLINKS, jitter={'pose': 0.1, 'period': 1.0}).values()[:, EYES]
    assert np.array_equal(eyes, swaying)


def test_to_dict_reads_back_as_the_same_timeline():
    line = read_timeline(TALK)
    assert Timeline.from_dict(json.loads(json.dumps(line.to_dict()))) == line


def test_the_docstring_example_is_a_timeline():
    example = timeline_module.__doc__.split('\n    {\n', 1)[1].split('\n    }\n', 1)[0]
    line = Timeline.from_dict(json.loads('{' + example + '}'))
    assert line.values().shape == (200, 3)


def test_the_shipped_talk_file_loads():
    line = read_timeline(TALK)
    assert line.frames == 200
    values = line.values()
    assert values.shape == (200, 3) and values.dtype == np.float64
    assert sorted({name for name, _, _ in line.pulse_spans()}) == ['eyes', 'mouth', 'pose']
    assert line.blinks is not None and line.jitter is not None


@pytest.mark.parametrize('parts, message', [
    ({'speed': 1}, r"^talk\.json: speed is unknown; expected one of fps, seconds"),
    ({'pulses': [mouth_pulse(), mouth_pulse(property='nose')]},
     r"^talk\.json: pulses\[1\]\.property 'nose' is unknown; expected one of eyes, mouth, pose$"),
    ({'pulses': [mouth_pulse(strat=1.0)]}, r"pulses\[0\]\.strat is unknown"),
    ({'pulses': [{'property': 'mouth', 'start': 1.0}]}, r"pulses\[0\]\.to is missing"),
    ({'pulses': [mouth_pulse(hold=-0.1)]}, r"pulses\[0\]\.hold must be at least 0"),
    ({'pulses': [mouth_pulse(ease_in=float('inf'))]}, r"pulses\[0\]\.ease_in must be a finite"),
    ({'pulses': [mouth_pulse(to='high')]}, r"pulses\[0\]\.to must be a number, got 'high'"),
    ({'pulses': [mouth_pulse(start=9.0)]}, r"pulses\[0\]\.start 9 is not before the end"),
    ({'pulses': {'property': 'mouth'}}, r"talk\.json: pulses must be a list"),
    ({'pulses': ['mouth']}, r"talk\.json: pulses\[0\] must be a JSON object"),
    ({'base': {'nose': 1.0}}, r"talk\.json: base\.nose is unknown; expected one of eyes, mouth"),
    ({'base': {'eyes': float('nan')}}, r"base\.eyes must be a finite number, got nan"),
    ({'base': {'eyes': True}}, r"base\.eyes must be a number"),
    ({'jitter': {'nose': 0.1, 'period': 1.0}}, r"jitter\.nose is unknown"),
    ({'jitter': {'pose': -0.1, 'period': 1.0}}, r"jitter\.pose must be at least 0"),
    ({'jitter': {'pose': 0.1}}, r"jitter\.period is missing"),
    ({'jitter': {'pose': 0.1, 'period': 0}}, r"jitter\.period must be above 0"),
    ({'blinks': {**BLINKS, 'frames': [0, 4]}}, r"blinks\.frames\[0\] must be at least 1"),
    ({'blinks': {**BLINKS, 'frames': [6, 4]}},
     r"blinks\.frames \[6, 4\] must be \[min, max\] with 1 <="),
    ({'blinks': {**BLINKS, 'frames': [4.5, 6]}}, r"blinks\.frames\[0\] must be a whole number"),
    ({'blinks': {**BLINKS, 'frames': [4]}}, r"blinks\.frames must be a list of 2"),
    ({'blinks': {**BLINKS, 'every': [0.0, 2.0]}}, r"blinks\.every\[0\] must be above 0"),
    ({'blinks': {**BLINKS, 'every': [3.0, 2.0]}},
     r"blinks\.every \[3\.0, 2\.0\] must be \[min, max\] with 0 <"),
    ({'blinks': {**BLINKS, 'value': None}}, r"blinks\.value must be a number"),
    ({'fps': 0}, r"talk\.json: fps must be above 0"),
    ({'seconds': -1.0}, r"talk\.json: seconds must be above 0"),
    ({'seconds': 0.01}, r"talk\.json: seconds 0\.01 at fps 25 makes no frame"),
    ({'seed': -1}, r"talk\.json: seed must be at least 0"),
    ({'seed': 'x'}, r"talk\.json: seed must be a whole number"),
])
def test_bad_input_names_the_key(parts, message):
    with pytest.raises(ValueError, match=message) as raised:
        timeline(**parts)
    assert '\n' not in str(raised.value)


def test_a_missing_required_key_is_named():
    with pytest.raises(ValueError, match=r'^talk\.json: seconds is missing'):
        Timeline.from_dict({'fps': 25}, source='talk.json')


def test_a_file_with_nan_names_the_file_and_key(tmp_path):
    path = tmp_path / 'talk.json'
    path.write_text('{"fps": 25, "seconds": 2, "pulses": [{"property": "mouth", "start": 0.5,'
                    ' "to": NaN, "ease_in": 0.5, "hold": 0, "ease_out": 0.5}]}')
    expected = rf'^{re.escape(str(path))}: pulses\[0\]\.to must be a finite number, got nan$'
    with pytest.raises(ValueError, match=expected):
        read_timeline(path)


@pytest.mark.parametrize('text, message', [
    ('{"fps": 25, "seconds": ', 'not valid JSON'),
    ('[25, 8.0]', 'must be a JSON object, got list'),
])
def test_a_file_that_is_not_a_json_object_names_the_file(tmp_path, text, message):
    path = tmp_path / 'talk.json'
    path.write_text(text)
    with pytest.raises(ValueError, match=rf'^{re.escape(str(path))}:? {message}'):
        read_timeline(path)


def test_a_missing_file_names_its_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='absent.json'):
        read_timeline(tmp_path / 'absent.json')
