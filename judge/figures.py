"""The judged figures of edits, whatever made the faces: the world reader with its units, the
figures of one edit, the references (clean world edits, world renders) and the tables and curves
that `judge.report` writes for a VectorFind or a FineTune-v5 run.

An edit is a set of faces made with known intended weights W [N, S] for S steered properties (a
VectorFind direction's weight, a FineTune-v5 label). With one definition of change
(`scores.leakage.score_changes`) and each factor's spread over world faces as the unit, its figures
are: the correlation of each steered property's judged factor with its weight, the re-scoring
matrix (the change of every judged property over each weight's range), leakage (the largest other
change over the own one) and attribute dependency (their mean), and identity drift (the root mean
square, over the identity factors the reader can read, of each one's change over the range). A
sweep (one property's weight moved alone, 0 among the weights) gives the same against edit
strength: each face's change from the face at weight 0.
"""
import os

import numpy as np
import pandas as pd
import scipy.linalg
# The object-oriented Figure renders PNGs with the Agg canvas and never touches a display.
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from common.files import atomic_write, write_csv
from common.paths import in_repo
from data.face_world import SCORE_OF_FACTOR
from judge.faces import render_views, world_factors
from judge.factors import IDENTITY_FACTORS, SLICES, world_spreads
from judge.views import world_view
from scores.leakage import leakage, score_changes
from scores.properties import CORE_PROPERTIES, PROPERTY_NAMES

READER = in_repo('models', 'default', 'world_reader.pth')
READABLE = 0.5
SWEEP = 9  # weights of a single-property sweep over its range (and 0, where that is not among them)
# Faces of a world seed that neither the reader (7, 11) nor the default world (0) used.
WORLD_SEED, WORLD_FACES = 21, 300
CLEAN_FACES = 30  # world faces per property factor in the clean-edit floor
# The judged property factors in the order of the CNN's scores (scores.properties.PROPERTY_NAMES).
JUDGED = tuple(next(f for f, score in SCORE_OF_FACTOR.items() if score == name) for name in PROPERTY_NAMES)
FACTOR_RANGES = {'eye_openness': (0.0, 1.0), 'mouth_openness': (0.0, 1.0), 'head_turn': (-1.0, 1.0)}
CORR_COLUMNS = ('judged_corr', 'cnn_corr')
CURVES = (('own_change', 'own property'), ('attribute_dependency_mean', 'other properties, mean'),
          ('attribute_dependency_max', 'other properties, largest'), ('identity_drift', 'identity drift'))
STAGE_STYLES = ('--', ':', '-')


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


# ---- one edit -----------------------------------------------------------------------------------
def property_figures(weights, measured, spreads, steered=CORE_PROPERTIES):
    """The figures of an edit by one instrument: `weights` [N, S] intended (column k for
    `steered[k]`), `measured` [N, 7] in the order of PROPERTY_NAMES, `spreads` [7] their units ->
    ({property: {corr, own_change, leakage, attribute_dependency}}, changes [S, 7]). A measured
    property that does not vary at all has correlation 0, so that it fails rather than giving NaN."""
    weights, measured = np.asarray(weights, np.float64), np.asarray(measured, np.float64)
    if weights.ndim != 2 or weights.shape[1] != len(steered):
        raise ValueError(f'expected weights [N, {len(steered)}] for {steered}, got shape {list(weights.shape)}')
    changes = score_changes(weights, measured, spreads)
    leaks = leakage(weights, measured, spreads, steered)
    figures = {}
    for k, prop in enumerate(steered):
        own = measured[:, PROPERTY_NAMES.index(prop)]
        corr = float(np.corrcoef(weights[:, k], own)[0, 1]) if own.std() > 0 else 0.0
        figures[prop] = {'corr': corr, 'own_change': changes[k, PROPERTY_NAMES.index(prop)],
                         'leakage': leaks[prop][0], 'attribute_dependency': leaks[prop][1]}
    return figures, changes


def prefixed(figures, prefix):
    return {f'{prefix}_{name}': value for name, value in figures.items()}


