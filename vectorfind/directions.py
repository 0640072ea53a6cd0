"""Training phase, steps 2-5: per group and property, a linear SVM separates the latent codes of
the images with the highest scores from those with the lowest; its unit normal is the direction.

Or (`least_squares_directions`, not in the SPEC) every sample's three scores are fitted linearly
on its code, and each property's direction is the smallest move that changes that property and
holds the other two (`vectorfind/least_squares.py`).

Directions here point towards larger scores. (The original's LinearSVC was fitted on the class
names 'largest' / 'smallest', which sklearn orders alphabetically, so its vectors point towards
smaller scores; the image generation test judges |corr|, so both pass or fail alike.)
"""
import os

import matplotlib
import numpy as np
import pandas as pd
from sklearn.manifold import TSNE
from sklearn.svm import LinearSVC
from tqdm import tqdm

from common.files import atomic_write
from scores.properties import CORE_PROPERTIES
from vectorfind.groups import ALL_SAMPLES, property_column
from vectorfind.least_squares import LeastSquares, conditional_moves, hold_targets, stands_out_of_noise

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

TRAIN_FRACTION = 0.8
MIN_GROUP = 10  # an SVM on fewer top/bottom codes than this says nothing
TSNE_MAX_POINTS = 1000  # t-SNE is quadratic; beyond this the picture says nothing new


def extremes(scores, ratio):
    """Indices of the `ratio` share of rows with the largest and the smallest scores."""
    k = max(int(ratio * len(scores)), 1)
    order = np.argsort(scores, kind='stable')
    return order[::-1][:k], order[:k]


def split(indices, rng):
    shuffled = rng.permutation(indices)
    cut = int(TRAIN_FRACTION * len(shuffled))
    return shuffled[:cut], shuffled[cut:]


def fit_direction(codes, largest, smallest, seed):
    """Unit direction [D] and validation accuracy of an SVM: largest (1) vs smallest (0)."""
    rng = np.random.default_rng(seed)
    (large_train, large_valid), (small_train, small_valid) = split(largest, rng), split(smallest, rng)
    x_train = codes[np.concatenate([large_train, small_train])]
    y_train = np.r_[np.ones(len(large_train)), np.zeros(len(small_train))]
    svm = LinearSVC(random_state=seed).fit(x_train, y_train)
    x_valid = codes[np.concatenate([large_valid, small_valid])]
    y_valid = np.r_[np.ones(len(large_valid)), np.zeros(len(small_valid))]
    accuracy = float((svm.predict(x_valid) == y_valid).mean()) if len(y_valid) else float('nan')
    direction = svm.coef_.reshape(-1)
    return (direction / np.linalg.norm(direction)).astype(np.float32), accuracy, len(y_train), len(y_valid)


def selections(scores, groups, group_list, ratio):
    """{(property, group): (largest, smallest)} row indices into the whole sample, and the groups
    too small to fit an SVM on (fewer than MIN_GROUP members), which are left out."""
    chosen, sparse = {}, []
    for group in group_list:
        members = np.flatnonzero(groups == group)
        if len(members) < MIN_GROUP:
            sparse.append(group)
            continue
        for prop in CORE_PROPERTIES:
            largest, smallest = extremes(scores[members, property_column(prop)], ratio)
            chosen[prop, group] = members[largest], members[smallest]
    return chosen, sparse


def fit_directions(codes_of, chosen, seed):
    """Directions {(property, group): vector} and an SVM report table."""
    directions, report = {}, []
    for (prop, group), (largest, smallest) in chosen.items():
        index = np.concatenate([largest, smallest])
        codes = codes_of(index)
        local_large, local_small = np.arange(len(largest)), np.arange(len(largest), len(index))
        direction, accuracy, n_train, n_valid = fit_direction(codes, local_large, local_small, seed)
        directions[prop, group] = direction
        report.append({'property': prop, 'group': group, 'n_train': n_train, 'n_valid': n_valid,
                       'valid_accuracy': round(accuracy, 4)})
    return directions, pd.DataFrame(report)


