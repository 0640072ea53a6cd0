"""Latent directions by least squares: the average gradient of each property score in latent
space, and the moves that change chosen properties by chosen amounts.

Attributes of a GAN's latent space are close to linear (InterFaceGAN, Shen et al. 2020). Fit the
scores linearly on the codes, scores ~ x B + c. For Gaussian codes the least-squares slope is the
average gradient of the score (Stein's lemma), so B predicts the average effect of a small move of
x. Unlike an SVM between the top and bottom few percent, it uses every sample and every score.

The fit's noise matters: with a few thousand samples for hundreds of slopes, the fitted B is the
true slope plus noise, the noise inflates B^T B, and moves computed from it come out too short.
The expected inflation is known, trace((X^T X)^-1) times the residual covariance, and the Gram
matrix returned here has it subtracted.

The fit is accumulated chunk by chunk from sums of products, so n = 500,000 codes never need to
be in memory at once.
"""
import numpy as np

from scores.properties import CORE_PROPERTIES, PROPERTY_NAMES

HOLDS = ('core', 'all')


class LeastSquares:
    """Running sums of a linear fit of scores [N, P] on x [N, D] with an intercept."""

    def __init__(self):
        self.n = 0
        self.sums = None

    def add(self, x, scores):
        x, scores = np.asarray(x, dtype=np.float64), np.asarray(scores, dtype=np.float64)
        if x.ndim != 2 or scores.ndim != 2 or len(x) != len(scores):
            raise ValueError(f'expected x [N, D] and scores [N, P] with the same N, got'
                             f' {list(x.shape)} and {list(scores.shape)}')
        chunk = (x.sum(0), scores.sum(0), x.T @ x, x.T @ scores, scores.T @ scores)
        if self.sums is not None and self.sums[3].shape != chunk[3].shape:
            raise ValueError(f'x [N, {self.sums[3].shape[0]}] and scores [N, {self.sums[3].shape[1]}]'
                             f' expected, as in the earlier chunks, got {list(x.shape)} and'
                             f' {list(scores.shape)}')
        self.sums = chunk if self.sums is None else tuple(a + b for a, b in zip(self.sums, chunk))
        self.n += len(x)
        return self

    @property
    def solvable(self):
        """Whether there are more samples than slopes and intercept."""
        return self.sums is not None and self.n > len(self.sums[0]) + 1

    def solve(self):
        """(B [D, P], gram [P, P]: B^T B less its expected inflation by the fit's noise,
        adjusted R^2 [P])."""
        if not self.solvable:
            dim = 0 if self.sums is None else len(self.sums[0])
            raise ValueError(f'{self.n} samples cannot fit {dim} slopes; need more than {dim + 1}')
        sum_x, sum_y, xx, xy, yy = self.sums
        dim = len(sum_x)
        mean_x, mean_y = sum_x / self.n, sum_y / self.n
        xx = xx - self.n * np.outer(mean_x, mean_x)  # centred sums of products
        xy = xy - self.n * np.outer(mean_x, mean_y)
        yy = yy - self.n * np.outer(mean_y, mean_y)
        slopes = np.linalg.solve(xx, xy)
        residual_cov = (yy - xy.T @ slopes) / (self.n - dim - 1)
        noise = np.trace(np.linalg.inv(xx)) * residual_cov
        r2 = 1.0 - np.diag(residual_cov) / (np.diag(yy) / (self.n - 1))
        return slopes, slopes.T @ slopes - noise, r2


def fit_property_directions(x, scores):
    """Least-squares slopes of `scores` [N, P] on `x` [N, D], in one go (see `LeastSquares`)."""
    return LeastSquares().add(x, scores).solve()


def conditional_moves(directions, gram, targets):
    """The smallest moves of x whose predicted change of the P properties is each column of
    `targets` T [P, L]: B G^-1 T [D, L] for `directions` B [D, P] and `gram` G [P, P].

    A zero in T holds that property still: InterFaceGAN's conditional manipulation, since the
    directions of correlated properties are not orthogonal."""
    directions = np.asarray(directions, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    if gram.shape != (directions.shape[1],) * 2 or targets.shape[0] != directions.shape[1]:
        raise ValueError(f'for {directions.shape[1]} properties, expected gram'
                         f' [{directions.shape[1]}, {directions.shape[1]}] and targets'
                         f' [{directions.shape[1]}, L], got {list(gram.shape)} and {list(targets.shape)}')
    if not stands_out_of_noise(gram):
        raise ValueError('the property directions are lost in the noise of their fit (their'
                         ' corrected Gram matrix is not positive definite): fit on more samples')
    return directions @ np.linalg.solve(gram, targets)


def stands_out_of_noise(gram):
    """Whether a fit's noise-corrected Gram matrix [P, P] is positive definite: its directions
    are told apart from one another and from the noise, so moves can be solved for."""
    return bool(np.linalg.eigvalsh(gram).min() > 0)


def hold_targets(hold):
    """(score columns a fit takes, targets T [len(columns), 3]) for moves of eyes, mouth and pose
    that hold `hold`: 'core', the other two of them (InterFaceGAN's conditional manipulation of the
    steered properties), or 'all', every other score of the Property Score CNN (hair colour and
    length, background mean and spread too). Each move changes its own score by one unit and the
    held ones by none."""
    if hold not in HOLDS:
        raise ValueError(f'hold {hold!r}: expected one of {HOLDS}')
    names = CORE_PROPERTIES if hold == 'core' else PROPERTY_NAMES
    columns = [PROPERTY_NAMES.index(name) for name in names]
    targets = np.array([[float(name == prop) for prop in CORE_PROPERTIES] for name in names])
    return columns, targets
