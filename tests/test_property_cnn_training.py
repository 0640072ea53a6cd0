"""Property Score CNN training and evaluation: a few steps on a tiny face world, an exact resume,
clear errors on a bad table."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from scores.properties import PROPERTY_NAMES
from data.build_default_world import build_world
import property_score_cnn.train as cnn_training
from property_score_cnn import load_property_score_cnn
from property_score_cnn.evaluate import evaluate
from property_score_cnn.scoring import cnn_view
from property_score_cnn.train import CNN_TABLE_NAME, main, parse_args, train
from scores.table import TABLE_COLUMNS, read_score_table


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    """24 faces of the real face world, with their algorithm-v2 score table."""
    root = tmp_path_factory.mktemp('world')
    build_world(24, seed=0, out=str(root), workers=1)
    return root


def arguments(world, out, epochs, table=None):
    return ['--scores', str(table or world / 'all_scores_v2.csv'), '--out', str(out / 'cnn.pth'),
            '--width', '0.125', '--resolution', '32', '--epochs', str(epochs),
            '--batch-size', '8', '--val-fraction', '0.25', '--device', 'cpu']


def test_training_writes_model_metrics_and_cnn_table(world, tmp_path):
    train(parse_args(arguments(world, tmp_path, 2)))
    assert load_property_score_cnn(tmp_path / 'cnn.pth').width == 0.125
    metrics = json.loads((tmp_path / 'cnn_metrics.json').read_text())
    assert metrics['epochs_run'] == 2 and (metrics['n_train'], metrics['n_val']) == (18, 6)
    assert set(metrics['validation']) == set(PROPERTY_NAMES)
    assert all({'pearson_r', 'mae'} <= set(v) for v in metrics['validation'].values())
    assert list(pd.read_csv(tmp_path / 'cnn_log.csv').epoch) == [1, 2]
    assert json.loads((tmp_path / 'cnn_config.json').read_text())['resolution'] == 32
    source = read_score_table(world / 'all_scores_v2.csv')
    derived = read_score_table(world / CNN_TABLE_NAME)  # also checks every image path resolves
    assert list(derived.columns[:len(TABLE_COLUMNS)]) == list(TABLE_COLUMNS)
    assert list(derived.img_no) == list(source.img_no)


def test_resumed_training_continues_exactly(world, tmp_path):
    straight = train(parse_args(arguments(world, tmp_path / 'straight', 2)))
    train(parse_args(arguments(world, tmp_path / 'resumed', 1)))  # as if stopped after epoch 1
    resumed = train(parse_args(arguments(world, tmp_path / 'resumed', 2)))
    assert resumed.epoch == 2
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    for key, value in straight.best_weights.items():
        assert torch.equal(value, resumed.best_weights[key]), key
    without_time = [{k: v for k, v in row.items() if k != 'seconds'} for row in straight.history]
    assert without_time == [{k: v for k, v in row.items() if k != 'seconds'} for row in resumed.history]


@pytest.mark.parametrize('damage, message', [
    (lambda table: table.drop(columns='pose_score'), r"missing column\(s\) \['pose_score'\]"),
    (lambda table: table.assign(mouth_score=table.mouth_score.where(table.img_no != 3)),
     r'row 3 \(img_no 3\), column mouth_score'),
])
def test_bad_table_fails_with_a_clear_message(world, tmp_path, damage, message):
    bad = world / 'bad_scores.csv'
    damage(pd.read_csv(world / 'all_scores_v2.csv')).to_csv(bad, index=False)
    with pytest.raises(SystemExit, match=message) as error:
        main(arguments(world, tmp_path, 1, table=bad))
    assert 'bad_scores.csv' in str(error.value)


def test_evaluate_reports_every_property_against_its_target(world, tmp_path):
    train(parse_args(arguments(world, tmp_path, 1)))
    rows = evaluate(tmp_path / 'cnn.pth', n=6, seed=999, resolution=32)
    assert [row['property'] for row in rows] == list(PROPERTY_NAMES)
    assert all(row['passed'] == (row['pearson_r'] >= row['target']) for row in rows)


def test_cnn_view_averages_blocks_and_can_be_off():
    images = np.random.default_rng(0).integers(0, 256, (2, 256, 256, 3), dtype=np.uint8)
    assert cnn_view(images, 0) is images
    blocks = images.reshape(2, 64, 4, 64, 4, 3).astype(float).mean((2, 4))
    assert np.abs(cnn_view(images, 64).astype(float) - blocks).max() <= 0.5
    with pytest.raises(ValueError, match='resolution'):
        cnn_view(images, 300)


def test_a_run_stopped_after_a_mid_epoch_checkpoint_continues_exactly(world, tmp_path, monkeypatch):
    """--checkpoint-minutes saves inside an epoch; a run that dies right after such a save and is
    started again ends with the same weights and history as one that never stopped."""
    def args(out):
        return parse_args(arguments(world, out, 2)[:-4] + ['--batch-size', '2', '--val-fraction', '0.25',
                                                           '--checkpoint-minutes', '1e-9',
                                                           '--device', 'cpu'])
    straight = train(args(tmp_path / 'straight'))
    saves = []
    real_save = cnn_training.save_checkpoint

    def save_then_die(training):
        real_save(training)
        saves.append(len(training.losses))
        if training.epoch == 1 and len(training.losses) == 3:  # epoch 2, after its 3rd of 9 batches
            raise SystemExit('killed')
    monkeypatch.setattr(cnn_training, 'save_checkpoint', save_then_die)
    with pytest.raises(SystemExit):
        train(args(tmp_path / 'resumed'))
    monkeypatch.setattr(cnn_training, 'save_checkpoint', real_save)
    assert saves[-1] == 3 and torch.load(tmp_path / 'resumed' / 'cnn_checkpoint.pth')['epoch'] == 1
    resumed = train(args(tmp_path / 'resumed'))
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    without_time = [{k: v for k, v in row.items() if k != 'seconds'} for row in straight.history]
    assert without_time == [{k: v for k, v in row.items() if k != 'seconds'} for row in resumed.history]
