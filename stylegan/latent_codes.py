"""Latent codes as the original stores them: one code per CSV row, z followed by the label (for v5
and v6 the 3 extra dims, 515 values in all)."""
import os

import numpy as np
import pandas as pd

from common.files import read_csv_file


def read_latent_codes(path, code_dim):
    """[N, code_dim] float32 from a CSV with one code per row (an unnamed index column is ignored).

    A missing or empty file, a header without rows, a wrong number of columns and a cell that is
    not a finite number fail with a ValueError (FileNotFoundError) naming the file, and the row
    (counted from 0 after the header; its line in the file too) and column of the first bad cell.
    """
    path = os.fspath(path)
    table = read_csv_file(path, 'latent codes file', f'a CSV with a header and one latent code'
                                                      f' ({code_dim} values: z then label) per row')
    table = table.loc[:, [c for c in table.columns if not str(c).startswith('Unnamed')]]
    if table.shape[1] != code_dim:
        raise ValueError(f'{path}: expected {code_dim} columns per latent code (z then label),'
                         f' found {table.shape[1]}')
    if len(table) == 0:
        raise ValueError(f'{path}: no latent codes, only a header; expected one code per row')
    numbers = table.apply(pd.to_numeric, errors='coerce')
    codes = numbers.to_numpy(dtype=np.float64)
    bad = np.argwhere(~np.isfinite(codes))
    if len(bad):
        row, col = bad[0]
        value = table.iloc[row, col]
        what = 'is not a number' if isinstance(value, str) else 'is not a finite number'
        raise ValueError(f'{path}: row {row}, column {table.columns[col]!r} (line {row + 2} of the'
                         f' file) {what}: {value!r}')
    return codes.astype(np.float32)


def random_latent_codes(num, code_dim, seed):
    return np.random.default_rng(seed).standard_normal((num, code_dim)).astype(np.float32)
