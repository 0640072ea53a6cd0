"""Algorithm-v2 property scores, score tables and the label-map scoring command."""
import math
import os

import cv2
import numpy as np
import pandas as pd
import pytest

from scores.properties import PROPERTY_NAMES
from segmentation import raw_property_scores
from segmentation.property_scores import MAP_SIZE
from segmentation.score_label_maps import CELEBAMASK19_TO_11, score_label_maps
from scores.table import (SCORE_COLUMNS, TABLE_COLUMNS, all_scores_table, normalise_scores,
                                      read_score_table, write_score_table)

GOLDEN = os.path.join(os.path.dirname(__file__), 'fixtures', 'property_scores_golden.npz')


@pytest.fixture(scope='module')
def golden():
    return np.load(GOLDEN)


def test_reproduces_every_golden_score(golden):
    assert list(golden['columns']) == list(PROPERTY_NAMES)
    for k, (labels, image, expected) in enumerate(zip(golden['label_maps'], golden['images_bgr'], golden['raw_scores'])):
        got = raw_property_scores(labels, image)
        np.testing.assert_allclose([got[name] for name in PROPERTY_NAMES], expected, rtol=1e-6, atol=0,
                                   err_msg=f'golden map {k}')


def _farthest_pair_cosine_by_all_pairs(points):
    """The original's double loop, to check the hull shortcut and its tie-breaking."""
    best, cosine = 0, 1.0
    for i in range(len(points)):
        for j in range(i):
            (y0, x0), (y1, x1) = points[i], points[j]
            d = (y0 - y1) ** 2 + (x0 - x1) ** 2
            if d > best:
                best, cosine = d, abs(x0 - x1) / math.sqrt(d)
    return cosine


def test_farthest_pair_ties_break_like_the_original():
    from segmentation.property_scores import _farthest_pair_cosine
    rng = np.random.default_rng(0)
    for _ in range(200):
        # Small blobs on a coarse grid have many equally distant pairs with different angles.
        mask = rng.random((6, 6)) < 0.4
        cols, rows = np.nonzero(mask.T)
        points = np.stack([rows, cols], axis=1)
        if len(points) >= 2:
            assert _farthest_pair_cosine(points) == pytest.approx(_farthest_pair_cosine_by_all_pairs(points), abs=1e-12)


def _face_map():
    labels = np.zeros((MAP_SIZE, MAP_SIZE), np.uint8)
    labels[40:224, 40:184] = 10
    labels[60:200, 60:164] = 1
    labels[100:106, 80:100] = 4
    labels[102:108, 124:144] = 5
    labels[150:154, 95:130] = 7
    labels[154:160, 95:130] = 8
    labels[160:164, 95:130] = 9
    return labels


@pytest.mark.parametrize('degenerate', ['no eyes', 'one-pixel eyes', 'no hair', 'no background', 'no lips',
                                        'empty map', 'eyes in one column'])
def test_degenerate_maps_give_finite_scores(degenerate):
    labels = _face_map()
    if degenerate == 'no eyes':
        labels[np.isin(labels, (4, 5))] = 1
    elif degenerate == 'one-pixel eyes':
        labels[np.isin(labels, (4, 5))] = 1
        labels[103, 90], labels[104, 134] = 4, 5
    elif degenerate == 'no hair':
        labels[labels == 10] = 0
    elif degenerate == 'no background':
        labels[labels == 0] = 10
    elif degenerate == 'no lips':
        labels[np.isin(labels, (7, 8, 9))] = 1
    elif degenerate == 'empty map':
        labels[:] = 0
    elif degenerate == 'eyes in one column':
        labels[np.isin(labels, (4, 5))] = 1
        labels[100:104, 100] = 4
        labels[106:110, 100] = 5
    image = np.random.default_rng(0).integers(0, 256, (MAP_SIZE, MAP_SIZE, 3), dtype=np.uint8)
    scores = raw_property_scores(labels, image)
    assert set(scores) == set(PROPERTY_NAMES)
    assert all(math.isfinite(v) for v in scores.values()), scores


