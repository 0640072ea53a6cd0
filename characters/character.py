"""A character: one code of a finished VectorFind run, with what makes her fast to steer cached.

    cast = Cast.from_run('outputs/vectorfind_v6')
    she = cast.character(0)                       # characters/character_00.npz of the run
    face = she.render(eyes=1.2, mouth=0.0, pose=-0.5)          # [H, W, 3] uint8, CNN-calibrated
    faces, scores, unknowns = she.render_many([[1.2, 0, -0.5], [0, 1, 0]])
    frames = she.frames(targets)                   # the per-frame path: one synthesis a frame

Values are asked in the units of the score table, the CNN's z-scores (`Cast.percentiles` gives
the world's). A face is moved by seven numbers: a weight along each of her three directions
(eyes, mouth, pose) and an amount of each of four corrections, which move the scores nobody
steers (hair colour and length, background mean and texture) back where her own face has them.
What is cached per character, once (`build`, seconds on the CPU):

* `basis` [3, dim]: the run's fitted directions, each turned by `TURN` toward the steepest rise
  of its own score at her face and cleared of the unsteered scores' gradients there (the run's
  own local hold clears all six other scores; here the solve sets the steered three itself);
* `corrections` [4, dim]: the unsteered scores' gradients cleared of the steered ones';
* `curves` [3, K, 7]: the CNN's seven scores along each direction alone, at the `K` weights of
  `sweep`; `reach` [3, 2]: per property the lowest and highest value along its own direction
  while its curve rises and the unsteered scores drift less than `CORRECTABLE` spreads;
* `lattice` [L, L, L, 7]: the seven numbers that meet every node of an L x L x L grid of
  requested values spanning her reach, solved with the CNN (below).

A solve (`render_many`) starts from the lattice's interpolation and corrects all seven numbers
with the CNN's reading of the faces (Levenberg-Marquardt, its Jacobian measured by moving each
face along each of the seven, then updated from each step's observed change as Broyden's method
does) until the steered scores are met within `TOLERANCE` spreads and the unsteered ones held
within `HOLD_TOLERANCE`, or `STEPS` are spent. A value further outside her reach than `TOLERANCE` is an error
there: it is not a face she can make. `frames` clamps to the reach instead (an animation should
not stop for one frame) and takes the lattice's interpolation as it is: no CNN, no Jacobian.
"""
import os
from dataclasses import dataclass, fields

import numpy as np
import torch

from common.files import atomic_write
from scores.properties import CORE_COLUMNS, CORE_PROPERTIES, PROPERTY_NAMES
from vectorfind.latents import inference_precision, mapped
from vectorfind.local_hold import score_jacobian

SPAN = 6.0          # weights -SPAN..SPAN along each direction
SWEEP_POINTS = 17   # odd, so that weight 0 (her own face) is one of them
TURN = 2.0          # how far each direction turns toward its own score's rise
CORRECTABLE = 1.0   # spreads of unsteered drift along one direction that her reach allows
TOLERANCE = 0.1     # spreads within which a solved steered value counts as met
HOLD_TOLERANCE = 0.2  # spreads within which a solve holds the unsteered scores
STEPS = 8           # CNN-read steps of a solve at most
DAMPING = 1.0       # Levenberg-Marquardt's first damping
LARGEST_STEP = 1.5  # the largest change of any unknown in one step
# The largest weight a solve takes: a mix of edits may need more of one than its reach alone.
FURTHEST = 2 * SPAN
LATTICE = 3         # nodes per property of the cached grid of solved values
PROBE = 0.3         # the move along each unknown that measures a solve's first Jacobian
# The scores nobody steers: the solve sets the steered three and holds these.
UNSTEERED = tuple(name for name in PROPERTY_NAMES if name not in CORE_PROPERTIES)
UNSTEERED_COLUMNS = [PROPERTY_NAMES.index(name) for name in UNSTEERED]
STEERED = len(CORE_PROPERTIES)
UNKNOWNS = STEERED + len(UNSTEERED)  # three weights, four correction amounts
# The seven scores in the order of a solve's residual: steered, then unsteered.
RESIDUAL_COLUMNS = list(CORE_COLUMNS) + UNSTEERED_COLUMNS
ALLOWED = np.array([TOLERANCE] * STEERED + [HOLD_TOLERANCE] * len(UNSTEERED))


