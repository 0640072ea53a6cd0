"""Least-squares latent directions: known slopes come back, the Gram matrix is corrected for the
fit's noise, a chunked fit equals a one-go fit, held properties do not move, bad input is named,
a group too noisy for its own fit borrows the fit over all samples."""
import numpy as np
import pytest

from scores.properties import CORE_PROPERTIES
from vectorfind.directions import least_squares_directions
from vectorfind.groups import ALL_SAMPLES, property_column
from vectorfind.least_squares import LeastSquares, conditional_moves, fit_property_directions


def test_fit_recovers_known_slopes():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 20))
    slopes = rng.standard_normal((20, 3))
    directions, gram, r2 = fit_property_directions(
        x, x @ slopes + 0.5 + 0.01 * rng.standard_normal((400, 3)))
    np.testing.assert_allclose(directions, slopes, atol=5e-3)
    np.testing.assert_allclose(gram, slopes.T @ slopes, atol=0.02)
    assert (r2 > 0.999).all()


def test_chunked_fit_equals_one_go():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((300, 10)), rng.standard_normal((300, 2))
    chunked = LeastSquares().add(x[:120], y[:120]).add(x[120:], y[120:]).solve()
    for a, b in zip(chunked, fit_property_directions(x, y)):
        np.testing.assert_allclose(a, b, atol=1e-10)
    slopes = np.linalg.lstsq(np.hstack([x, np.ones((300, 1))]), y, rcond=None)[0][:-1]
    np.testing.assert_allclose(chunked[0], slopes, atol=1e-10)


def test_gram_is_corrected_for_the_noise_of_the_fit():
    """With few samples and much noise, B^T B overstates the true slopes' Gram matrix; the
    returned one does not, on average over repeated fits."""
    rng = np.random.default_rng(0)
    slopes = rng.standard_normal((100, 3)) * 0.05
    raw, corrected = [], []
    for _ in range(20):
        x = rng.standard_normal((300, 100))
        directions, gram, _ = fit_property_directions(x, x @ slopes + rng.standard_normal((300, 3)))
        raw.append(np.diag(directions.T @ directions))
        corrected.append(np.diag(gram))
    truth = np.diag(slopes.T @ slopes)
    assert (np.mean(raw, axis=0) > 1.5 * truth).all()
    np.testing.assert_allclose(np.mean(corrected, axis=0), truth, rtol=0.25)


def test_held_properties_do_not_move():
    """Targets that hold a fourth property at zero: the moves change it by nothing, though its
    direction correlates with the first property's, and change each other one as asked."""
    rng = np.random.default_rng(2)
    directions = rng.standard_normal((20, 4))
    directions[:, 3] += 2 * directions[:, 0]
    targets = np.eye(4)[:, :3]
    moves = conditional_moves(directions, directions.T @ directions, targets)
    np.testing.assert_allclose(directions.T @ moves, targets, atol=1e-12)
    # The smallest such moves: nothing in them is orthogonal to every direction.
    projector = directions @ np.linalg.pinv(directions)
    np.testing.assert_allclose(projector @ moves, moves, atol=1e-12)


def test_noise_only_directions_are_refused():
    with pytest.raises(ValueError, match='fit on more samples'):
        conditional_moves(np.eye(2), -np.eye(2), np.eye(2))


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r'x \[N, D\] and scores \[N, P\]'):
        fit_property_directions(np.zeros((10, 4)), np.zeros((9, 3)))
    with pytest.raises(ValueError, match='need more than 5'):
        fit_property_directions(np.zeros((5, 4)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match='as in the earlier chunks'):
        LeastSquares().add(np.zeros((5, 4)), np.zeros((5, 3))).add(np.zeros((5, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r'targets \[3, L\]'):
        conditional_moves(np.eye(3), np.eye(3), np.eye(2))


def test_a_group_lost_in_noise_borrows_the_fit_over_all_samples():
    """A group whose scores carry no trend (pure noise) cannot give moves: it takes the
    all-sample fit instead of failing the run; a group with a trend keeps its own."""
    rng = np.random.default_rng(0)
    n, dim = 4000, 10
    codes = rng.standard_normal((n, dim))
    groups = np.where(np.arange(n) < n - 40, 'hhh', 'lll')
    trend = codes @ rng.standard_normal((dim, 3)) + 0.1 * rng.standard_normal((n, 3))
    scores = np.zeros((n, 7))
    scores[:, [property_column(p) for p in CORE_PROPERTIES]] = np.where(
        (groups == 'hhh')[:, None], trend, rng.standard_normal((n, 3)))
    directions, report = least_squares_directions([(codes, scores)], lambda s: groups, ['hhh', 'lll'])
    borrowed = report.groupby('group').borrowed_from_all.all()
    assert not borrowed['hhh'] and borrowed['lll']
    assert (report[report.group == 'lll'].n == n).all()
    everyone, _ = least_squares_directions([(codes, scores)], lambda s: groups, [ALL_SAMPLES])
    for prop in CORE_PROPERTIES:
        np.testing.assert_allclose(directions[prop, 'lll'], everyone[prop, ALL_SAMPLES])
        assert np.linalg.norm(directions[prop, 'hhh']) == pytest.approx(1, abs=1e-5)


@pytest.mark.parametrize('hold, others_still', [('all', True), ('core', False)])
def test_holding_all_seven_scores_leaves_the_other_six_still(hold, others_still):
    """On scores linear in the code, with every score's direction entangled with the others,
    `hold='all'` moves each steered score and the other six by less than 5% of that; holding only
    eyes, mouth and pose lets the other four follow."""
    rng = np.random.default_rng(1)
    n, dim = 6000, 40
    codes = rng.standard_normal((n, dim))
    shared = rng.standard_normal((dim, 1))
    slopes = rng.standard_normal((dim, 7)) + 1.5 * shared  # every pair of scores correlated
    scores = codes @ slopes + 0.1 * rng.standard_normal((n, 7))
    directions, _ = least_squares_directions([(codes, scores)], lambda s: np.full(len(s), ALL_SAMPLES),
                                             [ALL_SAMPLES], hold=hold)
    for prop in CORE_PROPERTIES:
        change = directions[prop, ALL_SAMPLES] @ slopes  # the true change of all seven scores
        own = property_column(prop)
        ratios = np.abs(np.delete(change, own)) / abs(change[own])
        assert (ratios.max() < 0.05) == others_still, (prop, ratios.round(3))
