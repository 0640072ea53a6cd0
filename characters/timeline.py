"""A talking character's timeline: the eyes, mouth and pose values a virtual-human app asks the
generator for, frame by frame, written as a small JSON file.

`Timeline.values()` is a float64 array [frames, 3], its columns in the order of
`scores.properties.CORE_PROPERTIES` ('eyes', 'mouth', 'pose'), in z-score units of the score table
(0 is about the world's median, -2..2 the typical range). A complete file (`characters/talk.json`
adds an eyes pulse):

    {
      "fps": 25,
      "seconds": 8.0,
      "seed": 0,
      "base": {"eyes": 0.0, "mouth": -0.5, "pose": 0.0},
      "pulses": [
        {"property": "mouth", "start": 0.5, "to": 1.2,
         "ease_in": 1.2, "hold": 0.4, "ease_out": 1.2},
        {"property": "mouth", "start": 1.5, "to": 0.3,
         "ease_in": 0.6, "hold": 0.0, "ease_out": 0.6},
        {"property": "pose", "start": 4.0, "to": 1.0,
         "ease_in": 1.0, "hold": 1.5, "ease_out": 1.0}
      ],
      "blinks": {"value": -1.8, "frames": [4, 13], "every": [2.0, 5.0]},
      "jitter": {"eyes": 0.05, "mouth": 0.0, "pose": 0.08, "period": 1.5}
    }

- `fps` (above 0) and `seconds` (above 0) are required; the timeline has round(fps * seconds)
  frames, frame k at time k / fps. `seed` (a whole number, at least 0, default 0) seeds the blinks
  and the jitter: the same seed gives the same values.
- `base`: each property's resting value; a property left out rests at 0.0.
- `pulses` (every key required): the property eases from its base to `to` over `ease_in`
  seconds from `start` (a raised cosine, so with zero slope at both ends), holds it for `hold`
  seconds and eases back to the base over `ease_out` seconds. Pulses of one property that overlap
  add their offsets (to - base) to the base. A zero ease is a step.
- `blinks` (every key required): from time 0, blinks start at gaps drawn uniformly from `every`
  [min, max] seconds; each lasts a whole number of frames drawn uniformly from `frames`
  [min, max] (both included; the app this replaces drew 4 to 13). In a blink the eyes close along a
  sin^2 curve to `value`, reached on the middle frame (or two), and open again; the blink's weight
  blends the eyes from whatever the pulses and jitter made them toward `value`.
- `jitter`: a small smooth idle sway of each property, the mean of a few sinusoids with seeded
  frequencies around 1 / `period` (required, seconds) and seeded phases, so that it never moves a
  property further than that property's amplitude (z units, default 0: no sway).
- `pulses`, `blinks` and `jitter` may be left out.

Times are in seconds except the blink lengths, which are in frames. `Timeline.from_dict` (and
`read_timeline`, which reads a file) checks everything before any value is made and raises a
ValueError of one line naming the source, the key and what was expected, e.g.
"talk.json: pulses[1].property 'nose' is unknown; expected one of eyes, mouth, pose".
`Timeline.to_dict()` gives the dict back, for a run to write the timeline it used beside its
outputs.
"""
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from common.validation import (InputError, check_choice, check_count, check_finite,
                               check_not_negative, check_positive)
from scores.properties import CORE_PROPERTIES

TOP_KEYS = ('fps', 'seconds', 'seed', 'base', 'pulses', 'blinks', 'jitter')
PULSE_KEYS = ('property', 'start', 'to', 'ease_in', 'hold', 'ease_out')
BLINK_KEYS = ('value', 'frames', 'every')
JITTER_KEYS = CORE_PROPERTIES + ('period',)
# Three waves of unrelated frequencies are enough for the sway not to look periodic.
SWAY_WAVES = 3
# Each random part draws from its own stream of the seed, so that adding jitter to one property
# changes neither the blinks nor the other properties' sway.
BLINK_STREAM, SWAY_STREAM = 0, 1


def _ease(progress):
    """The raised cosine from 0 to 1 over progress 0..1: zero slope at both ends."""
    return 0.5 - 0.5 * np.cos(np.pi * progress)


def _ramp(times, begin, length):
    """0 before `begin`, eased up to 1 over `length` seconds, 1 after; a step where length is 0."""
    if length == 0:
        return (times >= begin).astype(np.float64)
    return _ease(np.clip((times - begin) / length, 0.0, 1.0))


@dataclass(frozen=True)
class Pulse:
    """One eased excursion of a property to `to` and back (module docstring)."""
    property: str
    start: float
    to: float
    ease_in: float
    hold: float
    ease_out: float

    def envelope(self, times):
        """The pulse's share of its offset at each time: 0, eased to 1, held, eased back to 0."""
        fall = self.start + self.ease_in + self.hold
        return _ramp(times, self.start, self.ease_in) - _ramp(times, fall, self.ease_out)