def least_squares_directions(chunks, group_of, group_list, hold='core'):
    """Directions {(property, group): unit vector} from a least-squares fit per group, streamed
    over `chunks` of (codes, scores [N, 7]); `group_of(scores)` names each row's group; each
    direction holds the scores `hold` names (`least_squares.hold_targets`). A group whose own fit
    cannot tell the properties apart (too few samples for a fit of its dimension, or directions
    lost in the fit's noise) borrows the fit over all samples. Also returns a report table
    (samples and adjusted R^2 per group and steered property)."""
    columns, targets = hold_targets(hold)
    own_column = [columns.index(property_column(prop)) for prop in CORE_PROPERTIES]
    fits = {group: LeastSquares() for group in (*group_list, ALL_SAMPLES)}
    for codes, scores in chunks:
        groups = group_of(scores)
        fits[ALL_SAMPLES].add(codes, scores[:, columns])
        for group in group_list:
            if group != ALL_SAMPLES and (groups == group).any():
                fits[group].add(codes[groups == group], scores[groups == group][:, columns])
    directions, report = {}, []
    everyone = unit_moves(fits[ALL_SAMPLES], targets)
    for group in group_list:
        own = everyone if group == ALL_SAMPLES else unit_moves(fits[group], targets)
        borrowed = own is None
        if everyone is None and borrowed:
            raise ValueError(f'a least-squares fit over all {fits[ALL_SAMPLES].n} samples cannot tell'
                             f' eyes, mouth and pose apart (too few samples for one slope per latent'
                             f' dimension, or directions lost in the noise of the fit): raise --n')
        moves, r2 = everyone if borrowed else own
        for k, prop in enumerate(CORE_PROPERTIES):
            directions[prop, group] = moves[:, k].astype(np.float32)
            report.append({'property': prop, 'group': group,
                           'n': fits[ALL_SAMPLES if borrowed else group].n,
                           'r2': round(float(r2[own_column[k]]), 4), 'borrowed_from_all': borrowed})
    return directions, pd.DataFrame(report)


def unit_moves(fit, targets):
    """(unit moves [D, 3], one per column of `targets` [P, 3]; adjusted R^2 [P]) of one fit of P
    scores, or None where the fit cannot tell the scores apart."""
    if not fit.solvable:
        return None
    slopes, gram, r2 = fit.solve()
    if not stands_out_of_noise(gram):
        return None
    moves = conditional_moves(slopes, gram, targets)
    return moves / np.linalg.norm(moves, axis=0), r2


def vector_path(out_dir, prop, group, space='z'):
    """The original's name of a direction file: `{prop}_change_{z|w}_vector_{group}.csv`."""
    return os.path.join(out_dir, 'property_score_vectors', f'{prop}_change_{space}_vector_{group}.csv')


def save_direction(vectors, path):
    """One row per vector, one column per latent dim, with an index column, as the original."""
    with atomic_write(path) as tmp:
        pd.DataFrame(np.atleast_2d(vectors)).to_csv(tmp)


def load_direction(path, code_dim):
    """[k, code_dim] float32 from a direction CSV: finite numbers, no zero vector."""
    try:
        vectors = pd.read_csv(path, index_col=0).to_numpy(np.float32)
    except ValueError:
        raise ValueError(f'{path}: expected a direction CSV of numbers (a row of {code_dim} values'
                         f' per vector); delete it, or add --retrain to fit the directions again') from None
    if vectors.ndim != 2 or vectors.shape[1] != code_dim:
        raise ValueError(f'{path}: expected rows of {code_dim} values, got shape {list(vectors.shape)}')
    bad = ~np.isfinite(vectors).all(axis=1) | ~np.abs(vectors).any(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f'{path}: row {row} is not a direction (NaN, infinite or all zeros); delete'
                         f' the file, or add --retrain to fit the directions again')
    return vectors


def tsne_plots(chosen, codes_of, out_dir, seed):
    """`tsne/tsne_{property}_{group}.png`: the selected codes in 2-D, largest vs smallest.

    One t-SNE per group embeds the codes selected for any of its properties, and each property's
    plot shows its own; the embedding, the slow part, is shared by the three plots of a group.
    """
    for group in tqdm(list(dict.fromkeys(g for _, g in chosen)), desc='t-SNE', unit='group'):
        index = np.unique(np.concatenate([np.concatenate(chosen[p, group]) for p in CORE_PROPERTIES]))
        if len(index) > TSNE_MAX_POINTS:
            index = np.sort(np.random.default_rng(seed).choice(index, TSNE_MAX_POINTS, replace=False))
        perplexity = max(2.0, min(30.0, (len(index) - 1) / 3))
        points = TSNE(n_components=2, perplexity=perplexity, init='pca',
                      random_state=seed).fit_transform(codes_of(index))
        for prop in CORE_PROPERTIES:
            largest, smallest = chosen[prop, group]
            path = os.path.join(out_dir, 'tsne', f'tsne_{prop}_{group}.png')
            _scatter(points[np.isin(index, largest)], points[np.isin(index, smallest)], prop, group, path)


def _scatter(largest, smallest, prop, group, path):
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(*smallest.T, s=6, c='tab:blue', label=f'smallest {prop}')
    ax.scatter(*largest.T, s=6, c='tab:red', label=f'largest {prop}')
    ax.set_title(f't-SNE of the selected codes: {prop}, group {group}')
    ax.legend(loc='best')
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
