"""One declaration per setting (`common.settings.setting`): the flags, the checks, what a re-run
must agree on and the reading of a finished run all come from it."""
import dataclasses
import json
import os
from dataclasses import dataclass
from typing import Optional

import pytest

from common.settings import (Path, check_settings, differing, parse_settings, recorded, setting,
                             stage_settings)
from common.validation import check_count
from finetune_v5.pipeline import FineTuneSettings
from base_training.train import BaseTrainingSettings
from property_score_cnn.train import CNNTrainingSettings
from vectorfind.settings import FIT, SAMPLES, VectorFindSettings, run_record


@dataclass
class Recipe:
    table: Path = setting('a.csv', stage='data', help='the table')
    n: int = setting(4, check=check_count, stage='data', help='how many')
    mode: str = setting('fast', choices=('fast', 'slow'))
    careful: bool = setting(False, earlier=True, help='look twice')
    dry: bool = setting(False, switch=True)
    limit: Optional[float] = setting(None, earlier=1.5)

    def __post_init__(self):
        check_settings(self)


def test_every_field_is_a_flag_of_its_declared_type():
    parsed = parse_settings(Recipe, ['--table', 'b.csv', '--n', '7', '--mode', 'slow', '--no-careful',
                                     '--dry', '--limit', '2.5'])
    assert parsed == Recipe('b.csv', 7, 'slow', False, True, 2.5)
    assert parse_settings(Recipe, []) == Recipe()


def test_help_shows_each_settings_help_and_default(capsys):
    with pytest.raises(SystemExit):
        parse_settings(Recipe, ['--help'])
    shown = ' '.join(capsys.readouterr().out.split())
    assert '--table TABLE the table (default a.csv)' in shown
    assert '--mode {fast,slow}' in shown and '--careful, --no-careful look twice' in shown
    assert '--no-dry' not in shown  # a switch only turns on


@pytest.mark.parametrize('argv, message', [(['--n', '0'], '--n must be at least 1'),
                                           (['--mode', 'quick'], "--mode 'quick' is unknown; expected one of fast, slow")])
def test_a_bad_value_is_a_usage_error_naming_its_flag(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_settings(Recipe, argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_a_recorded_run_reads_a_setting_it_predates_at_its_earlier_value(tmp_path):
    path = tmp_path / 'config.json'
    path.write_text(json.dumps({'table': 'a.csv', 'n': 4, 'mode': 'fast', 'dry': False}))
    record = recorded(path, Recipe)
    assert record['careful'] is True and record['limit'] == 1.5


def test_a_rerun_compares_places_as_places_and_only_what_was_recorded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    record = {'table': os.path.join(str(tmp_path), 'a.csv'), 'n': 5}
    assert differing(Recipe(), record, stage_settings(Recipe, 'data')) == ['n']
    assert differing(Recipe(mode='slow'), record, ['mode']) == []  # not in the record: not compared


def test_the_jobs_stages_and_older_runs_come_from_their_declarations(tmp_path):
    assert stage_settings(VectorFindSettings, SAMPLES) == ['generator', 'cnn', 'n', 'chunk_size', 'seed',
                                                           'precision']
    assert stage_settings(VectorFindSettings, FIT) == ['scores_table', 'ratio', 'max_leakage', 'layers', 'hold',
                                                       'local_hold', 'hold_reach']
    (tmp_path / 'config.json').write_text(json.dumps({'seed': 3}))  # a run from before z, w and the hold
    record = run_record(tmp_path)
    assert (record['space'], record['layers'], record['precision'], record['local_hold'], record['hold_reach']) \
        == ('z', None, 'float32', False, 0.0)


@pytest.mark.parametrize('settings_class', [VectorFindSettings, FineTuneSettings, BaseTrainingSettings,
                                            CNNTrainingSettings])
def test_every_job_setting_is_declared_with_setting(settings_class):
    """A field made without `setting` would have no flag help, check or stage to derive."""
    bare = [f.name for f in dataclasses.fields(settings_class) if 'stage' not in f.metadata]
    assert bare == []
