"""Directions fitted to one code: each property's direction projected so that, along its own edit
of this code, the other six CNN scores do not move to first order.

A fitted direction holds the other scores on average over the samples (least squares holding all
seven); one code's face responds to it in its own way, and what that face's other scores do along
the edit is the leakage the test measures. Here the Jacobian J(t) [7, dim] of the seven scores
with respect to a move of the edited point is taken at `POINTS` offsets t spread over the test
grid's range of the property, along its direction d, in the direction's own layers; with J_o the
mean over t of the rows of the six other scores, g the mean row of its own score, and

    a = d / |d| + r g / |g|,        u = a - J_o^T (J_o J_o^T)^+ J_o a,

the code's direction is u, unit length and turned so that it raises its own score: the closest
direction to a that holds the others there (the projection onto the null space of J_o). With the
reach r = 0, a is the fitted direction; holding the others then costs much of the own change
wherever the code's own gradient leans on theirs (the head turn most). A reach turns a toward
the code's own steepest rise of its score, so more of the own change survives the projection:
the default 1 aims at the bisector of the two.

Averaging J over the path rather than stacking the constraints of every point keeps more of the
own change: the constraints of a few points along a curved path leave little of d. The held
direction's edit goes elsewhere than d's, so for the pose, whose range is longest, J is taken a
second time along u's path and a made again from it and projected (`AGAIN`).

Costs one backward pass per property and pass, over a batch of seven probes per offset, each
probe scored by its own score's sub-CNN only rather than by all six: a few times a code's
50-image test on the CPU.
"""
import numpy as np
import torch

from scores.properties import CORE_PROPERTIES, PROPERTY_NAMES
from common.validation import check_finite

# Offsets per property (eyes, mouth, pose) where the Jacobian is taken, and where a second pass
# takes it again along the held direction's own path: the long pose range bends most.
POINTS = (3, 3, 5)
AGAIN = (0, 0, 5)
# How far a held direction turns toward its own score's rise before the projection (the default
# of --hold-reach; docs/vectorfind.md measures it).
REACH = 1.0


def score_jacobian(editor, cnn, code, directions, k, offsets):
    """[7, dim]: the mean over `offsets` of d scores / d move, the move added to the point of
    `code` [code_dim] moved by t * directions[k], on the layers of property k, as `editor`
    (`vectorfind.spaces.CodeEditor`) moves it. One backward pass: a probe per score and offset,
    each scored by its score's sub-CNN alone."""
    n, dim, device = len(PROPERTY_NAMES), directions.shape[1], editor.device
    rows = n * len(offsets)
    weights = np.zeros((rows, len(CORE_PROPERTIES)), dtype=np.float32)
    weights[:, k] = 1.0
    probe = torch.zeros(rows, dim, device=device, requires_grad=True)
    per_row = torch.as_tensor(directions, device=device).repeat(rows, 1, 1)
    steps = torch.as_tensor(np.repeat(np.asarray(offsets, dtype=np.float64), n), device=device)
    with torch.enable_grad():
        per_row[:, k] = per_row[:, k] * steps[:, None].to(per_row.dtype) + probe
        images = editor.images(editor.edited(code, weights, per_row))
        # row r probes score r mod 7 at offset r // 7: only that score's sub-CNN need see it
        probed = sum(cnn.score(images[j::n], [name]).float().sum() for j, name in enumerate(PROPERTY_NAMES))
        gradient, = torch.autograd.grad(probed, probe)
    return gradient.double().cpu().reshape(len(offsets), n, dim).mean(dim=0).numpy()


class LocalHold:
    """Holding each code's other six scores along its own edits, with the Property Score CNN `cnn`,
    each direction turned by `reach` toward its own score's rise first (module docstring)."""

    def __init__(self, cnn, reach=REACH):
        check_finite(reach, 'hold reach', low=0)
        self.cnn, self.reach = cnn, reach

    def directions(self, editor, code, fitted, ranges):
        """Directions [3, dim] for `code` [code_dim]: `fitted` [3, dim] (eyes, mouth, pose), each
        held along its edit over `ranges` [(low, high)] per property; where `AGAIN` asks for it,
        once more with the Jacobian taken along the held direction's own path."""
        held = np.stack([self.direction(editor, code, fitted, fitted, k, POINTS[k], ranges[k])
                         for k in range(len(CORE_PROPERTIES))])
        for k, points in enumerate(AGAIN):
            if points:
                held[k] = self.direction(editor, code, fitted, held, k, points, ranges[k])
        return held

    def direction(self, editor, code, fitted, along, k, points, range_k):
        """Property k's direction for `code`: fitted[k] turned by the reach toward its own score's
        gradient, then projected onto the null space of the six other scores' Jacobian, both the
        means at `points` offsets over `range_k` along along[k]."""
        jacobian = score_jacobian(editor, self.cnn, code, along, k, np.linspace(*range_k, points))
        own = PROPERTY_NAMES.index(CORE_PROPERTIES[k])
        others = np.delete(jacobian, own, axis=0)
        d = fitted[k].astype(np.float64)
        rise = np.linalg.norm(jacobian[own])
        aim = d / np.linalg.norm(d) + (self.reach / rise * jacobian[own] if rise > 0 else 0.0)
        u = aim - others.T @ np.linalg.lstsq(others @ others.T, others @ aim, rcond=None)[0]
        norm = np.linalg.norm(u)
        if norm < 1e-6 * np.linalg.norm(aim):
            return fitted[k]  # nothing of the aim is left outside the others' span: keep the fitted one
        u /= norm
        return (u if jacobian[own] @ u >= 0 else -u).astype(fitted.dtype)
