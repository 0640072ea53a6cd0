"""Judged figures of a finished VectorFind run: its edits read by the world reader, which no
fitting, holding or choice of the run ever saw.

    python -m judge.report outputs/vectorfind_v6 --codes 30

For the first --codes tested codes, each moved by the run's own edit rule (`Steering.from_run`:
its directions, space, local hold), the report reads two sets of faces:

* the SPEC's 50-image weight grid, the very faces the run's test scored with the Property Score
  CNN: per property, the correlation of its judged factor (eye openness, mouth openness, head turn)
  with the intended weight, and with one definition of change (`scores.leakage.score_changes`,
  with the factors' spreads over world faces as the unit) the re-scoring matrix (each edit's change
  of every judged property), leakage (the largest other change over the own one) and attribute
  dependency (their mean), and identity drift: the root mean square, over the identity factors the
  reader can read (R^2 of at least `READABLE` on fresh faces, its card), of each factor's change
  over the edit's range, in its spread. The CNN's correlation and leakage of the same codes stand
  beside them.
* each property alone swept over its grid range (`SWEEP` weights, 0 among them): attribute
  dependency (mean and largest change of the other judged properties from the unedited face, in
  spreads) and identity drift against edit strength, as curves.

Two references, by the same instrument: clean single-factor edits of world faces over each
property factor's whole range (the renderer's own, identity untouched: the floor of drift and
dependency), and realism, the Frechet distance between the reader's features of faces and of
world renders, for edited faces beside unedited generated ones (the same number of each).

Writes RUN/judged/: codes.csv (per code and property), summary.csv (per property, with the
floor), rescoring_matrix.csv, curves.csv and curves.png, realism.csv.
"""
import argparse
import os

import numpy as np
import pandas as pd
import scipy.linalg
import torch
# The object-oriented Figure renders PNGs with the Agg canvas and never touches a display.
from matplotlib.figure import Figure
from tqdm import tqdm

from common.cli import add_debug_flag, parse_checked, run_command
from common.files import atomic_write, write_csv
from common.images import to_uint8
from common.paths import in_repo
from common.validation import check_count, check_device
from data.face_world import SCORE_OF_FACTOR
from judge.factors import IDENTITY_FACTORS, SLICES, world_spreads
from judge.reader import load_world_reader
from judge.faces import render_views, world_factors
from judge.views import world_view
from scores.leakage import leakage, score_changes
from scores.properties import CORE_COLUMNS, CORE_PROPERTIES, PROPERTY_NAMES
from vectorfind.generation_testing import GRID_RANGES, correlations, weight_grid
from vectorfind.latents import TESTING, draw_codes, images, inference_precision
from vectorfind.steering import Steering, read_tested_codes

READER = in_repo('models', 'default', 'world_reader.pth')
READABLE = 0.5
SWEEP = 9
# Faces of a world seed that neither the reader (7, 11) nor the default world (0) used.
WORLD_SEED, WORLD_FACES = 21, 300
CLEAN_FACES = 30  # world faces per property factor in the clean-edit floor
# The judged property factors in the order of the CNN's scores (scores.properties.PROPERTY_NAMES).
JUDGED = tuple(next(f for f, score in SCORE_OF_FACTOR.items() if score == name) for name in PROPERTY_NAMES)
FACTOR_RANGES = {'eye_openness': (0.0, 1.0), 'mouth_openness': (0.0, 1.0), 'head_turn': (-1.0, 1.0)}


def readable_identity(reader_path):
    """The identity factors the reader reads with R^2 >= READABLE on fresh faces (its evaluation
    table beside the weights), all of them where no table is there."""
    table = os.path.join(os.path.dirname(reader_path), 'world_reader_evaluation.csv')
    if not os.path.exists(table):
        return IDENTITY_FACTORS
    r2 = pd.read_csv(table).set_index('factor')['r2']
    return tuple(name for name in IDENTITY_FACTORS if r2[name] >= READABLE)


class Judge:
    """The world reader with the units of its figures: each factor's spread over world faces."""

    def __init__(self, reader, identity):
        self.reader, self.identity = reader, identity
        spreads = world_spreads()
        self.property_spreads = np.array([spreads[name] for name in JUDGED])
        self.identity_spreads = np.array([spreads[name] for name in identity])

    def views(self, faces):
        """uint8 faces [N, H, W, 3] of any size, box-resampled to the reader's resolution."""
        return np.stack([world_view(face, self.reader.resolution) for face in faces])

    def encodings(self, faces):
        """Encodings [N, columns] of uint8 faces [N, H, W, 3] at any size."""
        return self.reader.encoded(self.views(faces))

    def properties(self, encodings):
        """The judged property factors [N, 7], in the order of the CNN's scores."""
        return np.stack([encodings[:, SLICES[name]][:, 0] for name in JUDGED], 1)

    def identity_drift(self, weights, encodings):
        """[S]: per steered column of `weights` [N, S], the root mean square over the readable
        identity factors of each one's change over that column's range, in its spread."""
        columns = [encodings[:, SLICES[name]] for name in self.identity]
        changes = [np.linalg.norm(score_changes(weights, part, np.ones(part.shape[1])), axis=1)
                   for part in columns]  # [factors][S]
        return np.sqrt(np.mean((np.stack(changes, 1) / self.identity_spreads) ** 2, axis=1))

    def distance_from(self, start, encodings):
        """Per face, (mean and largest change of the judged properties, identity drift) from the
        encoding `start` [columns], in spreads -> [N, 7] property changes and [N] drift."""
        prop = np.abs(self.properties(encodings) - self.properties(start[None])) / self.property_spreads
        drift = np.stack([np.linalg.norm(encodings[:, SLICES[n]] - start[SLICES[n]], axis=1) / s
                          for n, s in zip(self.identity, self.identity_spreads)], 1)
        return prop, np.sqrt((drift ** 2).mean(1))


