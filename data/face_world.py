"""A procedural world of portraits, each with its exact face-parsing label map.

No face photographs or face-parsing weights are available here, so the repository renders its own
faces. Every face comes from a dictionary of factors drawn from a seeded random source; the image
and the label map are drawn from the same polygons, so the label map is exact, and the property
scores of the SPEC (algorithm v2) computed on it follow the factors that control them:

    eye_openness          0 closed .. 1 wide          -> eyes score (eye height in the map)
    mouth_openness        0 closed lips .. 1 wide     -> mouth score (inner-mouth share)
    head_turn            -1 .. 1                      -> pose score (slope of the eye line)
    hair_lightness        0 dark .. 1 light           -> hair_color score
    hair_reach            0 short .. 1 past the edge  -> hair_length score
    background_brightness 0 dark .. 1 light           -> background_mean score
    background_texture    0 flat .. 1 busy            -> background_std score

The other factors (face shape and size, skin, eye spacing and colour, brows, nose, lips, fringe,
shading, small shifts, texture seeds) are nuisance: they make it a world rather than a template.

API:
    sample_factors(rng) -> dict                    all factors of one face
    render_face(factors) -> (image, label_map)     image: uint8 RGB [256, 256, 3];
                                                   label_map: uint8 [224, 224], 11 classes
    render(seed_or_factors) -> (image, label_map)  one face from an int seed or a factor dict
    render_faces(n, seed, start=0) -> (images [n,256,256,3], label_maps [n,224,224], factors DataFrame)

Face i of a world with seed S always comes from `face_rng(S, i)`, so any face can be re-rendered
alone. The face is roughly centred like an aligned portrait: eyes within rows 96..144 and columns
64..192, the mouth within rows 160..208 and columns 96..160 (the Property Score CNN's crops).
"""
import cv2
import numpy as np
import pandas as pd

IMAGE_SIZE = 256
LABEL_SIZE = 224

# The score each controlled factor drives (scores.properties.PROPERTY_NAMES).
SCORE_OF_FACTOR = {'eye_openness': 'eyes', 'mouth_openness': 'mouth', 'head_turn': 'pose',
                   'hair_lightness': 'hair_color', 'hair_reach': 'hair_length',
                   'background_brightness': 'background_mean', 'background_texture': 'background_std'}

# Painter's order of the labelled parts: later parts cover earlier ones.
PART_LABELS = (('clothes', 0), ('hair_legs', 10), ('neck', 1), ('hair_cap', 10), ('face', 1),
               ('nose', 6), ('left_brow', 2), ('right_brow', 3), ('left_eye', 4), ('right_eye', 5),
               ('upper_lip', 7), ('lower_lip', 9), ('inner_mouth', 8), ('fringe', 10))

_SUBPIXEL_BITS = 4
MAX_ROLL_DEGREES = 13.0
MAX_EYE_HEIGHT = 20.0     # px at 256, wide open
MAX_MOUTH_GAP = 22.0      # px at 256, inner mouth height when wide open
INNER_MOUTH_COLOUR = np.array([70, 22, 28.0])


def face_rng(seed, index):
    """The random source of face `index` in the world with `seed`."""
    return np.random.default_rng([int(seed), int(index)])


def sample_factors(rng):
    """All factors of one face: the controlled ones uniform on their range, plus nuisance."""
    u = rng.uniform
    return {
        'eye_openness': u(0, 1), 'mouth_openness': u(0, 1), 'head_turn': u(-1, 1),
        'hair_lightness': u(0, 1), 'hair_reach': u(0, 1),
        'background_brightness': u(0, 1), 'background_texture': u(0, 1),
        'background_pattern': int(rng.integers(3)), 'background_hue': u(0, 2 * np.pi),
        'shift_x': u(-4, 4), 'shift_y': u(-4, 4),
        'face_half_width': u(56, 66), 'face_half_height': u(80, 90), 'chin_point': u(0.05, 0.3),
        'skin_lightness': u(95, 225), 'skin_warmth': u(0.6, 1.0), 'light_side': u(-1, 1),
        'eye_spacing': u(27, 33), 'eye_half_width': u(12, 15), 'eye_row': u(-16, -12),
        'iris_hue': u(0, 1), 'iris_darkness': u(0.2, 1.0),
        'brow_thickness': u(3, 6), 'brow_arch': u(1, 5), 'brow_gap': u(16, 19), 'brow_darkness': u(0.3, 0.8),
        'nose_length': u(30, 37), 'nose_half_width': u(10, 14),
        'mouth_half_width': u(18, 24), 'upper_lip': u(5, 6.5), 'lower_lip': u(6.5, 8),
        'mouth_row': u(36, 40), 'lip_redness': u(0.3, 1.0),
        'hair_warmth': u(-0.5, 1.0), 'hair_volume': u(8, 14), 'fringe': u(0, 1), 'fringe_skew': u(-12, 12),
        'clothes_hue': u(0, 2 * np.pi), 'clothes_lightness': u(40, 200),
        'texture_seed': int(rng.integers(2 ** 31)),
    }


