"""The judged report (`judge.report`): a clean world edit reads as a pure own change, and a run's
report, VectorFind or FineTune-v5, holds every table, with the CNN's figures of the same codes
beside the judged ones."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from finetune_v5.evaluation import render
from finetune_v5.inspection import FineTuneRun
from judge import finetune_report, report
from judge.figures import property_figures
from property_score_cnn.model import score_images
from stylegan.loading import convert_v1_to_v5, load_generator
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


def test_a_finetune_runs_report_judges_both_stages_beside_the_cnn(tiny_finetune_run, monkeypatch):
    """A FineTune-v5 run is told by its files: every table holds the base generator as the run
    converted it (before) and the run's generator (after), and the CNN's figures are those of the
    very faces judged. (One psi of the report's two, to keep it quick.)"""
    monkeypatch.setattr(report, 'WORLD_FACES', 12)
    monkeypatch.setattr(report, 'CLEAN_FACES', 1)
    monkeypatch.setattr(finetune_report, 'PSIS', (0.5,))
    assert report.run_kind(str(tiny_finetune_run)) == report.FINETUNE
    summary = report.report(str(tiny_finetune_run), codes=2)
    folder = tiny_finetune_run / 'judged'
    tables = {name: pd.read_csv(folder / f'{name}.csv')
              for name in ('codes', 'summary', 'rescoring_matrix', 'curves', 'realism')}
    assert (folder / 'curves.png').stat().st_size > 0
    stages = [(stage, psi) for stage in ('before', 'after') for psi in finetune_report.PSIS]
    for name, table in tables.items():
        assert sorted(set(zip(table.stage, table.psi))) == sorted(stages), name
    codes = tables['codes']
    assert len(codes) == len(stages) * 2 * 3
    assert codes[['cnn_corr', 'cnn_own_change', 'cnn_leakage']].notna().all().all()
    assert tables['rescoring_matrix'].shape == (len(stages) * 3, 2 + 1 + 7)
    assert set(tables['realism'].faces) == {'generated, label 0', 'generated, a sweep label each'}
    assert {'judged_corr_pooled', 'cnn_corr_pooled', 'clean_identity_drift'} <= set(summary.columns)

    # Each stage's generator, and the CNN's corr and leakage of the first z's eyes sweep, again.
    generators = {'before': convert_v1_to_v5(load_generator(str(tiny_finetune_run.parent / 'base.pth'), 'v1')),
                  'after': FineTuneRun.from_run(str(tiny_finetune_run)).generator}
    prop, values = finetune_report.label_sweeps()[0]
    labels = np.zeros((len(values), 3), np.float32)
    labels[:, 0] = values
    run = finetune_report.JudgedRun(str(tiny_finetune_run))
    for stage, generator in generators.items():
        z = finetune_report.latents(1, generator.z_dim, report.WORLD_SEED)
        faces = render(generator, z.repeat(len(values), 1), torch.from_numpy(labels), 0.5)
        cnn = property_figures(values[:, None], score_images(run.cnn, faces), run.score_std, (prop,))[0][prop]
        row = codes.set_index(['stage', 'psi', 'case', 'property']).loc[(stage, 0.5, 0, prop)]
        assert row.cnn_corr == pytest.approx(cnn['corr'], abs=1e-4), stage
        assert row.cnn_leakage == pytest.approx(cnn['leakage'], rel=1e-3, abs=1e-4), stage


def test_a_finetune_run_without_its_base_generator_is_one_line(tiny_finetune_run, tmp_path, capsys):
    run_dir = tmp_path / 'run'
    run_dir.mkdir()
    for name in ('config.json', 'generator.pth', 'score_spread.csv'):
        shutil.copy(tiny_finetune_run / name, run_dir / name)
    config = json.loads((run_dir / 'config.json').read_text())
    (run_dir / 'config.json').write_text(json.dumps(dict(config, generator=str(tmp_path / 'moved.pth'))))
    with pytest.raises(SystemExit) as stop:
        report.main([str(run_dir), '--codes', '1'])
    message = stop.value.code
    assert isinstance(message, str) and len(message.splitlines()) == 1
    assert 'moved.pth not found' in message and 'base generator' in message
    assert 'Traceback' not in capsys.readouterr().err
