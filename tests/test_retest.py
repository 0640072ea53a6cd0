"""`python -m vectorfind.retest` on the tiny held run in w: with the run's own settings it gives the
run's own test results; other settings give their own; a variant run again resumes; bad arguments
are usage errors (a folder that is not a run: tests/test_job_errors.py)."""
import pandas as pd
import pytest

from vectorfind import retest
from vectorfind.generation_testing import GenerationTest
from vectorfind.local_hold import REACH

COMPARED = ['case', 'passed', 'group_name', 'eyes_corr', 'mouth_corr', 'pose_corr', 'eyes_leakage',
            'mouth_leakage', 'pose_leakage']


def test_variants_are_each_reach_with_each_layer_range():
    assert retest.variants([0.0, 1.0], ['pose=0-4', ''], as_fitted=True) == [
        ('layers_pose_0_4_reach_0', 'pose=0-4', 0.0), ('layers_pose_0_4_reach_1', 'pose=0-4', 1.0),
        ('layers_pose_0_4_as_fitted', 'pose=0-4', None), ('layers_every_reach_0', '', 0.0),
        ('layers_every_reach_1', '', 1.0), ('layers_every_as_fitted', '', None)]
    assert retest.variants([None], [None], as_fitted=True) == [('as_fitted', None, None)]


def test_the_runs_own_settings_give_its_own_results_and_others_their_own(tiny_vectorfind_runs):
    run_dir = tiny_vectorfind_runs['w']
    chosen = retest.variants([REACH, 0.0], [None], as_fitted=True)
    summary = retest.retest(run_dir, [REACH, 0.0], as_fitted=True, cases=slice(0, 1))
    own = pd.read_csv(run_dir / 'image_generation_report' / 'test_result.csv').iloc[:1]
    again = {name: pd.read_csv(run_dir / 'retest' / name / 'test_result.csv') for name, _, _ in chosen}
    pd.testing.assert_frame_equal(again[f'reach_{REACH:g}'][COMPARED], own[COMPARED])
    for name in ('reach_0', 'as_fitted'):
        assert not again[name][COMPARED].equals(own[COMPARED])
    assert list(summary['variant']) == [name for name, _, _ in chosen]
    assert list(summary['local_hold']) == [True, True, False]
    assert (summary['tested'] == 1).all()
    assert 'passed_with_leakage_at_most_0.3' in summary


def test_a_variant_run_again_resumes_unless_its_cases_changed(tiny_vectorfind_runs, monkeypatch):
    run_dir = tiny_vectorfind_runs['w']
    retest.retest(run_dir, [0.5], cases=slice(0, 1))
    tested = []
    original = GenerationTest.test
    monkeypatch.setattr(GenerationTest, 'test', lambda self, *a: tested.append(a[0]) or original(self, *a))
    retest.retest(run_dir, [0.5], cases=slice(0, 1))
    assert tested == []  # every code of the variant was done
    with pytest.raises(ValueError, match='--start 1, but the run tested 1 codes'):
        retest.retest(run_dir, [0.5], cases=slice(1, 2))


@pytest.mark.parametrize('argv, words', [(['--layers', 'pose=4-2'], '--layers'), (['--start', '-1'], '--start'),
                                         (['--hold-reach', '-1'], '--hold-reach'), (['--codes', '0'], '--codes')])
def test_bad_arguments_are_usage_errors(tiny_vectorfind_runs, capsys, argv, words):
    with pytest.raises(SystemExit) as stop:
        retest.main([str(tiny_vectorfind_runs['w']), *argv])
    assert stop.value.code == 2
    assert words in capsys.readouterr().err

