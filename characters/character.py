"""A character: one code of a finished VectorFind run, with what makes her fast to steer cached.

    cast = Cast.from_run('outputs/vectorfind_v6')
    she = cast.character(0)                       # characters/character_00.npz of the run
    face = she.render(eyes=1.2, mouth=0.0, pose=-0.5)          # [H, W, 3] uint8, CNN-calibrated
    faces, measured = she.render_many([[1.2, 0, -0.5], [0, 1, 0]])
    frames = she.frames(targets)                   # per-frame path: no CNN, no Jacobian

Values are asked in the units of the score table, the CNN's z-scores (`Cast.percentiles` gives
the world's). What is cached per character, once (`Character.build`, seconds):

* `basis` [3, dim]: the run's eyes, mouth and pose directions held to this code over `span`, the
  weight range she is steered in (the run's local hold, `vectorfind.local_hold`), or the fitted
  directions for a run without it;
* `curves` [3, K, 7]: the CNN's seven scores along each held direction alone, at the `K` weights
  of `sweep`. Summed (each curve's change from the unedited face added), they predict the scores
  of any mix of the three edits; read backwards, they turn requested values into weights;
* `reach` [3, 2]: per property, the lowest and highest value her face takes along its own
  direction while the scores nobody steers (hair, background) stay within `HOLD` spreads of her
  own, and the own score keeps rising.

`render`/`render_many` start from that prediction and correct it with the CNN's reading of the
faces themselves (Newton steps with the curves' slopes), until every requested value is met
within `TOLERANCE` spreads or `STEPS` corrections are spent. A value outside her reach is an
error there: it is not a face she can make. `frames` clamps to the reach instead (an animation
should not stop for one frame) and takes the prediction as it is: a frame costs one synthesis.
"""
import os
from dataclasses import dataclass, fields

import numpy as np
import torch

from common.files import atomic_write
from scores.properties import CORE_COLUMNS, CORE_PROPERTIES, PROPERTY_NAMES
from vectorfind.latents import inference_precision, mapped
from vectorfind.local_hold import score_jacobian

SPAN = 6.0          # weights -SPAN..SPAN along each held direction
SWEEP_POINTS = 17   # odd, so that weight 0 (her own face) is one of them
TURN = 2.0          # how far each direction turns toward its own score's rise before the hold
CORRECTABLE = 1.0   # spreads of unsteered drift the corrections may take back inside her reach
TOLERANCE = 0.1     # spreads within which a solved value counts as met
STEPS = 4           # CNN-read corrections at most
FLATTEST = 0.05     # z-score per unit weight: the least slope a correction step divides by
# The scores nobody steers: the solve sets the steered three itself and holds these.
UNSTEERED = tuple(name for name in PROPERTY_NAMES if name not in CORE_PROPERTIES)
UNSTEERED_COLUMNS = [PROPERTY_NAMES.index(name) for name in UNSTEERED]


@dataclass
class CharacterFile:
    """What is stored of a character (`save`/`load`): arrays only, readable on any machine."""
    code: np.ndarray         # [code_dim] float32
    w: np.ndarray            # [w_dim]: the generator's mapping of `code`, to tell a mismatched run
    group: str
    case: int                # the run's test case she was picked from (-1: not a tested code)
    basis: np.ndarray        # [3, dim]: eyes, mouth, pose
    corrections: np.ndarray  # [4, dim]: moves of the unsteered scores that leave the steered still
    response: np.ndarray     # [4, 4]: unsteered scores' change per unit of each correction
    sweep: np.ndarray        # [K] weights
    curves: np.ndarray       # [3, K, 7] CNN scores along each direction alone
    reach: np.ndarray        # [3, 2] z-scores

    def save(self, path):
        with atomic_write(path) as tmp, open(tmp, 'wb') as file:
            np.savez(file, **{f.name: np.asarray(getattr(self, f.name)) for f in fields(self)})

    @classmethod
    def load(cls, path):
        if not os.path.isfile(path):
            raise FileNotFoundError(f'character file not found: {path}')
        try:
            with np.load(path, allow_pickle=False) as stored:
                values = {f.name: stored[f.name] for f in fields(cls)}
        except (KeyError, ValueError, OSError) as error:
            raise ValueError(f'{path}: not a character file ({error})') from None
        values['group'], values['case'] = str(values['group']), int(values['case'])
        return cls(**values)


