"""Label maps scored per second: `raw_property_scores` against a per-pixel implementation.

    python -m benchmarks.property_scores_speed --maps 200 --per-pixel-maps 20

The maps are realistic: faces of the default world with their eyes at least half open, so each
eye covers a few hundred pixels (the all-pairs farthest-pair search of the per-pixel version is
quadratic in that). Both implementations score the same maps, and their scores are checked equal
before any time is reported. Times are the median of `--repeats` passes over the maps.
"""
import argparse
import math
import statistics
import time

import cv2
import numpy as np

from scores.properties import PROPERTY_NAMES
from data.face_world import face_rng, render_face, sample_factors
from segmentation.property_scores import MAP_SIZE, image_at_map_size, raw_property_scores


def realistic_maps(n, seed=0):
    """n (label map, BGR image) pairs of world faces with eyes at least half open."""
    pairs = []
    for index in range(n):
        factors = sample_factors(face_rng(seed, index))
        factors['eye_openness'] = 0.5 + 0.5 * factors['eye_openness']
        image, labels = render_face(factors)
        pairs.append((labels, image_at_map_size(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))))
    return pairs


def per_pixel_scores(labels, image):
    """Algorithm v2 written the straightforward way: loops over pixels and over all eye pairs."""
    s = MAP_SIZE
    eyes, eye_points = [], []
    for eye_class, col_offset in ((4, 0), (5, s // 4)):
        points, tallest = [], 0
        for x in range(3 * s // 4):
            column = [y for y in range(s // 4, 3 * s // 4) if labels[y, x + col_offset] == eye_class]
            points += [(y, x + col_offset) for y in column]
            if column:
                tallest = max(tallest, column[-1] - column[0])
        best, cosine = 0, 1.0
        for i in range(len(points)):
            for j in range(i):
                dy, dx = points[i][0] - points[j][0], points[i][1] - points[j][1]
                if dy * dy + dx * dx > best:
                    best, cosine = dy * dy + dx * dx, abs(dx) / math.sqrt(dy * dy + dx * dx)
        eyes.append(tallest * cosine)
        eye_points.append(points)
    left, right = eye_points
    pose = 0.0
    if left and right:
        d_row = sum(p[0] for p in right) / len(right) - sum(p[0] for p in left) / len(left)
        d_col = sum(p[1] for p in right) / len(right) - sum(p[1] for p in left) / len(left)
        pose = d_row / d_col if d_col else 0.0

    counts = [0] * 11
    hair, background, hair_rows = [], [], 0
    for y in range(s):
        row_hair = 0
        for x in range(s):
            label = labels[y, x]
            counts[label] += 1
            if label == 10:
                hair.append(sum(int(c) for c in image[y, x]) / 3)
                row_hair += 1
            elif label == 0 and y < s // 2:
                background.append(sum(int(c) for c in image[y, x]) / 3)
        hair_rows += y >= s // 4 and row_hair >= 20
    hair_length = float(hair_rows)
    if sum(labels[s - 1, x] == 10 for x in range(s)) >= 20:
        for half in (range(0, s // 2), range(s // 2, s)):
            hair_length += max(sum(labels[s - 1, x] == 10 for x in half) - 10, 0) / 2
    lips = counts[7] + counts[8] + counts[9]
    hair = sorted(hair)[int(0.1 * len(hair)):int(0.9 * len(hair))]
    background = sorted(background)
    if len(background) > 1:
        background = background[int(0.05 * len(background)):int(0.95 * len(background))]
    bg_mean = sum(background) / len(background) if background else 192.0
    bg_std = math.sqrt(sum((v - bg_mean) ** 2 for v in background) / len(background)) if background else 0.0
    return {'eyes': max(eyes), 'hair_color': sum(hair) / len(hair) if hair else 127.5,
            'hair_length': hair_length, 'mouth': counts[8] / lips if lips else 0.0, 'pose': pose,
            'background_mean': bg_mean, 'background_std': bg_std}


def maps_per_second(score, maps, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for labels, image in maps:
            score(labels, image)
        times.append(time.perf_counter() - start)
    return len(maps) / statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--maps', type=int, default=200, help='maps timed for raw_property_scores')
    parser.add_argument('--per-pixel-maps', type=int, default=20, help='maps timed for the per-pixel version')
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args(argv)
    maps = realistic_maps(max(args.maps, args.per_pixel_maps))
    eye_pixels = [np.count_nonzero(labels == c) for labels, _ in maps for c in (4, 5)]
    for labels, image in maps[:args.per_pixel_maps]:
        fast, slow = raw_property_scores(labels, image), per_pixel_scores(labels, image)
        np.testing.assert_allclose([fast[k] for k in PROPERTY_NAMES], [slow[k] for k in PROPERTY_NAMES], rtol=1e-9)
    fast = maps_per_second(raw_property_scores, maps[:args.maps], args.repeats)
    slow = maps_per_second(per_pixel_scores, maps[:args.per_pixel_maps], args.repeats)
    print(f'eye pixels per eye: median {int(np.median(eye_pixels))}, range {min(eye_pixels)}..{max(eye_pixels)}')
    print(f'raw_property_scores: {fast:8.1f} maps/s ({args.maps} maps)')
    print(f'per-pixel version:   {slow:8.2f} maps/s ({args.per_pixel_maps} maps)')
    print(f'speed-up: {fast / slow:.0f}x')


if __name__ == '__main__':
    main()
