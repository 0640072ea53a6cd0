"""The factors the world reader reads, in groups, each with its encoding and its spread.

Defined once here for everything that judges faces:

* `PROPERTY_FACTORS`: the seven factors that drive the property scores (`SCORE_OF_FACTOR`).
* `IDENTITY_FACTORS`: what makes the person and the picture, and does not change when a property
  is steered: face shape and size, skin, eyes, brows, nose, lips, hair colour warmth, volume and
  fringe, clothes, background hue and pattern.
* `NUISANCE_FACTORS`: small shifts, the side of the light and the texture seed. They are not read:
  re-rendering a face with only these redrawn is how the reading noise is measured.

A factor is encoded as the reader's targets by its kind, so that a distance between two readings
means the same for every factor:

* a value (most factors): the value itself;
* an angle (`clothes_hue`, `background_hue`, uniform on [0, 2 pi) and used through cos and sin):
  the pair (cos, sin), which has no seam at 0 = 2 pi;
* classes (`background_pattern`, one of 3 textures; `iris_hue`, which the renderer only uses to
  pick one of `IRIS_COLOURS` colours, `int(iris_hue * 4) % 4`, so that its value within a quarter
  leaves no trace in the image): the one-hot vector, read as scores whose largest names the class.

A factor's spread is the root of the total variance of its encoding over faces of the default
world (seed 0): the unit of every reading noise, drift or change reported in "spreads".
"""
import functools

import numpy as np
import pandas as pd

from data.face_world import FACTOR_NAMES, SCORE_OF_FACTOR, face_rng, sample_factors

PROPERTY_FACTORS = tuple(SCORE_OF_FACTOR)
IDENTITY_FACTORS = (
    'face_half_width', 'face_half_height', 'chin_point', 'skin_lightness', 'skin_warmth',
    'eye_spacing', 'eye_half_width', 'eye_row', 'iris_hue', 'iris_darkness',
    'brow_thickness', 'brow_arch', 'brow_gap', 'brow_darkness', 'nose_length', 'nose_half_width',
    'mouth_half_width', 'upper_lip', 'lower_lip', 'mouth_row', 'lip_redness',
    'hair_warmth', 'hair_volume', 'fringe', 'fringe_skew',
    'clothes_hue', 'clothes_lightness', 'background_hue', 'background_pattern')
NUISANCE_FACTORS = ('shift_x', 'shift_y', 'light_side', 'texture_seed')
READ_FACTORS = PROPERTY_FACTORS + IDENTITY_FACTORS

ANGLES = ('clothes_hue', 'background_hue')
IRIS_COLOURS = 4
CLASSES = {'background_pattern': 3, 'iris_hue': IRIS_COLOURS}

# The world whose faces define the spreads: the default world's seed and size.
SPREAD_WORLD_SEED = 0
SPREAD_WORLD_FACES = 10_000


def _check_partition():
    groups = PROPERTY_FACTORS + IDENTITY_FACTORS + NUISANCE_FACTORS
    if sorted(groups) != sorted(FACTOR_NAMES):
        raise ImportError(f'judge.factors: the factor groups {sorted(groups)} do not partition the'
                          f' face world\'s factors {sorted(FACTOR_NAMES)}; update the groups')


_check_partition()


def columns_of(name):
    """The names of the encoding columns of factor `name`."""
    if name in ANGLES:
        return (f'{name}_cos', f'{name}_sin')
    if name in CLASSES:
        return tuple(f'{name}_{k}' for k in range(CLASSES[name]))
    return (name,)


ENCODING_COLUMNS = tuple(column for name in READ_FACTORS for column in columns_of(name))


def _slices():
    bounds = np.cumsum([0] + [len(columns_of(name)) for name in READ_FACTORS]).tolist()
    return {name: slice(a, b) for name, a, b in zip(READ_FACTORS, bounds[:-1], bounds[1:])}


# Where each factor's columns lie in an encoding row.
SLICES = _slices()


