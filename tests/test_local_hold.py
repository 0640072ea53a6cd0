"""The local hold (`vectorfind/local_hold.py`) on a tiny generator and a random CNN: its Jacobian
agrees with finite differences of the scores, and the held directions keep the other six scores
still to first order along the path while raising their own, the more so the further they reach."""
import numpy as np
import pytest
import torch

from scores.properties import CORE_PROPERTIES, PROPERTY_NAMES
from property_score_cnn import PropertyScoreCNN
from stylegan import Generator, convert_v1_to_v6, architecture
from vectorfind.generation_testing import GRID_RANGES
from vectorfind import local_hold
from vectorfind.local_hold import POINTS, REACH, LocalHold, score_jacobian
from vectorfind.spaces import CodeEditor, LatentSpace

SPACES = [LatentSpace('z'), LatentSpace('w', {'pose': (0, 2)})]


@pytest.fixture(scope='module')
def models():
    torch.manual_seed(0)
    generator = convert_v1_to_v6(Generator(architecture('tiny'))).eval().double()
    return generator, PropertyScoreCNN(width=0.125).eval().double()


def directions_of(space, generator, seed=0):
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((3, space.dim(generator)))
    return directions / np.linalg.norm(directions, axis=1, keepdims=True)


def scores_at(space, generator, cnn, code, weights, directions):
    with torch.no_grad():
        editor = CodeEditor(generator, space)
        return cnn.score(editor.images(editor.edited(code, weights, directions)), PROPERTY_NAMES).numpy()


@pytest.mark.parametrize('space', SPACES, ids=['z', 'w, pose on layers 0-1'])
def test_the_jacobian_is_the_scores_derivative(models, space):
    generator, cnn = models
    code = np.random.default_rng(1).standard_normal(515)
    directions = directions_of(space, generator)
    k, t = 2, 0.6  # pose, at one offset along its direction
    jacobian = score_jacobian(CodeEditor(generator, space), cnn, code, directions, k, [t])
    probe = np.random.default_rng(2).standard_normal(directions.shape[1])
    eps = 1e-9  # the generator's leaky ReLUs make the scores piecewise smooth: a small step
    weights = np.zeros((1, 3))
    weights[0, k] = 1.0

    def moved(sign):
        shifted = directions.copy()
        shifted[k] = t * directions[k] + sign * eps * probe
        return scores_at(space, generator, cnn, code, weights, shifted)[0]
    np.testing.assert_allclose(jacobian @ probe, (moved(1) - moved(-1)) / (2 * eps), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('space', SPACES, ids=['z', 'w, pose on layers 0-1'])
def test_held_directions_keep_the_other_scores_still_along_the_path(models, space, monkeypatch):
    generator, cnn = models
    code = np.random.default_rng(3).standard_normal(515)
    directions = directions_of(space, generator)
    monkeypatch.setattr(local_hold, 'AGAIN', (0, 0, 0))  # one pass: the second is checked below
    held = LocalHold(cnn).directions(CodeEditor(generator, space), code, directions, GRID_RANGES)
    assert held.shape == directions.shape
    np.testing.assert_allclose(np.linalg.norm(held, axis=1), 1.0, rtol=1e-9)
    for k, prop in enumerate(CORE_PROPERTIES):
        jacobian = score_jacobian(CodeEditor(generator, space), cnn, code, directions, k,
                                  np.linspace(*GRID_RANGES[k], POINTS[k]))
        own = PROPERTY_NAMES.index(prop)
        moves = jacobian @ held[k]
        assert moves[own] > 0
        assert np.abs(np.delete(moves, own)).max() < 1e-8 * np.abs(jacobian).max()
        # without the hold, the same scores do move
        assert np.abs(np.delete(jacobian @ directions[k], own)).max() > 1e-3 * np.abs(jacobian).max()
        # the closest such direction to the fitted one turned by the reach toward the own score's
        # gradient (or its opposite, when that raises the score)
        others = np.delete(jacobian, own, axis=0)
        aim = directions[k] + REACH * jacobian[own] / np.linalg.norm(jacobian[own])
        closest = aim - np.linalg.pinv(others) @ (others @ aim)
        assert abs(held[k] @ closest) / np.linalg.norm(closest) == pytest.approx(1.0, abs=1e-9)


def test_a_longer_reach_keeps_more_of_the_own_change(models, monkeypatch):
    """Reach 0 holds the fitted direction itself; each longer reach moves the own score further
    per unit of edit while the others stay held."""
    generator, cnn = models
    space = SPACES[1]
    code = np.random.default_rng(5).standard_normal(515)
    directions = directions_of(space, generator, seed=1)
    monkeypatch.setattr(local_hold, 'AGAIN', (0, 0, 0))
    held = {reach: LocalHold(cnn, reach).directions(CodeEditor(generator, space), code, directions,
                                                    GRID_RANGES)
            for reach in (0.0, 1.0, 4.0)}
    for k, prop in enumerate(CORE_PROPERTIES):
        jacobian = score_jacobian(CodeEditor(generator, space), cnn, code, directions, k,
                                  np.linspace(*GRID_RANGES[k], POINTS[k]))
        own = PROPERTY_NAMES.index(prop)
        others = np.delete(jacobian, own, axis=0)
        fitted_held = directions[k] - np.linalg.pinv(others) @ (others @ directions[k])
        assert abs(held[0.0][k] @ fitted_held) / np.linalg.norm(fitted_held) == pytest.approx(1.0, abs=1e-9)
        own_change = [jacobian[own] @ held[reach][k] for reach in (0.0, 1.0, 4.0)]
        assert 0 < own_change[0] < own_change[1] < own_change[2]
        for reach in (1.0, 4.0):
            assert np.abs(others @ held[reach][k]).max() < 1e-8 * np.abs(jacobian).max()


def test_a_reach_that_is_not_a_number_of_at_least_0_is_refused(models):
    generator, cnn = models
    directions = directions_of(SPACES[0], generator)
    for reach in (-1.0, float('nan')):
        with pytest.raises(ValueError, match='hold reach'):
            LocalHold(cnn, reach)


def test_a_second_pass_holds_along_the_held_directions_path(models, monkeypatch):
    generator, cnn = models
    space = SPACES[1]
    code = np.random.default_rng(4).standard_normal(515)
    directions = directions_of(space, generator)
    monkeypatch.setattr(local_hold, 'AGAIN', (0, 0, 0))
    first = LocalHold(cnn).directions(CodeEditor(generator, space), code, directions, GRID_RANGES)
    monkeypatch.setattr(local_hold, 'AGAIN', (0, 0, 5))
    second = LocalHold(cnn).directions(CodeEditor(generator, space), code, directions, GRID_RANGES)
    np.testing.assert_array_equal(second[:2], first[:2])  # eyes and mouth: one pass only
    jacobian = score_jacobian(CodeEditor(generator, space), cnn, code, first, 2, np.linspace(*GRID_RANGES[2], 5))
    moves = jacobian @ second[2]
    own = PROPERTY_NAMES.index('pose')
    assert moves[own] > 0 and np.abs(np.delete(moves, own)).max() < 1e-8 * np.abs(jacobian).max()
    assert not np.allclose(second[2], first[2])
