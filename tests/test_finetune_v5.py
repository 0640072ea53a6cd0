"""FineTune-v5 on tiny settings: every layer learns, an exact resume, the log's columns, the
improved options, clear errors on a bad table."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

import stylegan
from finetune_v5 import pipeline as finetune_v5
from finetune_v5.evaluation import SAMPLE_PSIS
from finetune_v5.label_warm_start import warm_start_label
from finetune_v5.pipeline import LOG_COLUMNS, main, parse_args, train
from linear_scores import LinearScores
from tiny_models import write_finetune_inputs


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """24 random 256 px images with random scores, a tiny base generator and a small random CNN."""
    return write_finetune_inputs(tmp_path_factory.mktemp('finetune_v5'))


def arguments(tiny, out, steps, *extra):
    return ['--preset', 'faithful', '--generator', str(tiny / 'base.pth'), '--property-cnn', str(tiny / 'cnn.pth'),
            '--scores', str(tiny / 'scores.csv'), '--out-dir', str(out), '--steps', str(steps),
            '--batch-size', '4', '--eval-every', '1', '--max-minutes', '0', '--device', 'cpu',
            '--spread-samples', '16', *extra]


def trained_layers(model):
    """Parameters that the forward pass uses: at full resolution (lod 0) only the last ToRGB
    layer of the generator draws the image; the coarser ones serve progressive growing."""
    last_rgb = getattr(model, 'synthesis', None) and f'synthesis.output{model.synthesis.num_blocks - 1}.'
    return {name: p for name, p in model.named_parameters()
            if not (name.startswith('synthesis.output') and not name.startswith(last_rgb))}


def test_every_layer_learns_and_outputs_are_written(tiny, tmp_path):
    args = parse_args(arguments(tiny, tmp_path, 2))
    trainer = train(args)
    assert trainer.step == 2
    for model in (trainer.G, trainer.D):
        for name, param in trained_layers(model).items():
            assert param.grad is not None and param.grad.abs().sum() > 0, name
    base = stylegan.load_generator(tiny / 'base.pth', 'v1').state_dict()
    for name, param in trained_layers(trainer.G).items():
        if name in base and name != 'mapping.dense0.weight':  # dense0 is re-initialised anyway
            assert not torch.equal(param.detach(), base[name]), name
    log = pd.read_csv(tmp_path / 'train_log.csv')
    assert tuple(log.columns) == LOG_COLUMNS
    assert list(log.idx) == [0, 1] and log.d_train_count.dtype == np.int64
    assert np.isfinite(log[['d_loss', 'g_loss', 'real_fake_auroc']].to_numpy()).all()
    summary = pd.read_csv(tmp_path / 'samples' / 'summary.csv')
    assert list(summary.psi) == list(SAMPLE_PSIS)
    for name in ('config.json', 'before_finetuning.json', 'corr_curves.png', 'mae_curves.png',
                 'generator.pth', 'discriminator.pth', 'samples/psi_0.50.png', 'samples/psi_0.50.csv'):
        assert (tmp_path / name).exists(), name
    assert stylegan.load_generator(tmp_path / 'generator.pth', 'v5').label_dim == 3


def test_resumed_run_continues_exactly(tiny, tmp_path):
    straight = train(parse_args(arguments(tiny, tmp_path / 'straight', 4)))
    train(parse_args(arguments(tiny, tmp_path / 'resumed', 2)))  # stops with a checkpoint
    resumed = train(parse_args(arguments(tiny, tmp_path / 'resumed', 4)))
    assert (resumed.step, resumed.epoch, resumed.idx) == (straight.step, straight.epoch, straight.idx)
    for a, b in ((straight.G, resumed.G), (straight.D, resumed.D)):
        for key, value in a.state_dict().items():
            assert torch.equal(value, b.state_dict()[key]), key
    for x, y in zip(straight.real_batch(), resumed.real_batch()):  # the same next batch
        assert torch.equal(x, y)
    logs = [pd.read_csv(path / 'train_log.csv') for path in (tmp_path / 'straight', tmp_path / 'resumed')]
    pd.testing.assert_frame_equal(*logs)


def test_improved_options_run(tiny, tmp_path, monkeypatch):
    # A random CNN measures nothing that z could explain linearly, so the warm start is given
    # the linear stand-in of its own tests; the rest of the run uses the CNN of the fixture.
    monkeypatch.setattr(finetune_v5, 'warm_start_label', lambda G, cnn, *rest:
                        warm_start_label(G, LinearScores(3 * 16 * 16), *rest))
    trainer = train(parse_args(arguments(tiny, tmp_path, 1, '--preset', 'improved',
                                         '--label-init-samples', '2000')))
    assert trainer.settings.fake_labels == 'data' and trainer.settings.label_init == 'directions'
    assert trainer.settings.property_weight > 0 and trainer.settings.first_layer_lr_mul > 1
    warm = json.loads((tmp_path / 'warm_start.json').read_text())
    assert warm['samples'] == 2000 and len(warm['fit_r2']) == 7
    assert set(warm['before_warm_start']) == set(LOG_COLUMNS[-9:])  # corr, MAE, leakage
    default = parse_args([])  # with no arguments, the preset that learns
    assert (default.preset, default.label_init, default.max_minutes) == ('improved', 'directions', 10.0)
    lrs = [group['lr'] for group in trainer.opt_G.param_groups]
    assert lrs == [trainer.settings.lr, trainer.settings.lr * trainer.settings.first_layer_lr_mul]
    assert np.isfinite(pd.read_csv(tmp_path / 'train_log.csv').g_loss).all()


@pytest.mark.parametrize('damage, message', [
    (lambda table: table.drop(columns='pose_score'), "missing column"),
    (lambda table: table.assign(mouth_score=np.nan), 'mouth_score: score is missing'),
    (lambda table: table.head(3), 'fewer than one batch'),
])
def test_bad_table_is_a_clear_error(tiny, tmp_path, damage, message):
    bad = tmp_path / 'bad.csv'
    damage(pd.read_csv(tiny / 'scores.csv').assign(img_path=lambda t: str(tiny) + '/' + t.img_path)
           ).to_csv(bad, index=False)
    with pytest.raises(SystemExit, match=message):
        main(arguments(tiny, tmp_path / 'out', 1, '--scores', str(bad)))


def test_a_fresh_start_keeps_no_row_of_a_killed_attempt(tiny, tmp_path):
    (tmp_path / 'train_log.csv').write_text(','.join(LOG_COLUMNS) + '\n' + ','.join(['0'] * len(LOG_COLUMNS)) + '\n')
    train(parse_args(arguments(tiny, tmp_path, 2, '--checkpoint-minutes', '0.0001')))
    log = pd.read_csv(tmp_path / 'train_log.csv')
    assert list(zip(log.epoch, log.idx)) == [(0, 0), (0, 1)]