FACTOR_NAMES = tuple(sample_factors(np.random.default_rng(0)))


def render(seed_or_factors):
    """One face, from an int seed (face 0 of that world) or from a factor dict."""
    if isinstance(seed_or_factors, dict):
        return render_face(seed_or_factors)
    return render_face(sample_factors(face_rng(seed_or_factors, 0)))


def render_faces(n, seed, start=0):
    """Faces start .. start + n - 1 of the world with `seed`, in memory.

    Returns images uint8 [n, 256, 256, 3] RGB, label maps uint8 [n, 224, 224] and the factors as a
    DataFrame indexed by face number.
    """
    if n < 0:
        raise ValueError(f'n must be non-negative, got {n}')
    factors = [sample_factors(face_rng(seed, i)) for i in range(start, start + n)]
    images = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    label_maps = np.zeros((n, LABEL_SIZE, LABEL_SIZE), np.uint8)
    for k, f in enumerate(factors):
        images[k], label_maps[k] = render_face(f)
    return images, label_maps, pd.DataFrame(factors, index=pd.RangeIndex(start, start + n, name='img_no'))


def render_face(factors):
    """The image (uint8 RGB [256, 256, 3]) and label map (uint8 [224, 224]) of one face."""
    missing = [k for k in FACTOR_NAMES if k not in factors]
    if missing:
        raise ValueError(f'factors lack {missing}; draw them with sample_factors(rng)')
    parts, anchors = face_geometry(factors)
    return paint_image(parts, anchors, factors), label_map(parts, LABEL_SIZE)


# ---------------------------------------------------------------------------------------------
# Geometry: polygons (x, y) in pixel units of the 256 image, pixel centres on integers.

def face_geometry(f):
    """Polygons of every labelled part, and the anchor points the painter needs for details."""
    turn = f['head_turn']
    fx, fy = 128 + f['shift_x'] + 4 * turn, 134 + f['shift_y']
    fw, fh = f['face_half_width'], f['face_half_height']
    roll = np.deg2rad(MAX_ROLL_DEGREES) * turn
    gap = MAX_MOUTH_GAP * f['mouth_openness']

    def head(points):  # head-frame offsets -> image, rolled about the face centre
        return _rotate(np.asarray(points, float), roll) + (fx, fy)

    parts = {'face': head(_face_outline(fw, fh, f['chin_point'], gap))}
    parts.update(_hair(f, fx, fy, fw, fh, head))
    parts['neck'] = np.array([(fx - 0.42 * fw, fy + 0.4 * fh), (fx + 0.42 * fw, fy + 0.4 * fh),
                              (fx + 0.5 * fw, 300), (fx - 0.5 * fw, 300)])
    parts['clothes'] = _shoulders(fx, fy + fh + 0.35 * gap + 22, fw)

    # Yaw: features slide towards the turn, and the far eye looks narrower.
    slide = 5 * turn
    eye_centres = {}
    for side, sign in (('left', -1), ('right', 1)):
        centre = head([(sign * f['eye_spacing'] + slide, f['eye_row'])])[0]
        half_width = f['eye_half_width'] * (1 - 0.12 * max(sign * turn, 0))
        # Eyes stay level while the eye line tilts: the eyes score measures openness, not roll.
        parts[f'{side}_eye'] = _almond(centre, half_width, 1 + (MAX_EYE_HEIGHT - 1) * f['eye_openness'])
        parts[f'{side}_brow'] = head(_brow(sign * (f['eye_spacing'] + 2) + slide,
                                           f['eye_row'] - f['brow_gap'], f, sign))
        eye_centres[side] = (centre, half_width)
    parts['nose'] = head(_nose(1.4 * slide, f['eye_row'] + 2, f['nose_length'], f['nose_half_width']))
    lips = _lips(slide, f['mouth_row'], f['mouth_half_width'], f['upper_lip'], f['lower_lip'], gap)
    parts.update({name: head(poly) for name, poly in lips.items()})
    anchors = {'centre': (fx, fy), 'roll': roll, 'eyes': eye_centres,
               'nose_tip': head([(1.4 * slide, f['eye_row'] + 2 + f['nose_length'])])[0],
               'mouth_line': head(_mouth_line(slide, f['mouth_row'], f['mouth_half_width'], gap))}
    return parts, anchors