@dataclass
class CharacterFile:
    """What is stored of a character (`save`/`load`): arrays only, readable on any machine."""
    code: np.ndarray         # [code_dim] float32
    w: np.ndarray            # [w_dim]: the generator's mapping of `code`, to tell a mismatched run
    group: str
    case: int                # the run's test case she was picked from (-1: not a tested code)
    basis: np.ndarray        # [3, dim]: eyes, mouth, pose
    corrections: np.ndarray  # [4, dim]
    sweep: np.ndarray        # [K] weights
    curves: np.ndarray       # [3, K, 7] CNN scores along each direction alone
    reach: np.ndarray        # [3, 2] z-scores
    lattice: np.ndarray      # [L, L, L, 7] solved weights and amounts at the grid over `reach`

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
    return np.concatenate([left[:-1], right]) + 1e-6 * np.arange(len(own))


def without(rows, vectors):
    """`vectors` [M, dim] with their components in the span of `rows` [R, dim] removed."""
    return vectors - (rows.T @ np.linalg.lstsq(rows @ rows.T, rows @ vectors.T, rcond=None)[0]).T


def shift_jacobian(editor, cnn, code, basis):
    """[7, dim]: d scores / d shift of `code`'s unedited face, the shift on every layer. One
    backward pass, a probe per score."""
    probe = torch.zeros(len(PROPERTY_NAMES), basis.shape[1], device=editor.device, requires_grad=True)
    with torch.enable_grad():
        images = editor.images(editor.edited(code, np.zeros((len(PROPERTY_NAMES), STEERED)), basis, probe))
        probed = sum(cnn.score(images[j:j + 1], [name]).float().sum() for j, name in enumerate(PROPERTY_NAMES))
        gradient, = torch.autograd.grad(probed, probe)
    return gradient.double().cpu().numpy()


