"""How well the world reader reads faces it never saw, and how much its reading shakes.

    python -m judge.evaluate --reader models/default/world_reader.pth --seed 11 --n 1000 \\
        --out models/default/world_reader_evaluation.csv

* R^2 per factor on faces 0 .. n - 1 of the world with --seed (one the reader was not trained on):
  the share of the factor's variance over those faces that the reading explains (on its encoding,
  `judge.factors.r_squared`); for the two class factors also the share of faces whose class is
  read right.
* Reading noise per factor: the first --noise-faces of those faces are rendered --noise-renders
  times more, each time with only the nuisance factors (shifts, light side, texture seed) redrawn,
  which leaves the read factors as they were; the noise is the root mean variance of the reading
  over a face's renders, in the factor's spread over world faces.

Writes the table (factor, group, r2, accuracy, reading_noise, spread) to --out and a summary beside
it (<stem>.json: the medians and worst factors, the settings, seconds and machine).
"""
import os
import time
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import torch

from common.cli import prepare_output_file, run_command
from common.files import write_csv, write_json
from common.machine import machine
from common.settings import Path, as_record, check_settings, parse_settings, setting
from common.validation import InputError, check_count, check_file
from data.face_world import sample_factors
from judge.factors import (CLASSES, IDENTITY_FACTORS, NUISANCE_FACTORS, PROPERTY_FACTORS,
                           READ_FACTORS, SLICES, class_of, encode, r_squared, world_spreads)
from judge.faces import render_views, world_factors
from judge.reader import load_world_reader


@dataclass
class EvaluationSettings:
    reader: Path = setting(help='the world reader (.pth)')
    out: Path = setting(help='the per-factor table (.csv)')
    seed: int = setting(11, check=partial(check_count, minimum=0), help='the world whose faces are read')
    n: int = setting(1_000, check=partial(check_count, minimum=2), help='faces read for R^2')
    noise_faces: int = setting(100, check=check_count, help='faces re-rendered for the noise')
    noise_renders: int = setting(5, check=partial(check_count, minimum=2), help='renders of each')

    def __post_init__(self):
        check_settings(self)
        if self.noise_faces > self.n:
            raise InputError(f'--noise-faces ({self.noise_faces}) must be at most --n ({self.n})')


def with_nuisance_redrawn(factors, seed, face, render):
    """A face's factors with only the nuisance factors redrawn, from a random source of its own
    (the world's draws of them, so that they keep the world's distribution)."""
    nuisance = sample_factors(np.random.default_rng([seed, face, render + 1]))
    return {**factors, **{name: nuisance[name] for name in NUISANCE_FACTORS}}


def reading_noise(reader, factor_rows, seed, renders):
    """Per factor, the root mean variance of the reading over `renders` renders of each face with
    the nuisance redrawn, in its spread -> {factor: noise}."""
    rows = [with_nuisance_redrawn(factors, seed, face, k)
            for face, factors in enumerate(factor_rows) for k in range(renders)]
    encodings = reader.encoded(render_views(rows, reader.resolution)).astype(np.float64)
    encodings = encodings.reshape(len(factor_rows), renders, -1)
    variance = encodings.var(axis=1, ddof=1)  # [faces, columns]
    spreads = world_spreads()
    return {name: float(np.sqrt(variance[:, part].sum(1).mean())) / spreads[name]
            for name, part in SLICES.items()}


def class_accuracy(true_factors, read_encodings):
    """For each class factor, the share of faces whose class is read right."""
    return {name: float(np.mean(read_encodings[:, SLICES[name]].argmax(1)
                                == class_of(name, true_factors[name]))) for name in CLASSES}


def evaluate(settings):
    """The per-factor table and its summary, written to --out and beside it."""
    check_file(settings.reader, '--reader', 'world reader file')
    prepare_output_file(settings.out, '--out')
    started = time.time()
    reader = load_world_reader(settings.reader)
    factor_rows = world_factors(settings.seed, 0, settings.n)
    true = pd.DataFrame(factor_rows)
    read = reader.encoded(render_views(factor_rows, reader.resolution))
    r2 = r_squared(encode(true), read)
    accuracy = class_accuracy(true, read)
    noise = reading_noise(reader, factor_rows[:settings.noise_faces], settings.seed,
                          settings.noise_renders)
    spreads = world_spreads()
    table = pd.DataFrame([{'factor': name, 'group': 'property' if name in PROPERTY_FACTORS else 'identity',
                           'r2': round(r2[name], 4), 'accuracy': accuracy.get(name, np.nan),
                           'reading_noise': round(noise[name], 4), 'spread': round(spreads[name], 6)}
                          for name in READ_FACTORS])
    write_csv(settings.out, table)
    summary = summarise(table)
    write_json(os.path.splitext(settings.out)[0] + '.json', {
        **summary, 'settings': as_record(settings), 'seconds': round(time.time() - started, 1),
        'machine': machine(torch.device('cpu'))})
    print(table.to_string(index=False))
    print(f'property R^2 min {summary["property_r2_min"]:.3f}; identity R^2 median'
          f' {summary["identity_r2_median"]:.3f}; wrote {settings.out}')
    return table


def summarise(table):
    identity = table[table.group == 'identity'].sort_values('r2')
    properties = table[table.group == 'property']
    return {'property_r2_min': float(properties.r2.min()),
            'identity_r2_median': float(np.median(identity.r2)),
            'identity_worst': dict(zip(identity.factor[:5], identity.r2[:5].astype(float))),
            'property_noise_median': float(np.median(properties.reading_noise)),
            'identity_noise_median': float(np.median(identity.reading_noise)),
            'identity_factors': len(IDENTITY_FACTORS)}


def parse_args(argv=None):
    return parse_settings(EvaluationSettings, argv, doc=__doc__)


def main(argv=None):
    settings = parse_args(argv)
    run_command(lambda: evaluate(settings), argv)


if __name__ == '__main__':
    main()
