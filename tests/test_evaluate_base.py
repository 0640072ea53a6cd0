"""The base generator's coverage measure and the evaluate command that reports it."""

import numpy as np
import pandas as pd
import pytest
import torch

from property_score_cnn import PropertyScoreCNN, save_property_score_cnn
from random_world import write_random_world
from stylegan import Generator, architecture, save_generator
from base_training.evaluate import coverage, main


def test_coverage_is_the_share_of_the_data_range_inside_the_samples_range():
    data = np.linspace(0.0, 10.0, 1001)  # 5th-95th percentile range: 0.5 .. 9.5
    assert coverage(data, data) == pytest.approx(1.0)
    # Samples over 0 .. 5: their 5th-95th range 0.25 .. 4.75 holds 0.5 .. 4.75 of the data's.
    assert coverage(np.linspace(0.0, 5.0, 1001), data) == pytest.approx((4.75 - 0.5) / 9.0)
    assert coverage(data + 100.0, data) == 0.0


@pytest.fixture(scope='module')
def tiny_models(tmp_path_factory):
    root = tmp_path_factory.mktemp('models')
    torch.manual_seed(0)
    save_generator(Generator(architecture('tiny')), root / 'generator.pth')
    save_property_score_cnn(PropertyScoreCNN(width=0.125), root / 'cnn.pth')
    write_random_world(root / 'world', n=30)
    return root


def evaluate_args(root, out, generator='generator.pth'):
    return ['--generator', str(root / generator), '--cnn', str(root / 'cnn.pth'),
            '--scores-table', str(root / 'world' / 'all_scores_v2.csv'), '--n', '40',
            '--grid', str(out / 'grid.png'), '--plot', str(out / 'coverage.png'),
            '--out', str(out / 'evaluate.csv')]


def test_evaluate_writes_the_coverage_table_and_the_grid(tiny_models, tmp_path):
    main(evaluate_args(tiny_models, tmp_path))
    result = pd.read_csv(tmp_path / 'evaluate.csv')
    assert list(zip(result.latents, result.property)) == [
        (latents, prop) for latents in ('v1', 'v6') for prop in ('eyes', 'mouth', 'pose')]
    assert result.coverage.between(0.0, 1.0).all()
    assert result[result.latents == 'v1'].label_corr.between(-1.0, 1.0).all()
    assert result[result.latents == 'v6'].label_corr.isna().all()
    assert (result.passed == (result.coverage >= 0.7)).all()
    for name in ('grid.png', 'coverage.png', 'evaluate_config.json'):
        assert (tmp_path / name).exists(), name
    # The same seed measures the same figures.
    main(evaluate_args(tiny_models, tmp_path / 'again'))
    pd.testing.assert_frame_equal(result, pd.read_csv(tmp_path / 'again' / 'evaluate.csv'))


def test_a_missing_generator_is_named(tiny_models, tmp_path):
    with pytest.raises(SystemExit, match='missing.pth'):
        main(evaluate_args(tiny_models, tmp_path, generator='missing.pth'))