def _rotate(points, angle):
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def _face_outline(fw, fh, chin_point, gap):
    t = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    lower = np.clip(np.sin(t), 0, None)
    # The jaw narrows towards a chin and drops as the mouth opens.
    x = fw * np.cos(t) * (1 - chin_point * lower ** 3)
    y = np.sin(t) * np.where(lower > 0, fh + 0.35 * gap, fh)
    return np.stack([x, y], axis=1)


def _hair(f, fx, fy, fw, fh, head):
    """Cap (rolls with the head), fringe over the forehead, and side locks hanging straight down."""
    half_width = 1.12 * fw + f['hair_volume']
    half_height = fh + 0.8 * f['hair_volume']
    centre_row = -0.12 * fh                       # head frame
    bottom = 92 + 200 * f['hair_reach']           # image rows; > 256 hangs past the edge
    cut = min(bottom - fy, centre_row)
    x = np.linspace(-half_width, half_width, 61)
    top = centre_row - half_height * np.sqrt(np.clip(1 - (x / half_width) ** 2, 0, 1))
    low = centre_row + half_height * np.sqrt(np.clip(1 - (x / half_width) ** 2, 0, 1))
    cap_bottom = np.maximum(np.minimum(low, cut), top)
    parts = {'hair_cap': head(np.concatenate([np.stack([x, top], 1), np.stack([x, cap_bottom], 1)[::-1]]))}

    forehead = -fh + 8 + 30 * f['fringe']
    waves = 2.5 * np.sin(x / fw * 9 + f['texture_seed'] % 7)
    fringe_bottom = np.clip(forehead + f['fringe_skew'] * x / fw + waves, top, None)
    parts['fringe'] = head(np.concatenate([np.stack([x, top], 1), np.stack([x, fringe_bottom], 1)[::-1]]))

    if bottom > fy + centre_row:
        # Each lock hangs from the side of the rolled cap; longer hair also spreads wider, so the
        # hair_length score keeps growing after the hair passes the bottom edge.
        for sign, name in ((-1, 'left'), (1, 'right')):
            outer_top, inner_top = head([(sign * half_width, centre_row), (sign * 0.7 * fw, centre_row)])
            drop = np.linspace(0, 1, 24)[:, None] * (bottom - np.array([outer_top[1], inner_top[1]]))
            spread = sign * 0.25 * f['hair_reach'] * drop[:, 0]
            outer = np.stack([outer_top[0] + spread, outer_top[1] + drop[:, 0]], 1)
            inner = np.stack([np.full(len(drop), inner_top[0]), inner_top[1] + drop[:, 1]], 1)
            parts[f'hair_legs_{name}'] = np.concatenate([outer, inner[::-1]])
    return parts


def _shoulders(fx, top, fw):
    x = np.array([-0.5, 0.5, 1.0, 2.1, 2.6, 2.6, -2.6, -2.6, -2.1, -1.0]) * fw
    y = np.array([0, 0, 8, 30, 60, 200, 200, 60, 30, 8]) + top
    return np.stack([fx + x, y], axis=1)


def _almond(centre, half_width, height):
    u = np.linspace(-1, 1, 33)
    upper = centre[1] - 0.55 * height * (1 - u ** 2) ** 0.6
    lower = centre[1] + 0.45 * height * (1 - u ** 2) ** 0.8
    x = centre[0] + half_width * u
    return np.concatenate([np.stack([x, upper], 1), np.stack([x, lower], 1)[::-1][1:-1]])