def rising_span(own, drift, centre, limit, noise):
    """(first, last) indices around `centre` over which `drift` [K] stays within `limit` and
    `own` [K] keeps rising, a dip smaller than `noise` below the best so far allowed."""
    first, low = centre, own[centre]
    while first > 0 and drift[first - 1] <= limit and own[first - 1] < low + noise:
        first -= 1
        low = min(low, own[first])
    last, high = centre, own[centre]
    while last < len(own) - 1 and drift[last + 1] <= limit and own[last + 1] > high - noise:
        last += 1
        high = max(high, own[last])
    return first, last


def rising_envelope(own, centre):
    """`own` [K] made to rise: below `centre` the running minimum outward, above it the running
    maximum, and a rise of a millionth per step where it is flat, so that it reads backwards."""
    left = np.minimum.accumulate(own[:centre + 1][::-1])[::-1]
    right = np.maximum.accumulate(own[centre:])
    envelope = np.concatenate([left[:-1], right])
    return envelope + 1e-6 * np.arange(len(own))


def without(rows, vectors):
    """`vectors` [M, dim] with their components in the span of `rows` [R, dim] removed."""
    return vectors - (rows.T @ np.linalg.lstsq(rows @ rows.T, rows @ vectors.T, rcond=None)[0]).T


def shift_jacobian(editor, cnn, code, basis):
    """[7, dim]: d scores / d shift of `code`'s unedited face, the shift on every layer. One
    backward pass, a probe per score."""
    probe = torch.zeros(len(PROPERTY_NAMES), basis.shape[1], device=editor.device, requires_grad=True)
    with torch.enable_grad():
        images = editor.images(editor.edited(code, np.zeros((len(PROPERTY_NAMES), len(CORE_PROPERTIES))),
                                             basis, probe))
        probed = sum(cnn.score(images[j:j + 1], [name]).float().sum() for j, name in enumerate(PROPERTY_NAMES))
        gradient, = torch.autograd.grad(probed, probe)
    return gradient.double().cpu().numpy()


