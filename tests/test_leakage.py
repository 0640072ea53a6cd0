"""Leakage on constructed scores: a pure edit leaks nothing, a known side effect leaks its ratio."""
import numpy as np
import pytest

from scores.leakage import leakage, score_changes
from scores.properties import PROPERTY_NAMES
from vectorfind.generation_testing import weight_grid

STD = np.array([1.0, 2.0, 1.0, 1.0, 0.5, 1.0, 1.0])


def scores_of(grid, slopes):
    """Scores [50, 7] exactly linear in the grid's weights: slopes [3, 7] (eyes, mouth, pose rows)."""
    return 0.3 + grid @ slopes


def column(name):
    return PROPERTY_NAMES.index(name)


def test_a_pure_edit_leaks_nothing():
    slopes = np.zeros((3, 7))
    for k, name in enumerate(('eyes', 'mouth', 'pose')):
        slopes[k, column(name)] = 0.7
    result = leakage(weight_grid(), scores_of(weight_grid(), slopes), STD)
    for prop in ('eyes', 'mouth', 'pose'):
        assert result[prop] == pytest.approx((0.0, 0.0), abs=1e-9)


def test_a_known_side_change_leaks_its_ratio():
    grid = weight_grid()
    slopes = np.zeros((3, 7))
    slopes[0, column('eyes')] = 0.5           # eyes: 0.5 per unit, spread 1
    slopes[0, column('hair_color')] = 0.5     # moves hair colour 0.5 per unit, spread 2 -> half
    slopes[0, column('pose')] = 0.1           # and pose 0.1 per unit, spread 0.5 -> 0.4
    slopes[1, column('mouth')] = 1.0
    slopes[2, column('pose')] = 0.2
    slopes[2, column('eyes')] = -0.4          # pose moves the eyes twice as far as itself
    result = leakage(grid, scores_of(grid, slopes), STD)
    assert result['eyes'][0] == pytest.approx(0.5)
    assert result['eyes'][1] == pytest.approx((0.5 + 0.4) / 6)
    assert result['mouth'] == pytest.approx((0.0, 0.0), abs=1e-9)
    assert result['pose'][0] == pytest.approx(0.4 / (0.2 / 0.5))


def test_changes_are_over_each_property_range_in_units_of_spread():
    grid = weight_grid()
    slopes = np.zeros((3, 7))
    slopes[1, column('mouth')] = 1.0
    changes = score_changes(grid, scores_of(grid, slopes), STD)
    assert changes[1, column('mouth')] == pytest.approx(np.ptp(grid[:, 1]))  # 4.8 units of weight


def test_an_edit_that_does_not_move_its_own_score_leaks_infinitely():
    grid = weight_grid()
    slopes = np.zeros((3, 7))
    slopes[0, column('background_mean')] = 1.0
    assert leakage(grid, scores_of(grid, slopes), STD)['eyes'][0] == np.inf


@pytest.mark.parametrize('bad', ['shape', 'std', 'nan'])
def test_bad_input_says_what_was_expected(bad):
    grid = weight_grid()
    scores = scores_of(grid, np.eye(3, 7))
    std = STD
    if bad == 'shape':
        scores = scores[:10]
    elif bad == 'std':
        std = np.zeros(7)
    else:
        scores = scores.copy()
        scores[3, 2] = np.nan
    with pytest.raises(ValueError, match='expected|finite'):
        leakage(grid, scores, std)


def test_finetune_leakage_is_the_median_over_the_fixed_z():
    """FineTune-v5's evaluation: 8 label corners x 10 fixed z; each z's faces give a leakage, and
    the log takes their median, so one odd identity does not decide it."""
    import torch
    from finetune_v5.evaluation import agreement, evaluation_batch
    _, labels = evaluation_batch(torch.zeros(10, 4))
    labels = labels.numpy()
    identity = np.repeat(np.random.default_rng(0).standard_normal((1, 10, 7)), 8, axis=0).reshape(80, 7)
    scores = identity.copy()
    for k, name in enumerate(('eyes', 'mouth', 'pose')):
        scores[:, column(name)] += labels[:, k]
    odd = np.arange(80) % 10 == 3  # z number 3 also turns the background with the eyes
    scores[odd, column('background_mean')] += 5 * labels[odd, 0]
    result = agreement(labels, scores, np.ones(7))
    assert result['eyes_leakage'] == pytest.approx(0.0, abs=1e-9)
    assert result['eyes_corr'] > 0.5 and result['mouth_leakage'] == pytest.approx(0.0, abs=1e-9)