def _brow(cx, cy, f, sign):
    u = np.linspace(-1, 1, 21)
    # Thicker towards the nose, tapering at the outer end.
    thickness = f['brow_thickness'] * (0.55 + 0.45 * (-sign * u + 1) / 2)
    mid = cy - f['brow_arch'] * (1 - u ** 2) + 1.5 * sign * u
    x = cx + 15 * u
    return np.concatenate([np.stack([x, mid - thickness / 2], 1), np.stack([x, mid + thickness / 2], 1)[::-1]])


def _nose(cx, top, length, half_width):
    y = top + length * np.array([0, 0.45, 0.8, 0.95, 1.0])
    w = half_width * np.array([0.3, 0.45, 0.85, 1.0, 0.6])
    return np.concatenate([np.stack([cx - w, y], 1), np.stack([cx + w, y], 1)[::-1]])


def _mouth_line(cx, row, half_width, gap, n=25):
    """Where the lips meet (closed) or the inner mouth's upper edge (open), left to right."""
    u = np.linspace(-1, 1, n)
    return np.stack([cx + half_width * u, row - 0.25 * gap * (1 - u ** 2) ** 0.8], 1)


def _lips(cx, row, half_width, upper, lower, gap):
    u = np.linspace(-1, 1, 25)
    x = cx + half_width * u
    inner_top = row - 0.25 * gap * (1 - u ** 2) ** 0.8
    inner_bottom = row + 0.75 * gap * (1 - u ** 2) ** 0.8
    bow = 1 - 0.35 * np.exp(-(u / 0.12) ** 2)           # the dip of the cupid's bow
    upper_edge = inner_top - (upper * bow * np.sqrt(1 - u ** 2) + 0.8)
    lower_edge = inner_bottom + lower * (1 - u ** 2) ** 0.6 + 0.8
    lips = {'upper_lip': np.concatenate([np.stack([x, upper_edge], 1), np.stack([x, inner_top], 1)[::-1]]),
            'lower_lip': np.concatenate([np.stack([x, inner_bottom], 1), np.stack([x, lower_edge], 1)[::-1]])}
    if gap > 0.3:
        lips['inner_mouth'] = np.concatenate([np.stack([x, inner_top], 1), np.stack([x, inner_bottom], 1)[::-1]])
    return lips


# ---------------------------------------------------------------------------------------------
# Label map: exact, no anti-aliasing, drawn straight at the requested size.

def label_map(parts, size=LABEL_SIZE):
    """Rasterise the parts in painter's order into a uint8 [size, size] map of the 11 classes."""
    labels = np.zeros((size, size), np.uint8)
    for name, label in PART_LABELS:
        for poly in _polygons(parts, name):
            cv2.fillPoly(labels, [_fixed_point(poly, size)], int(label), cv2.LINE_8, _SUBPIXEL_BITS)
    return labels


def _polygons(parts, name):
    """The polygons of a part; split parts (hair_legs_left, hair_legs_right) share a prefix."""
    return [poly for key, poly in parts.items() if key == name or key.startswith(name + '_')]


def _fixed_point(poly, size):
    # Pixel i covers [i - 0.5, i + 0.5] at 256; the same area at `size` keeps shapes aligned.
    scaled = (poly + 0.5) * (size / IMAGE_SIZE) - 0.5
    return np.round(scaled * (1 << _SUBPIXEL_BITS)).astype(np.int32)


# ---------------------------------------------------------------------------------------------
# Image: anti-aliased layers composited in float, then details that carry no label.