def judged_edit(judge, weights, encodings, steered=CORE_PROPERTIES):
    """The judged figures of an edit (faces read as `encodings` [N, columns], made with `weights`
    [N, S]): ({property: {judged_corr, judged_own_change, judged_leakage,
    judged_attribute_dependency, identity_drift}}, the judged changes [S, 7])."""
    figures, changes = property_figures(weights, judge.properties(encodings), judge.property_spreads, steered)
    drift = judge.identity_drift(weights, encodings)
    return ({prop: dict(prefixed(figures[prop], 'judged'), identity_drift=drift[k])
             for k, prop in enumerate(steered)}, changes)


def matrix_rows(changes, steered=CORE_PROPERTIES, **keys):
    """Re-scoring rows: per steered property (`edit`), its change [7] of every judged factor."""
    return [{**keys, 'edit': prop, **dict(zip(JUDGED, changes[k]))} for k, prop in enumerate(steered)]


def sweep_curve(judge, prop, weights, encodings, **keys):
    """`prop` swept alone over `weights` [N] (0 among them), faces read as `encodings`: per weight,
    its own change, the other judged properties' change (mean and largest) and identity drift from
    the face at weight 0, in spreads."""
    weights = np.asarray(weights, np.float64)
    if weights.ndim != 1 or len(weights) != len(encodings) or not (weights == 0).any():
        raise ValueError(f'a sweep of {prop} needs one weight [N] per face, 0 among them; got'
                         f' {list(weights.shape)} weights for {len(encodings)} faces')
    changes, drift = judge.distance_from(encodings[np.flatnonzero(weights == 0)[0]], encodings)
    own = PROPERTY_NAMES.index(prop)
    others = np.delete(changes, own, axis=1)
    return [{**keys, 'property': prop, 'weight': w, 'own_change': changes[i, own],
             'attribute_dependency_mean': others[i].mean(), 'attribute_dependency_max': others[i].max(),
             'identity_drift': drift[i]} for i, w in enumerate(weights)]


# ---- the references -----------------------------------------------------------------------------
def clean_world_edits(judge, faces=CLEAN_FACES):
    """The floor: world faces of WORLD_SEED with one property factor moved over its whole range by
    the renderer itself, judged as the edits are -> DataFrame, a row per factor."""
    rows = []
    for factor, (low, high) in FACTOR_RANGES.items():
        values = np.linspace(low, high, 5)[:, None]
        prop = SCORE_OF_FACTOR[factor]
        figures = []
        for drawn in world_factors(WORLD_SEED, 0, faces):
            encodings = judge.reader.encoded(render_views([dict(drawn, **{factor: v}) for v in values[:, 0]],
                                                          judge.reader.resolution))
            edit = judged_edit(judge, values, encodings, (prop,))[0][prop]
            figures.append([edit[name] for name in ('judged_own_change', 'judged_leakage',
                                                    'judged_attribute_dependency', 'identity_drift')])
        own, leak, dependency, drift = np.median(figures, axis=0)
        rows.append({'property': prop, 'clean_own_change': own, 'clean_leakage': leak,
                     'clean_attribute_dependency': dependency, 'clean_identity_drift': drift})
    return pd.DataFrame(rows)


def frechet_distance(a, b):
    """The Frechet distance between Gaussians fitted to features a [N, F] and b [M, F]."""
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def world_features(judge, n):
    """The reader's features [n, F] of the first `n` world renders of WORLD_SEED: realism's reference."""
    return judge.reader.features(render_views(world_factors(WORLD_SEED, 0, n), judge.reader.resolution))


def realism_rows(judge, reference, face_sets):
    """Per (keys, faces) of `face_sets`, the Frechet distance of the reader's features of the faces
    to `reference` [n, F]; give each set as many faces as the reference, so that the distances
    compare."""
    return [{**keys, 'n': len(faces),
             'frechet_distance': frechet_distance(judge.reader.features(judge.views(faces)), reference)}
            for keys, faces in face_sets]


