"""Leakage: how much an edit meant for one property moves the others.

A steering result is only useful when an edit moves its own property and holds the rest: a face
whose background darkens as her eyes open fails a user even when the eyes score follows the edit.
One definition serves every steering result of the repository (VectorFind's image generation test,
FineTune-v5's evaluation):

1. For a set of images made with known intended weights W [N, S] for the S steered properties,
   regress each of the seven measured scores on [W, 1] (least squares).
2. The change of score j over steered property p's range of weights is
   |slope[p, j]| * (max W[:, p] - min W[:, p]), in units of score j's standard deviation over
   random samples of the same generator (`score_std`), so that every score is measured against its
   own natural spread.
3. leakage(p) = max over j != p of change[p, j] / change[p, p]; its mean over j != p is
   StyleSpace's attribute dependency (Wu et al. 2021).

A pure edit of its own property gives 0; an edit that moves another score as far as its own, in
units of their spreads, gives 1.
"""
import os

import numpy as np
import pandas as pd

from common.files import write_csv
from scores.properties import CORE_PROPERTIES, PROPERTY_NAMES

NO_MOVE = 1e-9
SPREAD_FILE = 'score_spread.csv'


def score_changes(weights, scores, score_std):
    """Changes [S, 7] of every score over each steered property's range of weights, in units of
    `score_std` [7]: `weights` [N, S] intended, `scores` [N, 7] measured (module docstring)."""
    weights = np.asarray(weights, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    score_std = np.asarray(score_std, dtype=np.float64)
    if weights.ndim != 2 or scores.ndim != 2 or len(weights) != len(scores):
        raise ValueError(f'expected weights [N, S] and scores [N, {len(PROPERTY_NAMES)}] with the same'
                         f' N, got {list(weights.shape)} and {list(scores.shape)}')
    if score_std.shape != (scores.shape[1],) or not np.all(score_std > 0):
        raise ValueError(f'expected score_std [{scores.shape[1]}] of positive spreads, got {score_std}')
    if not (np.isfinite(weights).all() and np.isfinite(scores).all()):
        raise ValueError('weights and scores must be finite numbers')
    design = np.column_stack([weights, np.ones(len(weights))])
    slopes = np.linalg.lstsq(design, scores, rcond=None)[0][:-1]  # [S, 7]
    spans = np.ptp(weights, axis=0)[:, None]
    return np.abs(slopes) * spans / score_std[None, :]


def leakage(weights, scores, score_std, steered=CORE_PROPERTIES):
    """{p: (max leakage, mean leakage)} for each steered property p (module docstring):
    `weights` [N, len(steered)] intended weights, column k for `steered[k]`; `scores` [N, 7]
    measured, columns as PROPERTY_NAMES; `score_std` [7]. A property whose own score does not
    move (less than NO_MOVE of its spread, the fit's rounding) leaks infinitely."""
    changes = score_changes(weights, scores, score_std)
    out = {}
    for k, prop in enumerate(steered):
        own = PROPERTY_NAMES.index(prop)
        others = np.delete(changes[k], own)
        ratios = others / changes[k, own] if changes[k, own] > NO_MOVE else np.full_like(others, np.inf)
        out[prop] = (float(ratios.max()), float(ratios.mean()))
    return out


def stored_spread(folder, measure=None, refresh=False):
    """A run's score spread [7] (leakage's unit), kept in `folder`/score_spread.csv: `measure()`
    is called and written when the file is missing or `refresh` asks, else the file is read."""
    path = os.path.join(folder, SPREAD_FILE)
    if refresh or not os.path.exists(path):
        if measure is None:
            raise FileNotFoundError(f'{path} not found: the run in {folder} has no score spread')
        write_csv(path, pd.DataFrame([measure()], columns=list(PROPERTY_NAMES)))
    return pd.read_csv(path)[list(PROPERTY_NAMES)].to_numpy(np.float64)[0]