def grid_figures(judge, encodings, case):
    """One code's rows (a property each) on the SPEC grid: judged correlation, own change,
    leakage, attribute dependency and identity drift; and its re-scoring rows [3, 7]."""
    grid, judged = weight_grid(), judge.properties(encodings)
    corr = correlations(judged[:, CORE_COLUMNS])
    changes = score_changes(grid, judged, judge.property_spreads)
    leaks = leakage(grid, judged, judge.property_spreads)
    drift = judge.identity_drift(grid, encodings)
    rows = [{'case': case, 'property': prop, 'judged_corr': corr[prop],
             'judged_own_change': changes[k, PROPERTY_NAMES.index(prop)],
             'judged_leakage': leaks[prop][0], 'judged_attribute_dependency': leaks[prop][1],
             'identity_drift': drift[k]} for k, prop in enumerate(CORE_PROPERTIES)]
    return rows, changes


def sweep_weights(k):
    return np.union1d(np.linspace(*GRID_RANGES[k], SWEEP), [0.0])


def sweep_rows(judge, steering, code, case):
    """Each property swept alone: per weight, the other judged properties' change from the
    unedited face (mean and largest, spreads) and identity drift."""
    rows = []
    for k, prop in enumerate(CORE_PROPERTIES):
        weights = sweep_weights(k)
        encodings = judge.encodings(steering.strip(code, prop, weights))
        changes, drift = judge.distance_from(encodings[np.flatnonzero(weights == 0)[0]], encodings)
        others = np.delete(changes, PROPERTY_NAMES.index(prop), axis=1)
        rows += [{'case': case, 'property': prop, 'weight': w, 'own_change': changes[i, PROPERTY_NAMES.index(prop)],
                  'attribute_dependency_mean': others[i].mean(), 'attribute_dependency_max': others[i].max(),
                  'identity_drift': drift[i]} for i, w in enumerate(weights)]
    return rows


def clean_world_edits(judge, faces=CLEAN_FACES):
    """The floor: world faces of WORLD_SEED with one property factor moved over its whole range by
    the renderer itself, judged as the edits are -> DataFrame, a row per factor."""
    rows = []
    for factor, (low, high) in FACTOR_RANGES.items():
        values = np.linspace(low, high, 5)
        figures = []
        for drawn in world_factors(WORLD_SEED, 0, faces):
            encodings = judge.reader.encoded(render_views([dict(drawn, **{factor: v}) for v in values],
                                                          judge.reader.resolution))
            judged = judge.properties(encodings)
            changes = score_changes(values[:, None], judged, judge.property_spreads)[0]
            own = PROPERTY_NAMES.index(SCORE_OF_FACTOR[factor])
            figures.append((changes[own], np.delete(changes, own).max() / changes[own],
                            np.delete(changes, own).mean() / changes[own],
                            judge.identity_drift(values[:, None], encodings)[0]))
        own, leak, dependency, drift = np.median(figures, axis=0)
        rows.append({'property': SCORE_OF_FACTOR[factor], 'clean_own_change': own, 'clean_leakage': leak,
                     'clean_attribute_dependency': dependency, 'clean_identity_drift': drift})
    return pd.DataFrame(rows)


def frechet_distance(a, b):
    """The Frechet distance between Gaussians fitted to features a [N, F] and b [M, F]."""
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def realism(judge, steering, edited_faces):
    """Frechet distances of the reader's features to those of WORLD_FACES world renders: for as
    many unedited faces of fresh random codes, and as many edited faces drawn from the grids (the
    same count each, so that the distances compare)."""
    n = min(WORLD_FACES, len(edited_faces))
    reference = judge.reader.features(render_views(world_factors(WORLD_SEED, 0, n), judge.reader.resolution))
    codes = draw_codes(n, steering.code_dim, WORLD_SEED, TESTING, 0)
    with torch.inference_mode(), inference_precision(steering.device, steering.precision):
        unedited = np.concatenate([to_uint8(images(steering.generator, codes[i:i + 50], steering.device))
                                   for i in range(0, n, 50)])
    edited = edited_faces[np.random.default_rng(WORLD_SEED).choice(len(edited_faces), n, replace=False)]
    return pd.DataFrame([{'faces': name, 'n': n,
                          'frechet_distance': frechet_distance(judge.reader.features(judge.views(faces)), reference)}
                         for name, faces in (('unedited generated', unedited), ('edited (SPEC grid)', edited))])