def paint_image(parts, anchors, f):
    rng = np.random.default_rng(f['texture_seed'])
    canvas = _background(f, rng)
    skin = _skin_colour(f)
    hair = _hair_layer(f, rng)
    skin_layer = _shaded_skin(parts['face'], skin, anchors, f)
    clothes = _hue_colour(f['clothes_lightness'], f['clothes_hue'], 40)
    lip = skin * (1 - 0.35 * f['lip_redness']) + np.array([200, 70, 80]) * 0.35 * f['lip_redness']

    layers = {'clothes': clothes, 'hair_legs': hair, 'neck': skin_layer * 0.82, 'hair_cap': hair,
              'face': skin_layer, 'nose': skin_layer * 0.98, 'upper_lip': lip * 0.88, 'lower_lip': lip,
              'fringe': hair * 1.05}
    brow_colour = _hair_colour(f) * (1 - f['brow_darkness']) + 20 * f['brow_darkness']
    for name, _ in PART_LABELS:
        if name.endswith('_brow'):
            _composite(canvas, _soft_mask(parts[name], blur=1.0), brow_colour)
        elif name.endswith('_eye'):
            _paint_eye(canvas, parts[name], anchors['eyes'][name.split('_')[0]], f, skin)
        elif name == 'inner_mouth' and name in parts:
            _paint_inner_mouth(canvas, parts['inner_mouth'], anchors['mouth_line'])
        else:
            for poly in _polygons(parts, name):
                _composite(canvas, _soft_mask(poly), layers[name])
        if name == 'nose':
            _paint_nose_details(canvas, anchors, f, skin)
    if 'inner_mouth' not in parts:
        _stroke(canvas, anchors['mouth_line'], lip * 0.45, 1.5)
    return np.clip(canvas, 0, 255).astype(np.uint8)


def _soft_mask(poly, blur=0.0):
    mask = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    cv2.fillPoly(mask, [_fixed_point(poly, IMAGE_SIZE)], 255, cv2.LINE_AA, _SUBPIXEL_BITS)
    mask = mask.astype(np.float32) / 255
    return cv2.GaussianBlur(mask, (0, 0), blur) if blur else mask


def _composite(canvas, alpha, colour):
    """Alpha-blend a colour (RGB, or a full-frame RGB layer) onto the canvas, in place."""
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    if len(rows) == 0:
        return
    # Blending only the part's bounding box keeps a face at a few milliseconds.
    box = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
    colour = np.asarray(colour, np.float32)
    if colour.ndim == 3:
        colour = colour[box]
    canvas[box] += (colour - canvas[box]) * alpha[box][..., None]


def _stroke(canvas, points, colour, thickness):
    mask = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    cv2.polylines(mask, [_fixed_point(points, IMAGE_SIZE)], False, 255, max(int(round(thickness)), 1),
                  cv2.LINE_AA, _SUBPIXEL_BITS)
    _composite(canvas, mask.astype(np.float32) / 255, colour)


def _hue_colour(lightness, hue, amount):
    """An RGB colour whose channel mean is `lightness` (the scores average the channels)."""
    offsets = amount * np.cos(hue - np.array([0, 2 * np.pi / 3, 4 * np.pi / 3]))
    return lightness + offsets


def _background(f, rng):
    brightness = 25 + 205 * f['background_brightness']
    tint = _hue_colour(brightness, f['background_hue'], 0.2 * min(brightness, 255 - brightness))
    pattern = _background_pattern(f['background_pattern'], rng)
    amplitude = 40 * f['background_texture']
    return (tint + amplitude * pattern[..., None]).astype(np.float32)


def _background_pattern(kind, rng):
    """A zero-mean, unit-std texture: soft blotches, a gradient or fine grain."""
    if kind == 0:
        pattern = cv2.resize(rng.normal(size=(6, 6)).astype(np.float32), (IMAGE_SIZE, IMAGE_SIZE),
                             interpolation=cv2.INTER_CUBIC)
    elif kind == 1:
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32)
        pattern = np.cos(angle) * xx + np.sin(angle) * yy
    else:
        pattern = cv2.resize(rng.normal(size=(48, 48)).astype(np.float32), (IMAGE_SIZE, IMAGE_SIZE),
                             interpolation=cv2.INTER_LINEAR)
    return (pattern - pattern.mean()) / (pattern.std() + 1e-6)


def _skin_colour(f):
    warm = np.array([1.2, 0.98, 0.82])
    return f['skin_lightness'] * (f['skin_warmth'] * warm + (1 - f['skin_warmth']) * np.ones(3))