def test_rejects_wrong_shapes_with_a_clear_message():
    with pytest.raises(ValueError, match='label_map'):
        raw_property_scores(np.zeros((256, 256), np.uint8), np.zeros((224, 224, 3), np.uint8))
    with pytest.raises(ValueError, match='image'):
        raw_property_scores(np.zeros((224, 224), np.uint8), np.zeros((224, 224), np.uint8))


def test_normalisation_matches_the_published_recipe():
    raw = pd.DataFrame({c: np.random.default_rng(i).normal(3, 2, 50) for i, c in enumerate(SCORE_COLUMNS)})
    table = normalise_scores(raw)
    for c in SCORE_COLUMNS:
        expected = ((raw[c] - raw[c].mean()) / raw[c].std(ddof=1)).round(4)
        np.testing.assert_array_equal(table[c], expected)


def _written_table(tmp_path, n=3):
    for i in range(n):
        (tmp_path / 'images').mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / 'images' / f'{i:06d}.png'), np.zeros((256, 256, 3), np.uint8))
    raw = {name: np.arange(n, dtype=float) * (k + 1) for k, name in enumerate(PROPERTY_NAMES)}
    table = all_scores_table(range(n), [f'images/{i:06d}.png' for i in range(n)], raw)
    write_score_table(table, tmp_path / 'all_scores_v2.csv')
    return tmp_path / 'all_scores_v2.csv'


def test_score_table_round_trip(tmp_path):
    path = _written_table(tmp_path)
    assert list(pd.read_csv(path).columns) == list(TABLE_COLUMNS)
    table = read_score_table(path)
    assert len(table) == 3 and os.path.isfile(table.abs_img_path[2])


@pytest.mark.parametrize('damage, message', [
    (lambda df: df.drop(columns='mouth_score'), r"missing column\(s\) \['mouth_score'\]"),
    (lambda df: df.assign(pose_score=[0.1, np.nan, 0.2]), r'row 1 \(img_no 1\), column pose_score'),
    (lambda df: df.assign(img_path=['images/000000.png', 'images/000001.png', 'images/gone.png']),
     r'row 2 \(img_no 2\), column img_path: image not found'),
])
def test_score_table_errors_name_row_and_column(tmp_path, damage, message):
    path = _written_table(tmp_path)
    damage(pd.read_csv(path)).to_csv(path, index=False)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        read_score_table(path)


def test_score_label_maps_command_matches_direct_scores(golden, tmp_path):
    (tmp_path / 'img').mkdir()
    (tmp_path / 'maps').mkdir()
    for k, (labels, image) in enumerate(zip(golden['label_maps'][:6], golden['images_bgr'][:6])):
        cv2.imwrite(str(tmp_path / 'img' / f'{k:06d}.png'), image)
        cv2.imwrite(str(tmp_path / 'maps' / f'{k:06d}.png'), labels)
    score_label_maps(tmp_path / 'img', tmp_path / 'maps', tmp_path / 'scores.csv', raw_out_path=tmp_path / 'raw.csv')
    raw = pd.read_csv(tmp_path / 'raw.csv')
    np.testing.assert_allclose(raw[list(PROPERTY_NAMES)].to_numpy(), golden['raw_scores'][:6], rtol=1e-6)
    table = read_score_table(tmp_path / 'scores.csv')
    assert table.img_path[0] == os.path.join('img', '000000.png')


def test_celebamask_classes_map_onto_the_eleven():
    to_11 = dict(enumerate(CELEBAMASK19_TO_11))
    # l_eye, r_eye, nose, mouth, u_lip, l_lip, hair
    assert (to_11[4], to_11[5], to_11[10], to_11[11], to_11[12], to_11[13], to_11[17]) == (4, 5, 6, 8, 7, 9, 10)
    assert len(CELEBAMASK19_TO_11) == 19 and CELEBAMASK19_TO_11.max() == 10