# ---- the tables ---------------------------------------------------------------------------------
def summarise(table, keys=()):
    """Per `keys` and property over codes: mean |corr| and mean corr by each instrument, medians of
    the rest."""
    by = [*keys, 'property']
    grouped = table.groupby(by, sort=False)
    summary = pd.DataFrame({'codes': grouped.size()})
    corrs = [column for column in CORR_COLUMNS if column in table]
    for column in corrs:
        summary[column.replace('_corr', '_abs_corr_mean')] = grouped[column].apply(lambda c: c.abs().mean())
    for column in corrs:
        summary[f'{column}_mean'] = grouped[column].mean()
    for column in table.columns.difference([*by, 'case', *corrs], sort=False):
        summary[f'{column}_median'] = grouped[column].median()
    return summary.reset_index()


def write_report(folder, parts, floor, keys=(), xlabel='weight'):
    """Write the judged tables into `folder` -> the summary DataFrame. `parts`: {'codes': a row
    per code and property, 'matrix': re-scoring rows (`matrix_rows`), 'curves': sweep rows
    (`sweep_curve`), each with `keys` and 'case'; 'realism': realism rows; optionally 'summary':
    more columns per `keys` and property}; `floor`: `clean_world_edits`."""
    table = pd.DataFrame(parts['codes'])
    write_csv(os.path.join(folder, 'codes.csv'), table.round(4))
    matrix = pd.DataFrame(parts['matrix']).drop(columns='case')
    write_csv(os.path.join(folder, 'rescoring_matrix.csv'),
              matrix.groupby([*keys, 'edit'], sort=False).median().round(4).reset_index())
    curves = (pd.DataFrame(parts['curves']).drop(columns='case')
              .groupby([*keys, 'property', 'weight'], sort=False).median().reset_index())
    write_csv(os.path.join(folder, 'curves.csv'), curves.round(4))
    plot_curves(curves, os.path.join(folder, 'curves.png'), xlabel)
    write_csv(os.path.join(folder, 'realism.csv'), pd.DataFrame(parts['realism']).round(3))
    summary = summarise(table, keys)
    if 'summary' in parts:
        summary = summary.merge(pd.DataFrame(parts['summary']), on=[*keys, 'property'])
    summary = summary.merge(floor, on='property')
    write_csv(os.path.join(folder, 'summary.csv'), summary.round(4))
    return summary


def plot_curves(curves, path, xlabel='weight'):
    """Per property (columns) and psi (rows, where the curves have one), the medians over codes of
    own change, attribute dependency (mean, largest) and identity drift against the edit's weight:
    a colour per quantity, a line style per stage where they have one, one legend for all."""
    rows = list(curves.groupby('psi', sort=False)) if 'psi' in curves else [(None, curves)]
    stages = list(dict.fromkeys(curves['stage'])) if 'stage' in curves else [None]
    styles = {stage: '-' if stage is None else STAGE_STYLES[s - len(stages)] for s, stage in enumerate(stages)}
    figure = Figure(figsize=(12, 0.6 + 3.6 * len(rows)))
    for r, (psi, part) in enumerate(rows):
        for k, prop in enumerate(CORE_PROPERTIES):
            axes = figure.add_subplot(len(rows), len(CORE_PROPERTIES), r * len(CORE_PROPERTIES) + k + 1)
            for stage in stages:
                curve = part[part.property == prop]
                curve = curve if stage is None else curve[curve.stage == stage]
                for q, (column, _) in enumerate(CURVES):
                    axes.plot(curve.weight, curve[column], color=f'C{q}', linestyle=styles[stage], marker='o',
                              markersize=3)
            axes.set_title(f'{prop} edit, judged' + ('' if psi is None else f', psi {psi:g}'))
            axes.set_xlabel(xlabel)
            axes.set_ylabel('change from the unedited face (spreads)')
            axes.grid(alpha=0.3)
    handles = [Line2D([], [], color=f'C{q}', marker='o', markersize=3, label=label)
               for q, (_, label) in enumerate(CURVES)]
    handles += [Line2D([], [], color='black', linestyle=styles[stage], label=stage) for stage in stages if stage]
    figure.legend(handles=handles, loc='upper center', ncol=len(handles), fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.35 / figure.get_figheight()))
    with atomic_write(path) as tmp:
        figure.savefig(tmp, format='png', dpi=100)