def lattice_weights(values, nodes):
    """(lower node index [N], fraction [N]) of `values` [N] on evenly spaced `nodes` [L]."""
    width = nodes[-1] - nodes[0]
    position = np.zeros_like(values) if width <= 0 else (values - nodes[0]) / width * (len(nodes) - 1)
    lower = np.clip(np.floor(position).astype(int), 0, len(nodes) - 2)
    return lower, np.clip(position - lower, 0.0, 1.0)


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
        # what the lattice's solves added to the curves read backwards, at its nodes: the frames'
        # interpolation reads it every batch
        grid = np.stack(np.meshgrid(*self.nodes(), indexing='ij'), -1).reshape(-1, STEERED)
        self.added = (stored.lattice.reshape(-1, UNKNOWNS) - self.separate(grid)).reshape(stored.lattice.shape)

    @property
    def reach(self):
        """{property: (lowest, highest)} value (z-scores) she can take while the rest holds."""
        return {prop: tuple(float(v) for v in self.stored.reach[k]) for k, prop in enumerate(CORE_PROPERTIES)}

    def nodes(self):
        """[3, L]: the requested values of the lattice's nodes, per property over her reach."""
        return np.stack([np.linspace(low, high, LATTICE) for low, high in self.stored.reach])

    def clamped(self, targets):
        targets = np.asarray(targets, dtype=np.float64).reshape(-1, STEERED)
        return np.clip(targets, self.stored.reach[:, 0], self.stored.reach[:, 1])

    def outside_reach(self, targets):
        """Messages for the requested values [N, 3] further outside her reach than TOLERANCE
        spreads (empty: none); values nearer are taken to its end."""
        targets = np.asarray(targets, dtype=np.float64).reshape(-1, STEERED)
        margin = TOLERANCE * self.cast.spread[CORE_COLUMNS]
        problems = []
        for k, prop in enumerate(CORE_PROPERTIES):
            low, high = self.stored.reach[k]
            bad = targets[(targets[:, k] < low - margin[k]) | (targets[:, k] > high + margin[k]), k]
            if len(bad):
                problems.append(f'{prop} {bad[0]:g} is outside this character\'s reach [{low:.2f}, {high:.2f}]')
        return problems

    def unknowns_for(self, targets):
        """Weights and amounts [N, 7] for requested values [N, 3] (clamped to her reach): each
        property's own curve read backwards (`separate`), plus what the lattice's solves added
        to that at its nodes, interpolated linearly along each property. The curves carry each
        edit's own bend, the lattice how the edits and corrections meet."""
        targets, nodes = self.clamped(targets), self.nodes()
        found = [lattice_weights(targets[:, k], nodes[k]) for k in range(STEERED)]
        unknowns = self.separate(targets)
        for corner in np.ndindex(*(2,) * STEERED):
            index = tuple(lower + side for (lower, _), side in zip(found, corner))
            share = np.prod([fraction if side else 1 - fraction for (_, fraction), side in zip(found, corner)], axis=0)
            unknowns += share[:, None] * self.added[index]
        return unknowns

    def frames(self, targets, batch_size=16):
        """Faces [N, H, W, 3] uint8 for requested values [N, 3], clamped to her reach, from the
        cached lattice alone: one synthesis per frame."""
        return self.cast.scored(self, self.unknowns_for(targets), batch_size, score=False)[0]

    def render_many(self, targets, batch_size=16):
        """(faces [N, H, W, 3] uint8, CNN scores [N, 7], weights and amounts [N, 7]) for requested
        values [N, 3] inside her reach, solved with the CNN (module docstring)."""
        targets = np.asarray(targets, dtype=np.float64).reshape(-1, STEERED)
        problems = self.outside_reach(targets)
        if problems:
            raise ValueError('; '.join(problems))
        return self.solve(self.clamped(targets), self.unknowns_for(targets), batch_size)

    def render(self, eyes=0.0, mouth=0.0, pose=0.0):
        """Her face [H, W, 3] uint8 at these values (z-scores), as the CNN reads them."""
        return self.render_many([[eyes, mouth, pose]], batch_size=1)[0][0]

    def shifts(self, unknowns):
        """Moves [N, dim] of the correction amounts in `unknowns` [N, 7]."""
        return np.asarray(unknowns, dtype=np.float64)[:, STEERED:] @ self.stored.corrections

    def measured_jacobian(self, targets, unknowns, residual, batch_size):
        """[N, 7, 7]: d residual / d unknowns at `unknowns` [N, 7], measured: each face moved by
        PROBE along each unknown in turn and read by the CNN."""
        n = len(unknowns)
        probes = unknowns[:, None, :] + PROBE * np.eye(UNKNOWNS)[None]
        scores = self.cast.scored(self, probes.reshape(-1, UNKNOWNS), batch_size)[1]
        moved = self.residual(np.repeat(targets, UNKNOWNS, axis=0), scores).reshape(n, UNKNOWNS, UNKNOWNS)
        return (moved - residual[:, None, :]).transpose(0, 2, 1) / PROBE

    def residual(self, targets, scores):
        """[N, 7] in tolerances: the steered scores' distance from the requested values in
        TOLERANCE spreads, the unsteered scores' distance from hers in HOLD_TOLERANCE spreads."""
        goal = np.concatenate([targets, np.repeat(self.neutral[None, UNSTEERED_COLUMNS], len(targets), 0)], 1)
        return (scores[:, RESIDUAL_COLUMNS] - goal) / (self.cast.spread[RESIDUAL_COLUMNS] * ALLOWED)

    def solve(self, targets, unknowns, batch_size=16, jacobian=None):
        """Levenberg-Marquardt from `unknowns` [N, 7] toward requested values [N, 3], its Jacobian
        measured at each start (or `jacobian` [7, 7] for every face) and then updated from each
        step's observed change (Broyden); a step that does not bring a face nearer is refused
        and the next one made shorter (module docstring) -> (faces, scores [N, 7], unknowns
        [N, 7]) of each face's best step."""
        unknowns = np.array(unknowns, dtype=np.float64)
        faces, scores = self.cast.scored(self, unknowns, batch_size)
        residual = self.residual(targets, scores)
        jacobian = (self.measured_jacobian(targets, unknowns, residual, batch_size) if jacobian is None
                    else np.repeat(np.asarray(jacobian)[None], len(unknowns), axis=0))
        damping = np.full(len(unknowns), DAMPING)
        for _ in range(STEPS):
            if np.all(np.abs(residual).max(axis=1) <= 1):
                break
            normal = np.einsum('nki,nkj->nij', jacobian, jacobian)
            scaled = normal + damping[:, None, None] * (np.eye(UNKNOWNS) * np.diagonal(normal, axis1=1, axis2=2)[:, None, :]
                                                        + 1e-9 * np.eye(UNKNOWNS))
            move = -np.linalg.solve(scaled, np.einsum('nki,nk->ni', jacobian, residual)[..., None])[..., 0]
            move *= np.minimum(1.0, LARGEST_STEP / np.abs(move).max(axis=1, initial=1e-12))[:, None]
            moved = unknowns + move
            moved[:, :STEERED] = np.clip(moved[:, :STEERED], -FURTHEST, FURTHEST)
            move = moved - unknowns
            moved_faces, moved_scores = self.cast.scored(self, moved, batch_size)
            now = self.residual(targets, moved_scores)
            change = now - residual - np.einsum('nij,nj->ni', jacobian, move)
            length = np.maximum(np.einsum('ni,ni->n', move, move), 1e-12)
            jacobian += change[:, :, None] * move[:, None, :] / length[:, None, None]
            better = (now ** 2).sum(axis=1) < (residual ** 2).sum(axis=1)
            damping = np.where(better, damping / 3, damping * 4)
            faces[better], scores[better] = moved_faces[better], moved_scores[better]
            unknowns[better], residual[better] = moved[better], now[better]
        return faces, scores, unknowns

    def separate(self, targets):
        """Unknowns [N, 7]: each property's own curve read backwards at `targets` [N, 3], as if
        the three edits did not touch each other's scores, and no corrections."""
        targets = self.clamped(targets)
        weights = [np.interp(targets[:, k], own, self.stored.sweep[first:last + 1])
                   for k, (own, (first, last)) in enumerate(zip(self.own_curves, self.spans))]
        return np.concatenate([np.stack(weights, 1), np.zeros((len(targets), len(UNSTEERED)))], 1)