def class_of(name, values):
    """The class index of a categorical factor (the iris colour a hue picks, the pattern)."""
    values = np.asarray(values, dtype=float)
    if name == 'iris_hue':
        return np.floor(values * IRIS_COLOURS).astype(int) % IRIS_COLOURS
    return values.astype(int)


def encode(factors):
    """Factors (a DataFrame or dict of equal-length arrays, holding at least `READ_FACTORS`) ->
    float32 [N, len(ENCODING_COLUMNS)] encodings."""
    missing = [name for name in READ_FACTORS if name not in factors]
    if missing:
        raise ValueError(f'factors lack {missing}; expected the face world\'s factors'
                         f' (data.face_world.sample_factors)')
    parts = []
    for name in READ_FACTORS:
        values = np.asarray(factors[name], dtype=float).reshape(-1)
        if name in ANGLES:
            parts.append(np.stack([np.cos(values), np.sin(values)], 1))
        elif name in CLASSES:
            parts.append(np.eye(CLASSES[name])[class_of(name, values)])
        else:
            parts.append(values[:, None])
    return np.concatenate(parts, axis=1).astype(np.float32)


def decode(encodings):
    """Encodings [N, len(ENCODING_COLUMNS)] -> DataFrame of `READ_FACTORS` in world units: values
    as they are, angles in [0, 2 pi), a class as the world value that picks it (the pattern's
    number; the centre of the iris colour's quarter of iris_hue)."""
    encodings = check_encodings(encodings)
    table = {}
    for name in READ_FACTORS:
        part = encodings[:, SLICES[name]]
        if name in ANGLES:
            table[name] = np.mod(np.arctan2(part[:, 1], part[:, 0]), 2 * np.pi)
        elif name == 'iris_hue':
            table[name] = (part.argmax(1) + 0.5) / IRIS_COLOURS
        elif name in CLASSES:
            table[name] = part.argmax(1)
        else:
            table[name] = part[:, 0]
    return pd.DataFrame(table)


def check_encodings(encodings):
    encodings = np.asarray(encodings, dtype=np.float64)
    if encodings.ndim != 2 or encodings.shape[1] != len(ENCODING_COLUMNS):
        raise ValueError(f'expected encodings of shape [N, {len(ENCODING_COLUMNS)}], got'
                         f' {list(encodings.shape)}')
    return encodings


@functools.lru_cache(maxsize=1)
def world_spreads():
    """{factor: spread}, the root total variance of each factor's encoding over the default
    world's faces (drawn, not rendered: a fraction of a second)."""
    draws = [sample_factors(face_rng(SPREAD_WORLD_SEED, i)) for i in range(SPREAD_WORLD_FACES)]
    encodings = encode(pd.DataFrame(draws)).astype(np.float64)
    return {name: float(np.sqrt(encodings[:, SLICES[name]].var(0).sum())) for name in READ_FACTORS}


def changes_in_spreads(before, after):
    """Per factor, the distance between two encodings of the same faces ([N, columns] each) in
    that factor's spread -> DataFrame [N, READ_FACTORS]."""
    before, after = check_encodings(before), check_encodings(after)
    if before.shape != after.shape:
        raise ValueError(f'encodings of different shapes: {list(before.shape)} and {list(after.shape)}')
    spreads = world_spreads()
    return pd.DataFrame({name: np.linalg.norm(after[:, SLICES[name]] - before[:, SLICES[name]], axis=1)
                         / spreads[name] for name in READ_FACTORS})


def r_squared(true, predicted):
    """Per factor, the share of its encoding's variance over these faces that a reading explains,
    1 - sum |read - true|^2 / sum |true - mean true|^2 over the factor's columns -> {factor: R^2}."""
    true, predicted = check_encodings(true), check_encodings(predicted)
    if true.shape != predicted.shape or len(true) < 2:
        raise ValueError(f'R^2 needs two encodings of the same faces, at least two, got shapes'
                         f' {list(true.shape)} and {list(predicted.shape)}')
    return {name: float(1 - ((predicted[:, part] - true[:, part]) ** 2).sum()
                        / ((true[:, part] - true[:, part].mean(0)) ** 2).sum())
            for name, part in SLICES.items()}