def report(out_dir, codes=30, reader_path=READER, device='cpu'):
    """Every judged table of the run in `out_dir` (module docstring) -> the summary DataFrame."""
    steering = Steering.from_run(out_dir, device)
    judge = Judge(load_world_reader(reader_path, device), readable_identity(reader_path))
    results, tested = read_tested_codes(out_dir, steering.code_dim)
    if not len(tested):
        raise ValueError(f'{out_dir}: no tested codes to judge')
    rows, matrices, sweeps, edited = [], [], [], []
    grid = weight_grid()
    for case, code in enumerate(tqdm(tested[:codes], desc='judging codes', unit='code')):
        directions = steering.code_directions(code)
        with inference_precision(device, steering.precision):
            faces = to_uint8(steering.editor.render(code, grid, directions, batch_size=len(grid)))
        code_rows, changes = grid_figures(judge, judge.encodings(faces), case)
        cnn = results.iloc[case]
        rows += [dict(row, cnn_corr=cnn[f'{row["property"]}_corr'], cnn_leakage=cnn[f'{row["property"]}_leakage'])
                 for row in code_rows]
        matrices.append(changes)
        sweeps += sweep_rows(judge, steering, code, case)
        edited.append(faces)
    folder = os.path.join(out_dir, 'judged')
    table, curves = pd.DataFrame(rows), pd.DataFrame(sweeps)
    write_csv(os.path.join(folder, 'codes.csv'), table.round(4))
    write_csv(os.path.join(folder, 'rescoring_matrix.csv'),
              pd.DataFrame(np.median(matrices, axis=0), index=list(CORE_PROPERTIES),
                           columns=list(JUDGED)).round(4).reset_index(names='edit'))
    curve_medians = curves.groupby(['property', 'weight']).median(numeric_only=True).drop(columns='case')
    write_csv(os.path.join(folder, 'curves.csv'), curve_medians.round(4).reset_index())
    plot_curves(curve_medians, os.path.join(folder, 'curves.png'))
    write_csv(os.path.join(folder, 'realism.csv'), realism(judge, steering, np.concatenate(edited)).round(3))
    summary = summarise(table).merge(clean_world_edits(judge, CLEAN_FACES), on='property')
    write_csv(os.path.join(folder, 'summary.csv'), summary.round(4))
    return summary


def summarise(table):
    """Per property over codes: mean |corr| by both instruments, medians of the rest."""
    grouped = table.groupby('property', sort=False)
    summary = pd.DataFrame({'codes': grouped.size(),
                            'judged_abs_corr_mean': grouped.judged_corr.apply(lambda c: c.abs().mean()),
                            'cnn_abs_corr_mean': grouped.cnn_corr.apply(lambda c: c.abs().mean())})
    for column in ('judged_own_change', 'judged_leakage', 'judged_attribute_dependency', 'identity_drift',
                   'cnn_leakage'):
        summary[f'{column}_median'] = grouped[column].median()
    return summary.reset_index()


def plot_curves(medians, path):
    """Per property, the medians over codes of own change, attribute dependency (mean, largest)
    and identity drift against the edit's weight."""
    figure = Figure(figsize=(12, 3.6))
    for k, prop in enumerate(CORE_PROPERTIES):
        axes = figure.add_subplot(1, 3, k + 1)
        curve = medians.loc[prop]
        for column, label in (('own_change', f'own ({prop})'), ('attribute_dependency_mean', 'others, mean'),
                              ('attribute_dependency_max', 'others, largest'), ('identity_drift', 'identity')):
            axes.plot(curve.index, curve[column], marker='o', label=label)
        axes.set_title(f'{prop} edit, judged')
        axes.set_xlabel('weight')
        axes.set_ylabel('change from the unedited face (spreads)')
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    figure.tight_layout()
    with atomic_write(path) as tmp:
        figure.savefig(tmp, format='png', dpi=100)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('run', help='a VectorFind run folder')
    parser.add_argument('--codes', type=int, default=30, help='how many of its tested codes (default 30)')
    parser.add_argument('--reader', default=READER, help='the world reader (default: the committed one)')
    parser.add_argument('--device', default='cpu')
    add_debug_flag(parser)
    args = parse_checked(parser, argv, lambda a: (check_count(a.codes, '--codes'), check_device(a.device)))

    def work():
        summary = report(args.run, args.codes, args.reader, args.device)
        print(summary.round(3).to_string(index=False))
    run_command(work, argv)


if __name__ == '__main__':
    main()
