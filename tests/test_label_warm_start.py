"""The label warm start of FineTune-v5: the fit recovers known slopes, the label columns act as
the intended move of z, and on a generator the label then moves the measured properties."""
import numpy as np
import pytest
import torch

import stylegan
from property_score_cnn import PropertyScoreCNN
from property_score_cnn.model import PROPERTY_NAMES
from linear_scores import LinearScores
from stylegan.label_warm_start import fit_property_directions, label_columns, warm_start_label


def test_fit_recovers_known_slopes():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 20))
    slopes = rng.standard_normal((20, 3))
    directions, gram, r2 = fit_property_directions(
        x, x @ slopes + 0.5 + 0.01 * rng.standard_normal((400, 3)))
    np.testing.assert_allclose(directions, slopes, atol=5e-3)
    np.testing.assert_allclose(gram, slopes.T @ slopes, atol=0.02)
    assert (r2 > 0.999).all()


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
    """With targets that hold a fourth property at zero, the move changes it by nothing, though
    its direction correlates with the first property's."""
    rng = np.random.default_rng(2)
    directions = rng.standard_normal((20, 4))
    directions[:, 3] += 2 * directions[:, 0]
    targets = np.eye(4)[:, :3]
    move = directions @ np.linalg.solve(directions.T @ directions, targets)
    np.testing.assert_allclose(directions.T @ move, targets, atol=1e-12)
    z_columns = torch.randn(8, 20, dtype=torch.float64)
    columns = label_columns(z_columns, directions, directions.T @ directions, targets)
    np.testing.assert_allclose(columns.numpy(), z_columns.numpy() @ move, atol=1e-10)


def test_noise_only_directions_are_refused():
    with pytest.raises(ValueError, match='fit on more samples'):
        label_columns(torch.zeros(4, 2, dtype=torch.float64), np.eye(2), -np.eye(2), np.eye(2))


def test_fit_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r'x \[N, D\] and scores \[N, P\]'):
        fit_property_directions(np.zeros((10, 4)), np.zeros((9, 3)))
    with pytest.raises(ValueError, match='need more than 5'):
        fit_property_directions(np.zeros((5, 4)), np.zeros((5, 3)))


def test_label_columns_act_as_the_move_of_z():
    """W_label l == W_z s with s = B (B^T B)^-1 l, and the predicted change of s is l itself."""
    rng = np.random.default_rng(1)
    z_columns = torch.randn(32, 20, dtype=torch.float64)
    directions = rng.standard_normal((20, 3))
    label = np.array([0.7, -1.2, 2.0])
    move = directions @ np.linalg.solve(directions.T @ directions, label)  # s = B G^-1 l
    np.testing.assert_allclose(directions.T @ move, label, atol=1e-12)
    columns = label_columns(z_columns, directions, directions.T @ directions, np.eye(3))
    np.testing.assert_allclose((columns @ torch.from_numpy(label)).numpy(),
                               (z_columns @ torch.from_numpy(move)).numpy(), atol=1e-10)


def test_warm_start_makes_the_label_move_its_property():
    torch.manual_seed(0)
    generator = stylegan.convert_v1_to_v5(stylegan.Generator(stylegan.preset('tiny')), seed=0)
    cnn = LinearScores(3 * 16 * 16)
    z_before = generator.mapping.dense0.weight[:, :512].clone()
    r2 = warm_start_label(generator, cnn, 4000, seed=0, device='cpu')
    assert set(r2) == set(PROPERTY_NAMES)
    assert torch.equal(generator.mapping.dense0.weight[:, :512], z_before)  # z's part untouched
    z = torch.randn(256, 512, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        base = cnn.score(generator(z, torch.zeros(256, 3))['image'], PROPERTY_NAMES)
        for i, name in enumerate(('eyes', 'mouth', 'pose')):
            label = torch.zeros(256, 3)
            label[:, i] = 0.2
            change = (cnn.score(generator(z, label)['image'], PROPERTY_NAMES) - base).mean(0)
            # The asked-for property moves by about the asked-for amount; the other six, the
            # four held ones among them, far less.
            own = change[PROPERTY_NAMES.index(name)].item()
            assert abs(own - 0.2) < 0.05, (name, change)
            assert (change.abs() < 0.35 * own).sum() == 6, (name, change)


def test_warm_start_is_for_v5_generators():
    generator = stylegan.convert_v1_to_v6(stylegan.Generator(stylegan.preset('tiny')))
    with pytest.raises(ValueError, match='for a v5 generator'):
        warm_start_label(generator, PropertyScoreCNN(width=0.125), 600, seed=0, device='cpu')
