"""Latent codes as the original stores them: one code per CSV row, z followed by the label (for v5
and v6 the 3 extra dims, 515 values in all)."""
import numpy as np
import pandas as pd


def read_latent_codes(path, code_dim):
    """[N, code_dim] float32 from a CSV with one code per row (an unnamed index column is ignored)."""
    table = pd.read_csv(path)
    table = table.loc[:, [c for c in table.columns if not str(c).startswith('Unnamed')]]
    if table.shape[1] != code_dim:
        raise ValueError(f'{path}: expected {code_dim} columns per latent code (z then label),'
                         f' found {table.shape[1]}')
    codes = table.to_numpy(dtype=np.float64)
    bad = np.argwhere(~np.isfinite(codes))
    if len(bad):
        row, col = bad[0]
        raise ValueError(f'{path}: row {row}, column {table.columns[col]!r} is not a finite number')
    return codes.astype(np.float32)


def random_latent_codes(num, code_dim, seed):
    return np.random.default_rng(seed).standard_normal((num, code_dim)).astype(np.float32)