def held_basis(editor, cnn, code, fitted):
    """(basis [3, dim], corrections [4, dim]) of `code` at its unedited face:
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
    return basis, corrections.astype(np.float32)


def build(cast, code, case=-1, group=None, batch_size=16):
    """A character of `code` [code_dim] (module docstring): her directions and corrections, her
    curves along each direction, her reach, and the lattice of solved values over it."""
    steering, code = cast.steering, np.asarray(code, dtype=np.float32)
    group = steering.group_of(code) if group is None else group
    fitted = np.stack([steering.directions[prop, group] for prop in CORE_PROPERTIES]).astype(np.float32)
    sweep = np.linspace(-SPAN, SPAN, SWEEP_POINTS)
    with inference_precision(cast.device, cast.precision):
        basis, corrections = held_basis(cast.editor, cast.cnn, code, fitted)
        with torch.inference_mode():
            w = mapped(steering.generator, code[None], cast.device)[0].float().cpu().numpy()
    stored = CharacterFile(code, w, group, case, basis, corrections, sweep,
                           curves=np.zeros((STEERED, len(sweep), len(PROPERTY_NAMES))),
                           reach=np.zeros((STEERED, 2)), lattice=np.zeros((LATTICE,) * STEERED + (UNKNOWNS,)))
    sweeping = Character(stored, cast)  # her directions and corrections, before any curve
    for k in range(STEERED):
        unknowns = np.zeros((len(sweep), UNKNOWNS))
        unknowns[:, k] = sweep
        stored.curves[k] = cast.scored(sweeping, unknowns, batch_size)[1]
    character = Character(stored, cast)
    stored.reach = np.array([[own[0], own[-1]] for own in character.own_curves])
    targets = np.stack(np.meshgrid(*character.nodes(), indexing='ij'), -1).reshape(-1, STEERED)
    # one Jacobian, measured at her own face, starts every node's solve: seven faces, not 189
    own_face = character.neutral[None, CORE_COLUMNS]
    at_rest = character.residual(own_face, character.neutral[None])
    jacobian = character.measured_jacobian(own_face, np.zeros((1, UNKNOWNS)), at_rest, batch_size)[0]
    stored.lattice = character.solve(targets, character.separate(targets), batch_size, jacobian)[2].reshape(stored.lattice.shape)
    return Character(stored, cast)
