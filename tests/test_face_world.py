"""The synthetic face world: geometry, factor control of the scores, the builder, the dataset."""
import numpy as np
import pandas as pd
import pytest
import torch

from data.build_default_world import build_world
from data.datasets import ScoreTableDataset
from data.face_world import SCORE_OF_FACTOR, face_rng, render, render_face, render_faces, sample_factors
from data.factor_scores import factor_score_spearman
from scores.table import SCORE_COLUMNS, TABLE_COLUMNS

# The thresholds over 2,000 faces, loosened a little for a 300-face sample.
MIN_SPEARMAN = {'eye_openness': 0.94, 'mouth_openness': 0.94, 'head_turn': 0.94,
                'hair_lightness': 0.88, 'hair_reach': 0.88, 'background_brightness': 0.88}


def test_render_shapes_and_determinism():
    image, labels = render(5)
    assert image.shape == (256, 256, 3) and image.dtype == np.uint8
    assert labels.shape == (224, 224) and labels.dtype == np.uint8 and labels.max() <= 10
    again, labels_again = render_face(sample_factors(face_rng(5, 0)))
    np.testing.assert_array_equal(image, again)
    np.testing.assert_array_equal(labels, labels_again)


def test_render_faces_is_one_call_and_indexes_faces():
    images, label_maps, factors = render_faces(3, seed=9, start=10)
    assert images.shape == (3, 256, 256, 3) and label_maps.shape == (3, 224, 224)
    assert list(factors.index) == [10, 11, 12]
    np.testing.assert_array_equal(images[1], render_face(sample_factors(face_rng(9, 11)))[0])


def test_faces_sit_in_the_property_cnn_crops():
    """Eyes in rows 96..144 / columns 64..192, mouth in rows 160..208 / columns 96..160 (at 256)."""
    _, label_maps, _ = render_faces(40, seed=2)
    scale = 256 / 224
    for labels in label_maps:
        for classes, (top, bottom, left, right) in (((4, 5), (96, 144, 64, 192)), ((7, 8, 9), (160, 208, 96, 160))):
            rows, cols = np.nonzero(np.isin(labels, classes))
            assert top <= rows.mean() * scale <= bottom and left <= cols.mean() * scale <= right
        assert (labels == 4).any() and (labels == 5).any(), 'closed eyes still leave a sliver of eye'


def test_render_rejects_incomplete_factors():
    factors = sample_factors(np.random.default_rng(0))
    del factors['eye_openness']
    with pytest.raises(ValueError, match='eye_openness'):
        render_face(factors)


def test_factors_control_their_scores():
    spearman = factor_score_spearman(300, seed=11)
    for factor, minimum in MIN_SPEARMAN.items():
        assert spearman[factor] >= minimum, f'{factor} -> {SCORE_OF_FACTOR[factor]}: {spearman[factor]:.3f}'


def test_build_resumes_and_feeds_the_dataset(tmp_path):
    out = tmp_path / 'world'
    build_world(12, seed=4, out=str(out), workers=1, block_size=5)
    first = pd.read_csv(out / 'all_scores_v2.csv')
    assert list(first.columns) == list(TABLE_COLUMNS) and len(first) == 12
    assert len(pd.read_csv(out / 'factors.csv')) == 12

    # An interrupted build: one block and its images lost; the re-run rebuilds just that.
    (out / 'blocks' / '000005.csv').unlink()
    (out / 'images' / '000007.png').unlink()
    untouched = (out / 'images' / '000001.png').stat().st_mtime_ns
    build_world(12, seed=4, out=str(out), workers=1, block_size=5)
    pd.testing.assert_frame_equal(pd.read_csv(out / 'all_scores_v2.csv'), first)
    assert (out / 'images' / '000001.png').stat().st_mtime_ns == untouched
    with pytest.raises(ValueError, match='seed'):
        build_world(12, seed=5, out=str(out), workers=1, block_size=5)

    dataset = ScoreTableDataset(out / 'all_scores_v2.csv')
    image, scores, path = dataset[7]
    assert image.shape == (3, 256, 256) and image.dtype == torch.float32
    assert -1.0 <= image.min() and image.max() <= 1.0
    torch.testing.assert_close(scores, torch.tensor(first.loc[7, list(SCORE_COLUMNS)].to_numpy(float), dtype=torch.float32))
    assert path.endswith('000007.png')


def test_factor_coupling_finds_a_planted_coupling_and_the_world_has_none():
    from data.face_world import render_faces
    from data.factor_scores import factor_coupling, raw_scores_of_faces
    images, label_maps, factors = render_faces(60, 5)
    scores = raw_scores_of_faces(images, label_maps)
    table = factor_coupling(factors, scores)
    assert table.loc['eye_openness', 'eyes'] > 0.9 and abs(table.loc['head_turn', 'eyes']) < 0.1
    planted = scores.assign(eyes=scores.eyes + 3 * scores.eyes.std() * factors.head_turn.to_numpy())
    assert abs(factor_coupling(factors, planted).loc['head_turn', 'eyes']) > 0.5
