"""Raw property scores of one face from its face-parsing label map ("algorithm v2" of the SPEC).

The published implementation walks the label map pixel by pixel and compares every pair of eye
pixels; this one gives the same numbers (to float rounding) with array operations. The one place
where that needs care is the farthest pair of eye pixels: when several pairs are equally far
apart, their angles differ, so the pair the original loop would have met first has to win.

Label classes (11): 0 background, 1 skin, 2 left brow, 3 right brow, 4 left eye, 5 right eye,
6 nose, 7 upper lip, 8 inner mouth, 9 lower lip, 10 hair. "Left" is the left of the image.
"""
import cv2
import numpy as np


MAP_SIZE = 224
BACKGROUND, LEFT_EYE, RIGHT_EYE, UPPER_LIP, INNER_MOUTH, LOWER_LIP, HAIR = 0, 4, 5, 7, 8, 9, 10

MIN_HAIR_PIXELS_PER_ROW = 20
HAIR_COLOR_WITHOUT_HAIR = 127.5
BACKGROUND_WITHOUT_PIXELS = (192.0, 0.0)

# Search areas (rows, columns) of the two eyes; they overlap in the middle of the face.
_EYE_ROWS = slice(MAP_SIZE // 4, 3 * MAP_SIZE // 4)
_LEFT_EYE_COLS = slice(0, 3 * MAP_SIZE // 4)
_RIGHT_EYE_COLS = slice(MAP_SIZE // 4, MAP_SIZE)


def raw_property_scores(label_map, image):
    """The seven raw scores of one face, keyed as in `scores.properties.PROPERTY_NAMES`.

    label_map: [224, 224] integer array in the 11 classes above.
    image: [224, 224, 3] uint8 BGR image the map was parsed from (cv2's channel order).
    Every score is a finite float, whatever is missing from the map.
    """
    label_map, image = _validated(label_map, image)
    left_eye = _eye_pixels(label_map, LEFT_EYE, _LEFT_EYE_COLS)
    right_eye = _eye_pixels(label_map, RIGHT_EYE, _RIGHT_EYE_COLS)
    background_mean, background_std = _background_mean_and_std(label_map, image)
    return {
        'eyes': max(_eye_score(left_eye), _eye_score(right_eye)),
        'hair_color': _hair_color(label_map, image),
        'hair_length': _hair_length(label_map),
        'mouth': _mouth_openness(label_map),
        'pose': _eye_line_slope(left_eye, right_eye),
        'background_mean': background_mean,
        'background_std': background_std,
    }


def image_at_map_size(image_bgr):
    """The image resized to the label map's 224x224, as the scores read it (area averaging)."""
    image_bgr = np.asarray(image_bgr)
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise ValueError(f'image must be uint8 [H, W, 3] (BGR), got {image_bgr.dtype} {image_bgr.shape}')
    if image_bgr.shape[:2] == (MAP_SIZE, MAP_SIZE):
        return image_bgr
    return cv2.resize(image_bgr, (MAP_SIZE, MAP_SIZE), interpolation=cv2.INTER_AREA)


def _validated(label_map, image):
    label_map, image = np.asarray(label_map), np.asarray(image)
    if label_map.shape != (MAP_SIZE, MAP_SIZE) or not np.issubdtype(label_map.dtype, np.integer):
        raise ValueError(f'label_map must be an integer array of shape ({MAP_SIZE}, {MAP_SIZE}), '
                         f'got {label_map.dtype} {label_map.shape}')
    if image.shape != (MAP_SIZE, MAP_SIZE, 3) or image.dtype != np.uint8:
        raise ValueError(f'image must be uint8 of shape ({MAP_SIZE}, {MAP_SIZE}, 3) (BGR), '
                         f'got {image.dtype} {image.shape}')
    return label_map, image


def _eye_pixels(label_map, eye_class, columns):
    """(rows, columns) of the eye's pixels inside its search area, ordered column by column."""
    mask = label_map[_EYE_ROWS, columns] == eye_class
    # The original visits pixels column-major; transposing keeps that order, which breaks ties
    # between equally distant pairs the way it does.
    cols, rows = np.nonzero(mask.T)
    return np.stack([rows + _EYE_ROWS.start, cols + columns.start], axis=1)


def _eye_score(points):
    """Largest per-column height of the eye times the cosine of its farthest pair's angle."""
    if len(points) == 0:
        return 0.0
    return float(_max_column_height(points) * _farthest_pair_cosine(points))


def _max_column_height(points):
    rows, cols = points[:, 0], points[:, 1]
    lowest = np.full(cols.max() + 1, np.iinfo(np.int64).max)
    highest = np.full(cols.max() + 1, -1)
    np.minimum.at(lowest, cols, rows)
    np.maximum.at(highest, cols, rows)
    present = highest >= 0
    return int((highest[present] - lowest[present]).max())


def _farthest_pair_cosine(points):
    """|cos| of the angle to the horizontal of the farthest pair; 1.0 for a single pixel.

    The farthest pair of a point set lies on its convex hull, so only hull vertices are compared.
    Ties go to the pair the original double loop (i ascending, then j < i ascending, strict '>')
    keeps: the smallest later index, then the smallest earlier index.
    """
    if len(points) < 2:
        return 1.0
    hull = cv2.convexHull(points[:, ::-1].astype(np.int32), returnPoints=False).ravel()
    hull = np.unique(hull)  # ascending = the original visiting order
    candidates = points[hull].astype(np.int64)
    squared = ((candidates[:, None, :] - candidates[None, :, :]) ** 2).sum(axis=2)
    later, earlier = np.nonzero(np.tril(squared == squared.max(), k=-1))
    first = np.lexsort((earlier, later))[0]
    dy, dx = np.abs(candidates[later[first]] - candidates[earlier[first]])
    return dx / np.sqrt(dy ** 2 + dx ** 2)


def _eye_line_slope(left_eye, right_eye):
    """Slope (rows per column) of the line between the eye centroids; 0.0 without it.

    The original divides by zero when both centroids share a column; a flat 0.0 keeps the score
    finite there, as it is for a missing eye.
    """
    if len(left_eye) == 0 or len(right_eye) == 0:
        return 0.0
    d_row, d_col = right_eye.mean(axis=0) - left_eye.mean(axis=0)
    return float(d_row / d_col) if d_col != 0 else 0.0


def _mouth_openness(label_map):
    counts = np.bincount(label_map.ravel(), minlength=HAIR + 1)
    lips_and_mouth = counts[UPPER_LIP] + counts[INNER_MOUTH] + counts[LOWER_LIP]
    return float(counts[INNER_MOUTH] / lips_and_mouth) if lips_and_mouth else 0.0


def _trimmed(values, low_fraction, high_fraction):
    """Sorted values between the given fractions of their count, indices truncated as int()."""
    n = len(values)
    return np.sort(values)[int(low_fraction * n):int(high_fraction * n)]


def _hair_color(label_map, image):
    brightness = image[label_map == HAIR].mean(axis=1)
    kept = _trimmed(brightness, 0.1, 0.9)
    return float(kept.mean()) if len(kept) else HAIR_COLOR_WITHOUT_HAIR


def _hair_length(label_map):
    hair = label_map == HAIR
    rows_with_hair = int((hair[MAP_SIZE // 4:].sum(axis=1) >= MIN_HAIR_PIXELS_PER_ROW).sum())
    last_row = hair[-1]
    if last_row.sum() < MIN_HAIR_PIXELS_PER_ROW:
        return float(rows_with_hair)
    # Hair reaching the bottom edge goes on below it; its width there estimates by how much.
    halves = last_row[:MAP_SIZE // 2].sum(), last_row[MAP_SIZE // 2:].sum()
    beyond = sum(max(int(n) - MIN_HAIR_PIXELS_PER_ROW // 2, 0) / 2.0 for n in halves)
    return rows_with_hair + beyond


def _background_mean_and_std(label_map, image):
    top = slice(0, MAP_SIZE // 2)
    brightness = image[top][label_map[top] == BACKGROUND].mean(axis=1)
    n = len(brightness)
    if n == 0:
        return BACKGROUND_WITHOUT_PIXELS
    # Trimming would drop a single pixel entirely; the original keeps it.
    kept = _trimmed(brightness, 0.05, 0.95) if n > 1 else brightness
    return float(kept.mean()), float(kept.std())