def _shaded_skin(face_poly, skin, anchors, f):
    """Skin lit from one side, darker towards the face's edge."""
    fx, _ = anchors['centre']
    xx = np.arange(IMAGE_SIZE, dtype=np.float32)[None, :]
    side_light = 1 + 0.1 * f['light_side'] * (xx - fx) / f['face_half_width']
    rounding = 0.8 + 0.2 * _soft_mask(face_poly, blur=9.0)
    return (rounding * side_light)[..., None] * skin.astype(np.float32)


def _hair_colour(f):
    lightness = 18 + 200 * f['hair_lightness']
    warmth = f['hair_warmth'] * min(lightness, 255 - lightness) * 0.35
    return lightness + warmth * np.array([1.0, 0.1, -1.1])


def _hair_layer(f, rng):
    """Hair colour with strands: zero-mean light and dark streaks, so the mean stays the colour."""
    colour = _hair_colour(f)
    streaks = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    for _ in range(60):
        x0, y0 = rng.uniform(0, IMAGE_SIZE), rng.uniform(-20, IMAGE_SIZE)
        bend, length = rng.uniform(-25, 25), rng.uniform(40, 140)
        t = np.linspace(0, 1, 12)
        points = np.stack([x0 + bend * np.sin(t * 2.5), y0 + length * t], 1)
        cv2.polylines(streaks, [_fixed_point(points, IMAGE_SIZE)], False, float(rng.choice([-1, 1])),
                      1, cv2.LINE_AA, _SUBPIXEL_BITS)
    contrast = 0.25 * min(colour.mean(), 255 - colour.mean()) + 6
    return colour.astype(np.float32) + contrast * cv2.GaussianBlur(streaks, (0, 0), 0.7)[..., None]


def _paint_eye(canvas, almond, eye, f, skin):
    (cx, cy), half_width = eye
    opening = _soft_mask(almond)
    # The lid crease above the eye reads as an eye even when it is closed.
    crease = almond[:len(almond) // 2 + 1] - (0, 3.5 + 0.2 * MAX_EYE_HEIGHT * f['eye_openness'])
    _stroke(canvas, crease, skin * 0.72, 1)
    _composite(canvas, opening, np.array([238, 234, 228.0]))
    grid = np.arange(IMAGE_SIZE, dtype=np.float32)
    radius = 0.5 * half_width
    distance = np.hypot(grid[None, :] - cx, grid[:, None] - cy)
    iris = _iris_colour(f)
    _composite(canvas, opening * np.clip(radius + 0.5 - distance, 0, 1), iris)
    _composite(canvas, opening * np.clip(0.45 * radius + 0.5 - distance, 0, 1), np.array([15, 12, 12.0]))
    upper_lid = almond[:len(almond) // 2 + 1]
    _stroke(canvas, upper_lid, np.array([30, 22, 20.0]), 2)
    _stroke(canvas, almond[len(almond) // 2:], skin * 0.6, 1)


def _iris_colour(f):
    hues = np.array([[70, 120, 160], [90, 130, 70], [110, 70, 40], [60, 40, 30.0]])
    colour = hues[int(f['iris_hue'] * len(hues)) % len(hues)]
    return colour * (1.2 - 0.6 * f['iris_darkness'])


def _paint_nose_details(canvas, anchors, f, skin):
    tx, ty = anchors['nose_tip']
    w = f['nose_half_width']
    side = 1 if f['light_side'] < 0 else -1
    shadow = np.array([(tx + side * 0.35 * w, ty - f['nose_length'] * 0.8), (tx + side * 0.6 * w, ty - 6)])
    _stroke(canvas, shadow, skin * 0.82, 2)
    for sign in (-1, 1):
        nostril = cv2.ellipse2Poly((int(tx + sign * 0.45 * w), int(ty - 2)), (3, 2),
                                   int(np.rad2deg(anchors['roll'])), 0, 360, 30).astype(float)
        _composite(canvas, _soft_mask(nostril, blur=0.6), skin * 0.45)


def _paint_inner_mouth(canvas, inner, mouth_line):
    mouth = _soft_mask(inner)
    _composite(canvas, mouth, INNER_MOUTH_COLOUR)
    # Upper teeth: a band under the upper lip, inside the opening.
    teeth = np.concatenate([mouth_line, (mouth_line + (0, 5))[::-1]])
    _composite(canvas, mouth * _soft_mask(teeth), np.array([235, 232, 222.0]))
