"""The leakage matrix of a run: the changes whose ratios are the recorded leakage."""
import pandas as pd
import pytest

from vectorfind.leakage_matrix import leakage_matrix, main


def test_the_matrix_gives_the_recorded_leakage_of_a_single_code(tiny_vectorfind_runs, tmp_path):
    run = tiny_vectorfind_runs['w']
    matrix = leakage_matrix(run, codes=1)
    assert matrix.shape == (3, 7) and (matrix.to_numpy() >= 0).all()
    recorded = pd.read_csv(run / 'image_generation_report' / 'test_result.csv').iloc[0]
    for prop in ('eyes', 'mouth', 'pose'):
        own = matrix.loc[prop, prop]
        worst = matrix.loc[prop].drop(prop).max() / own
        assert worst == pytest.approx(recorded[f'{prop}_leakage'], rel=1e-2, abs=1e-3)


def test_the_command_writes_the_table(tiny_vectorfind_runs):
    run = tiny_vectorfind_runs['grouped']
    main([str(run), '--codes', '2'])
    table = pd.read_csv(run / 'leakage_matrix.csv')
    assert list(table.edit) == ['eyes', 'mouth', 'pose'] and table.shape == (3, 8)