class Character:
    """A character bound to her run's models (`characters.cast.Cast`): calibrated faces and
    frames of her one code (module docstring)."""

    def __init__(self, stored, cast):
        self.stored, self.cast = stored, cast
        sweep, curves = stored.sweep, stored.curves
        self.neutral = curves[0, len(sweep) // 2]  # [7]: her unedited face's scores
        self.spans, self.own_curves, centre = [], [], len(sweep) // 2
        for k, column in enumerate(CORE_COLUMNS):
            drift = np.abs(curves[k][:, UNSTEERED_COLUMNS] - self.neutral[UNSTEERED_COLUMNS]) / cast.spread[UNSTEERED_COLUMNS]
            first, last = rising_span(curves[k][:, column], drift.max(axis=1), centre, CORRECTABLE,
                                      TOLERANCE * cast.spread[column])
            self.spans.append((first, last))
            self.own_curves.append(rising_envelope(curves[k][first:last + 1, column], centre - first))

    @property
    def reach(self):
        """{property: (lowest, highest)} value (z-scores) she can take while the rest holds."""
        return {prop: tuple(float(v) for v in self.stored.reach[k]) for k, prop in enumerate(CORE_PROPERTIES)}

    def predict(self, weights):
        """Scores [N, 7] the cached curves predict for weights [N, 3] before any correction: each
        edit's change of every score from her unedited face, added."""
        weights = np.asarray(weights, dtype=np.float64)
        sweep, curves = self.stored.sweep, self.stored.curves
        change = -(len(CORE_PROPERTIES) - 1) * self.neutral[None, :].repeat(len(weights), 0)
        for k in range(len(CORE_PROPERTIES)):
            change += np.stack([np.interp(weights[:, k], sweep, curves[k][:, j])
                                for j in range(len(PROPERTY_NAMES))], 1)
        return change

    def weights_for(self, targets, passes=6):
        """Weights [N, 3] whose predicted eyes, mouth and pose are `targets` [N, 3] (clamped to her
        reach): each property's own curve read backwards, the others' predicted pull on it
        subtracted, a few passes round."""
        targets = self.clamped(targets)
        weights = np.zeros_like(targets)
        for _ in range(passes):
            for k, column in enumerate(CORE_COLUMNS):
                pull = self.predict(weights)[:, column] - self._own(k, weights[:, k])
                weights[:, k] = self._inverse(k, targets[:, k] - pull)
        return weights

    def corrections_for(self, unsteered_change):
        """Correction amounts [N, 4] that take back a change [N, 4] of the unsteered scores."""
        return -np.linalg.lstsq(self.stored.response, np.asarray(unsteered_change).T, rcond=None)[0].T

    def clamped(self, targets):
        targets = np.asarray(targets, dtype=np.float64).reshape(-1, len(CORE_PROPERTIES))
        return np.clip(targets, self.stored.reach[:, 0], self.stored.reach[:, 1])

    def outside_reach(self, targets):
        """Messages for the requested values [N, 3] further outside her reach than TOLERANCE
        spreads (empty: none); values nearer are taken to its end."""
        targets = np.asarray(targets, dtype=np.float64).reshape(-1, len(CORE_PROPERTIES))
        margin = TOLERANCE * self.cast.spread[CORE_COLUMNS]
        problems = []
        for k, prop in enumerate(CORE_PROPERTIES):
            low, high = self.stored.reach[k]
            bad = targets[(targets[:, k] < low - margin[k]) | (targets[:, k] > high + margin[k]), k]
            if len(bad):
                problems.append(f'{prop} {bad[0]:g} is outside this character\'s reach [{low:.2f}, {high:.2f}]')
        return problems

    def frames(self, targets, batch_size=16):
        """Faces [N, H, W, 3] uint8 for requested values [N, 3], clamped to her reach, from the
        cached curves alone: one synthesis per frame."""
        weights = self.weights_for(targets)
        predicted = self.predict(weights)[:, UNSTEERED_COLUMNS] - self.neutral[UNSTEERED_COLUMNS]
        return self.cast.scored(self, weights, self.corrections_for(predicted), batch_size, score=False)[0]

    def render_many(self, targets, batch_size=16):
        """(faces [N, H, W, 3] uint8, CNN scores [N, 7], weights [N, 3], corrections [N, 4]) for
        requested values [N, 3] inside her reach, corrected by the CNN's reading of the faces
        until met within TOLERANCE spreads (or after STEPS corrections)."""
        targets = np.asarray(targets, dtype=np.float64).reshape(-1, len(CORE_PROPERTIES))
        problems = self.outside_reach(targets)
        if problems:
            raise ValueError('; '.join(problems))
        targets = self.clamped(targets)
        weights = self.weights_for(targets)
        amounts = self.corrections_for(self.predict(weights)[:, UNSTEERED_COLUMNS] - self.neutral[UNSTEERED_COLUMNS])
        spread = self.cast.spread[CORE_COLUMNS]
        for step in range(STEPS + 1):
            faces, scores = self.cast.scored(self, weights, amounts, batch_size)
            miss = targets - scores[:, CORE_COLUMNS]
            if step == STEPS or np.all(np.abs(miss) <= TOLERANCE * spread):
                return faces, scores, weights, amounts
            for k in range(len(CORE_PROPERTIES)):
                first, last = self.spans[k]
                weights[:, k] = np.clip(weights[:, k] + miss[:, k] / self._slope(k, weights[:, k]),
                                        self.stored.sweep[first], self.stored.sweep[last])
            amounts += self.corrections_for(scores[:, UNSTEERED_COLUMNS] - self.neutral[UNSTEERED_COLUMNS])

    def render(self, eyes=0.0, mouth=0.0, pose=0.0):
        """Her face [H, W, 3] uint8 at these values (z-scores), as the CNN reads them."""
        return self.render_many([[eyes, mouth, pose]], batch_size=1)[0][0]

    def shifts(self, amounts):
        """Moves [N, dim] of correction amounts [N, 4]."""
        return np.asarray(amounts, dtype=np.float64) @ self.stored.corrections

    def _own(self, k, weights):
        return np.interp(weights, self.stored.sweep, self.stored.curves[k][:, CORE_COLUMNS[k]])

    def _inverse(self, k, values):
        first, last = self.spans[k]
        return np.interp(values, self.own_curves[k], self.stored.sweep[first:last + 1])

    def _slope(self, k, weights):
        """d own score / d weight of property k's rising curve at `weights`, over the segment each
        lies in."""
        first, last = self.spans[k]
        sweep, own = self.stored.sweep[first:last + 1], self.own_curves[k]
        if len(sweep) < 2:
            return np.full_like(weights, np.inf)  # no room to move: stay
        segment = np.clip(np.searchsorted(sweep, weights) - 1, 0, len(sweep) - 2)
        # a flat stretch would send a step to the end of the span: no slope below FLATTEST
        return np.maximum((own[segment + 1] - own[segment]) / (sweep[segment + 1] - sweep[segment]), FLATTEST)


def held_basis(editor, cnn, code, fitted):
    """(basis [3, dim], corrections [4, dim], response [4, 4]) of `code` at its unedited face:
    each fitted direction turned by TURN toward its own score's rise and cleared of the
    unsteered scores' gradients; the corrections, those gradients cleared of the steered ones'."""
    basis = []
    for k, column in enumerate(CORE_COLUMNS):
        jacobian = score_jacobian(editor, cnn, code, fitted, k, [0.0])
        aim = fitted[k] / np.linalg.norm(fitted[k]) + TURN * jacobian[column] / np.linalg.norm(jacobian[column])
        u = without(jacobian[UNSTEERED_COLUMNS], aim[None])[0]
        basis.append(u / np.linalg.norm(u) * np.sign(jacobian[column] @ u))
    basis = np.stack(basis).astype(np.float32)
    shift = shift_jacobian(editor, cnn, code, basis)
    corrections = without(shift[CORE_COLUMNS], shift[UNSTEERED_COLUMNS])
    corrections /= np.linalg.norm(corrections, axis=1, keepdims=True)
    return basis, corrections.astype(np.float32), shift[UNSTEERED_COLUMNS] @ corrections.T


def build(cast, code, case=-1, group=None):
    """A character of `code` [code_dim]: her held basis, corrections, curves and reach."""
    steering, code = cast.steering, np.asarray(code, dtype=np.float32)
    group = steering.group_of(code) if group is None else group
    fitted = np.stack([steering.directions[prop, group] for prop in CORE_PROPERTIES]).astype(np.float64)
    sweep = np.linspace(-SPAN, SPAN, SWEEP_POINTS)
    with inference_precision(cast.device, cast.precision):
        basis, corrections, response = held_basis(cast.editor, cast.cnn, code, fitted)
        with torch.inference_mode():
            w = mapped(steering.generator, code[None], cast.device)[0].float().cpu().numpy()
    stored = CharacterFile(code, w, group, case, basis, corrections, response, sweep,
                           np.zeros((len(CORE_PROPERTIES), len(sweep), len(PROPERTY_NAMES))),
                           np.zeros((len(CORE_PROPERTIES), 2)))
    character = Character(stored, cast)
    for k in range(len(CORE_PROPERTIES)):
        weights = np.zeros((len(sweep), len(CORE_PROPERTIES)))
        weights[:, k] = sweep
        stored.curves[k] = cast.scored(character, weights, np.zeros((len(sweep), len(UNSTEERED))), len(sweep))[1]
    character = Character(stored, cast)
    stored.reach = np.array([[own[0], own[-1]] for own in character.own_curves])
    return character
