"""How closely the face world's factors control the property scores.

    python -m data.factor_scores --n 2000 --seed 1

Renders n faces in memory, scores their label maps with algorithm v2 and prints, per controlled
factor, the Spearman rank correlation between the factor and the score it drives.
"""
import argparse

import cv2
import numpy as np
import pandas as pd

from data.face_world import SCORE_OF_FACTOR, render_faces
from segmentation.property_scores import image_at_map_size, raw_property_scores


def raw_scores_of_faces(images_rgb, label_maps):
    """Algorithm-v2 raw scores of rendered faces, one row per face."""
    rows = [raw_property_scores(labels, image_at_map_size(cv2.cvtColor(image, cv2.COLOR_RGB2BGR)))
            for image, labels in zip(images_rgb, label_maps)]
    return pd.DataFrame(rows)


def factor_score_spearman(n, seed):
    """Spearman correlation of each controlled factor with its score, over n fresh faces."""
    images, label_maps, factors = render_faces(n, seed)
    scores = raw_scores_of_faces(images, label_maps)
    return pd.Series({factor: factors[factor].reset_index(drop=True).corr(scores[score], method='spearman')
                      for factor, score in SCORE_OF_FACTOR.items()}, name='spearman')


def factor_coupling(factors, scores):
    """How each score depends on every controlled factor: the coefficients [factors, scores] of a
    least-squares fit of each standardised score on all standardised factors (and the size of the
    head turn, |head_turn|, which a left-right symmetric effect would follow). The diagonal is
    each factor's own score; anything off it is a coupling a steering edit cannot undo."""
    x = factors[list(SCORE_OF_FACTOR)].reset_index(drop=True).astype(float)
    x['abs_head_turn'] = x.head_turn.abs()
    x = (x - x.mean()) / x.std()
    y = pd.DataFrame(scores).reset_index(drop=True)
    y = (y - y.mean()) / y.std()
    design = np.column_stack([x.to_numpy(), np.ones(len(x))])
    coefficients = np.linalg.lstsq(design, y.to_numpy(), rcond=None)[0][:-1]
    return pd.DataFrame(coefficients, index=x.columns, columns=y.columns)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--n', type=int, default=2000)
    parser.add_argument('--seed', type=int, default=1)
    args = parser.parse_args(argv)
    spearman = factor_score_spearman(args.n, args.seed)
    for factor, rho in spearman.items():
        print(f'{factor:22s} -> {SCORE_OF_FACTOR[factor]:16s} Spearman {rho:.4f}')


if __name__ == '__main__':
    main()