def _blink_shape(length):
    """The weights of one blink of `length` frames: sin^2 up to 1 on the middle frame (the middle
    two for an even length, so that every blink shuts fully) and down again."""
    half = (length + 1) // 2
    steps = np.minimum(np.arange(1, length + 1), np.arange(length, 0, -1))
    return np.sin(0.5 * np.pi * steps / half) ** 2


@dataclass(frozen=True)
class Blinks:
    """Seeded blinks of the eyes to `value`: lengths in frames, gaps between starts in seconds."""
    value: float
    frames: tuple
    every: tuple

    def weights(self, frames, fps, seed):
        """Each frame's blink weight [frames], 0 (open) to 1 (at `value`)."""
        rng = np.random.default_rng([seed, BLINK_STREAM])
        weight = np.zeros(frames)
        time = rng.uniform(*self.every)
        while time < frames / fps:
            start = round(time * fps)
            shape = _blink_shape(int(rng.integers(self.frames[0], self.frames[1], endpoint=True)))
            span = weight[start:start + len(shape)]  # cut where the timeline ends
            np.maximum(span, shape[:len(span)], out=span)  # blinks that meet stay shut, not doubled
            time += rng.uniform(*self.every)
        return weight


@dataclass(frozen=True)
class Jitter:
    """Seeded idle sway: `amplitudes` per property in CORE_PROPERTIES order, `period` in seconds."""
    amplitudes: tuple
    period: float

    def motion(self, times, seed):
        """The sway [len(times), 3] added to the values."""
        return np.stack([self._sway(times, amplitude, np.random.default_rng([seed, SWAY_STREAM, k]))
                         for k, amplitude in enumerate(self.amplitudes)], axis=1)

    def _sway(self, times, amplitude, rng):
        frequencies = rng.uniform(0.5, 1.5, SWAY_WAVES) / self.period
        phases = rng.uniform(0.0, 2 * np.pi, SWAY_WAVES)
        # The mean of the waves, not their sum, so that the amplitude bounds the sway.
        waves = np.sin(2 * np.pi * np.outer(times, frequencies) + phases)
        return amplitude * waves.mean(axis=1)


@dataclass(frozen=True)
class Timeline:
    """Requested eyes, mouth and pose values over time (module docstring); build it with
    `from_dict` or `read_timeline`, which check the input. `base` is in CORE_PROPERTIES order."""
    fps: float
    seconds: float
    seed: int
    base: tuple
    pulses: tuple = ()
    blinks: Blinks | None = None
    jitter: Jitter | None = None

    @property
    def frames(self):
        """round(fps * seconds)."""
        return round(self.fps * self.seconds)

    def times(self):
        """Each frame's time in seconds [frames]."""
        return np.arange(self.frames) / self.fps

    def values(self):
        """The requested values, float64 [frames, 3], columns in CORE_PROPERTIES order."""
        times = self.times()
        values = np.tile(np.asarray(self.base, dtype=np.float64), (self.frames, 1))
        for pulse in self.pulses:
            column = CORE_PROPERTIES.index(pulse.property)
            values[:, column] += (pulse.to - self.base[column]) * pulse.envelope(times)
        if self.jitter is not None:
            values += self.jitter.motion(times, self.seed)
        if self.blinks is not None:
            weight = self.blinks.weights(self.frames, self.fps, self.seed)
            eyes = CORE_PROPERTIES.index('eyes')
            values[:, eyes] += weight * (self.blinks.value - values[:, eyes])
        return values

    def blinking(self):
        """[frames] bool: the frames inside a blink."""
        if self.blinks is None:
            return np.zeros(self.frames, dtype=bool)
        return self.blinks.weights(self.frames, self.fps, self.seed) > 0

    def pulse_spans(self):
        """(property, first_frame, last_frame) of each pulse's ease-in: the frames whose times lie
        in [start, start + ease_in], within the timeline; first > last where none does."""
        times = self.times()
        return [(pulse.property, int(np.searchsorted(times, pulse.start, side='left')),
                 int(np.searchsorted(times, pulse.start + pulse.ease_in, side='right')) - 1)
                for pulse in self.pulses]

    def to_dict(self):
        """The timeline as `from_dict` reads it (JSON-ready)."""
        data = {'fps': self.fps, 'seconds': self.seconds, 'seed': self.seed,
                'base': dict(zip(CORE_PROPERTIES, self.base)),
                'pulses': [asdict(pulse) for pulse in self.pulses]}
        if self.blinks is not None:
            data['blinks'] = {'value': self.blinks.value, 'frames': list(self.blinks.frames),
                              'every': list(self.blinks.every)}
        if self.jitter is not None:
            data['jitter'] = {**dict(zip(CORE_PROPERTIES, self.jitter.amplitudes)),
                              'period': self.jitter.period}
        return data

    @classmethod
    def from_dict(cls, data, source='timeline'):
        """The timeline that `data` (the JSON object of the module docstring) describes; a
        ValueError naming `source` and the key when any of it does not fit."""
        top = _Place(source)
        _check_keys(data, top, TOP_KEYS, required=('fps', 'seconds'))
        fps = check_positive(data['fps'], str(top.at('fps')))
        seconds = check_positive(data['seconds'], str(top.at('seconds')))
        if round(fps * seconds) < 1:
            raise InputError(f'{top.at("seconds")} {seconds:g} at fps {fps:g} makes no frame;'
                             f' expected at least one')
        pulses = _list(data.get('pulses', []), top.at('pulses'))
        return cls(fps=fps, seconds=seconds,
                   seed=check_count(data.get('seed', 0), str(top.at('seed')), minimum=0),
                   base=_base(data.get('base', {}), top.at('base')),
                   pulses=tuple(_pulse(pulse, top.at('pulses').at(k), seconds)
                                for k, pulse in enumerate(pulses)),
                   blinks=_blinks(data['blinks'], top.at('blinks')) if 'blinks' in data else None,
                   jitter=_jitter(data['jitter'], top.at('jitter')) if 'jitter' in data else None)


