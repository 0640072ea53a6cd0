"""The judged report (`judge.report`): a clean world edit reads as a pure own change, and a run's
report holds every table, with the CNN's figures of the same codes beside the judged ones."""
import numpy as np
import pandas as pd
import pytest

from judge import report
from judge.factors import ENCODING_COLUMNS, SLICES
from judge.reader import load_world_reader


@pytest.fixture(scope='module')
def judge():
    return report.Judge(load_world_reader(report.READER), report.readable_identity(report.READER))


def test_a_clean_world_edit_is_a_pure_own_change(judge):
    """The renderer moving one property factor over its range: the judge sees that factor move
    across most of its range and the others, and the person, stay within its reading noise."""
    floor = report.clean_world_edits(judge, faces=3).set_index('property')
    assert list(floor.index) == ['eyes', 'mouth', 'pose']
    assert (floor.clean_own_change > 2.5).all()  # a uniform factor's whole range is 3.46 spreads
    assert (floor.clean_leakage < 0.15).all() and (floor.clean_identity_drift < 0.4).all()


def test_identity_drift_counts_only_identity_and_grows_with_it(judge):
    weights = np.linspace(-1, 1, 5)[:, None]
    rng = np.random.default_rng(0)
    start = rng.standard_normal(len(ENCODING_COLUMNS)).astype(np.float32)
    encodings = np.repeat(start[None], 5, axis=0)
    assert judge.identity_drift(weights, encodings)[0] == pytest.approx(0.0, abs=1e-9)
    moved = encodings.copy()
    column = SLICES[judge.identity[0]].start
    moved[:, column] += weights[:, 0] * judge.identity_spreads[0]  # one factor, two spreads end to end
    expected = 2.0 / np.sqrt(len(judge.identity))
    assert judge.identity_drift(weights, moved)[0] == pytest.approx(expected, rel=1e-6)
    own = SLICES['eye_openness'].start
    property_only = encodings.copy()
    property_only[:, own] += weights[:, 0]
    assert judge.identity_drift(weights, property_only)[0] == pytest.approx(0.0, abs=1e-9)


def test_a_runs_report_holds_every_table_beside_the_cnns_figures(tiny_vectorfind_runs, monkeypatch):
    run_dir = tiny_vectorfind_runs['w']
    monkeypatch.setattr(report, 'WORLD_FACES', 12)
    monkeypatch.setattr(report, 'CLEAN_FACES', 1)
    summary = report.report(str(run_dir), codes=1)
    folder = run_dir / 'judged'
    assert {p.name for p in folder.iterdir()} >= {'codes.csv', 'summary.csv', 'rescoring_matrix.csv',
                                                  'curves.csv', 'curves.png', 'realism.csv'}
    codes = pd.read_csv(folder / 'codes.csv')
    tested = pd.read_csv(run_dir / 'image_generation_report' / 'test_result.csv')
    for prop in ('eyes', 'mouth', 'pose'):
        assert codes.set_index('property').loc[prop, 'cnn_corr'] == pytest.approx(tested[f'{prop}_corr'][0])
    assert list(summary.property) == ['eyes', 'mouth', 'pose'] and summary.codes.eq(1).all()
    assert pd.read_csv(folder / 'rescoring_matrix.csv').shape == (3, 8)


def test_a_folder_that_is_not_a_run_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        report.main([str(tmp_path)])
    message = stop.value.code
    assert isinstance(message, str) and len(message.splitlines()) == 1 and 'config.json not found' in message
    assert 'Traceback' not in capsys.readouterr().err
