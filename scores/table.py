"""The "all_scores" table: one row per image, its seven property scores, normalised.

Every module that reads or writes a score table goes through here, so the column names, the
normalisation and the checks live in one place.

    table = all_scores_table(img_nos, img_paths, raw)  # raw: dict of name -> list, or DataFrame
    write_score_table(table, 'world/all_scores_v2.csv')
    table = read_score_table('world/all_scores_v2.csv', image_root='world')

`img_path` is stored relative to the folder holding the table, so a table and its images can be
moved together.
"""
import os

import numpy as np
import pandas as pd

from common.files import atomic_write, read_csv_file
from scores.properties import PROPERTY_NAMES

SCORE_COLUMNS = tuple(f'{name}_score' for name in PROPERTY_NAMES)
TABLE_COLUMNS = ('img_no', 'img_path') + SCORE_COLUMNS
DECIMALS = 4


def normalise_scores(raw_scores):
    """Per column (x - mean) / std (ddof 1), rounded to 4 decimals, as the published tables are.

    raw_scores: DataFrame with the `SCORE_COLUMNS`; other columns pass through unchanged.
    A column that does not vary has no scale; it becomes all zeros rather than NaN.
    """
    _require_columns(raw_scores, SCORE_COLUMNS, 'raw scores')
    table = raw_scores.copy()
    for column in SCORE_COLUMNS:
        values = table[column].astype(float)
        std = values.std(ddof=1)
        centred = values - values.mean()
        table[column] = (centred / std if std > 0 else centred * 0.0).round(DECIMALS)
    return table


def all_scores_table(img_nos, img_paths, raw_scores):
    """The normalised all_scores table from raw scores (dict of score name -> values, or a
    DataFrame keyed by score name as in `PROPERTY_NAMES`)."""
    raw = pd.DataFrame(raw_scores)
    _require_columns(raw, PROPERTY_NAMES, 'raw scores')
    table = pd.DataFrame({'img_no': list(img_nos), 'img_path': list(img_paths)})
    for name, column in zip(PROPERTY_NAMES, SCORE_COLUMNS):
        table[column] = raw[name].to_numpy(dtype=float)
    return normalise_scores(table)


def write_score_table(table, path):
    """Write the table's `TABLE_COLUMNS` (in that order) as CSV, atomically."""
    _require_columns(table, TABLE_COLUMNS, str(path))
    with atomic_write(path) as tmp:
        table.loc[:, list(TABLE_COLUMNS)].to_csv(tmp, index=False)


def read_score_table(path, image_root=None, check_images=True):
    """Read and check a score table; fail with the row and column of the first problem.

    image_root: folder that `img_path` is relative to; by default the table's own folder.
    check_images: False for a table read for its scores alone (e.g. the medians of a CNN-derived
    table shipped without its images).
    Checks: every column of `TABLE_COLUMNS` is present, no score is NaN, every image exists.
    Returns the DataFrame with an added `abs_img_path` column.
    """
    table = read_csv_file(path, 'score table', f'a score table (CSV) with the columns'
                                              f' {list(TABLE_COLUMNS)}, e.g.'
                                              f' {os.path.join(path, "all_scores_v2.csv")}')
    _require_columns(table, TABLE_COLUMNS, str(path))
    if len(table) == 0:
        raise ValueError(f'{path}: the table has no rows; expected one row per image')
    scores = table.loc[:, list(SCORE_COLUMNS)].apply(pd.to_numeric, errors='coerce')
    bad_rows, bad_cols = np.nonzero(scores.isna().to_numpy())
    if len(bad_rows):
        row, column = bad_rows[0], SCORE_COLUMNS[bad_cols[0]]
        raise ValueError(f'{path}: row {row} (img_no {table.img_no.iloc[row]}), column {column}: '
                         f'score is missing or not a number ({table[column].iloc[row]!r})')
    table[list(SCORE_COLUMNS)] = scores.astype(float)
    root = os.path.dirname(os.path.abspath(path)) if image_root is None else image_root
    table['abs_img_path'] = [os.path.join(root, p) for p in table.img_path.astype(str)]
    for row, image_path in enumerate(table.abs_img_path if check_images else ()):
        if not os.path.isfile(image_path):
            raise FileNotFoundError(f'{path}: row {row} (img_no {table.img_no.iloc[row]}), '
                                    f'column img_path: image not found: {image_path}')
    return table


def _require_columns(table, columns, what):
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f'{what}: missing column(s) {missing}; expected {list(columns)}')