def read_timeline(path):
    """The timeline in the JSON file at `path`; its errors name the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
    except ValueError as error:  # JSON and UTF-8 decoding errors both
        raise InputError(f'{path}: not valid JSON ({error})') from None
    return Timeline.from_dict(data, source=str(path))


@dataclass(frozen=True)
class _Place:
    """Where a value sits in the input, as messages name it: 'talk.json: pulses[1].to'."""
    source: str
    path: str = ''

    def at(self, key):
        """The place of a key (str) or list index (int) inside this one."""
        if isinstance(key, int):
            return _Place(self.source, f'{self.path}[{key}]')
        return _Place(self.source, f'{self.path}.{key}' if self.path else str(key))

    def __str__(self):
        return f'{self.source}: {self.path}' if self.path else self.source


def _check_keys(data, place, allowed, required=()):
    if not isinstance(data, dict):
        raise InputError(f'{place} must be a JSON object, got {type(data).__name__}')
    for key in data:
        if key not in allowed:
            raise InputError(f'{place.at(key)} is unknown; expected one of {", ".join(allowed)}')
    for key in required:
        if key not in data:
            raise InputError(f'{place.at(key)} is missing; required: {", ".join(required)}')


def _list(value, place, length=None):
    if not isinstance(value, list) or (length is not None and len(value) != length):
        expected = 'a list' if length is None else f'a list of {length}'
        raise InputError(f'{place} must be {expected}, got {value!r}')
    return value


def _per_property(data, place, check):
    """Each property's value in `data` (keys already checked), checked by `check`, 0.0 where left
    out, in CORE_PROPERTIES order."""
    return tuple(check(data.get(name, 0.0), str(place.at(name))) for name in CORE_PROPERTIES)


def _base(data, place):
    _check_keys(data, place, CORE_PROPERTIES)
    return _per_property(data, place, check_finite)


def _pulse(data, place, seconds):
    _check_keys(data, place, PULSE_KEYS, required=PULSE_KEYS)
    pulse = Pulse(property=check_choice(data['property'], str(place.at('property')),
                                        CORE_PROPERTIES),
                  start=check_not_negative(data['start'], str(place.at('start'))),
                  to=check_finite(data['to'], str(place.at('to'))),
                  **{key: check_not_negative(data[key], str(place.at(key)))
                     for key in ('ease_in', 'hold', 'ease_out')})
    if pulse.start >= seconds:  # a pulse that never shows is a typo, not an intention
        raise InputError(f'{place.at("start")} {pulse.start:g} is not before the end of the'
                         f' timeline ({seconds:g} seconds)')
    return pulse


def _blinks(data, place):
    _check_keys(data, place, BLINK_KEYS, required=BLINK_KEYS)
    frames = tuple(check_count(value, str(place.at('frames').at(k)), minimum=1)
                   for k, value in enumerate(_list(data['frames'], place.at('frames'), 2)))
    every = tuple(check_positive(value, str(place.at('every').at(k)))
                  for k, value in enumerate(_list(data['every'], place.at('every'), 2)))
    if frames[0] > frames[1]:
        raise InputError(f'{place.at("frames")} {list(frames)} must be [min, max] with'
                         f' 1 <= min <= max')
    if every[0] > every[1]:
        raise InputError(f'{place.at("every")} {list(every)} must be [min, max] with'
                         f' 0 < min <= max')
    return Blinks(value=check_finite(data['value'], str(place.at('value'))), frames=frames,
                  every=every)


def _jitter(data, place):
    _check_keys(data, place, JITTER_KEYS, required=('period',))
    return Jitter(amplitudes=_per_property(data, place, check_not_negative),
                  period=check_positive(data['period'], str(place.at('period'))))
