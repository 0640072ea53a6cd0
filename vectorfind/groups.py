"""The 8 groups of VectorFind-v6: hair colour, hair length and background mean each high (h, at
least the median) or low (l), the medians taken from the CNN-derived all_scores table of the
Property Score CNN in use (the CNN's own scale)."""
import numpy as np

from scores.properties import CORE_PROPERTIES, PROPERTY_NAMES
from scores.table import read_score_table
from vectorfind.latents import render_and_score

GROUPING_PROPERTIES = ('hair_color', 'hair_length', 'background_mean')
GROUP_NAMES = tuple(a + b + c for a in 'hl' for b in 'hl' for c in 'hl')
ALL_SAMPLES = 'all'  # the single "group" of --no-grouping


def borrowing_all_samples(directions, groups):
    """`directions` {(property, group): vector} with each of `groups` moving along the fit over
    all samples: an ungrouped run's every group, or a group too small for a fit of its own."""
    return {**directions, **{(p, g): directions[p, ALL_SAMPLES] for p in CORE_PROPERTIES for g in groups}}


def property_column(name):
    return PROPERTY_NAMES.index(name)


def medians_from_table(table_path):
    """{hair_color, hair_length, background_mean: median} of a CNN-derived all_scores table."""
    table = read_score_table(table_path, check_images=False)
    return {name: float(np.median(table[f'{name}_score'])) for name in GROUPING_PROPERTIES}


def group_names(scores, medians):
    """Group name per row of CNN scores [N, 7], e.g. 'hhl'."""
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[1] != len(PROPERTY_NAMES):
        raise ValueError(f'scores must have shape [N, {len(PROPERTY_NAMES)}], got {list(scores.shape)}')
    letters = [np.where(scores[:, property_column(name)] >= medians[name], 'h', 'l')
               for name in GROUPING_PROPERTIES]
    return np.char.add(np.char.add(letters[0], letters[1]), letters[2])


class ScoreGroups:
    """The group of a code [code_dim]: its face's hair colour, hair length and background mean, by
    the Property Score CNN `cnn`, against `medians` (SPEC: "For a latent, find its group")."""

    def __init__(self, generator, cnn, medians, device='cpu'):
        self.generator, self.cnn, self.medians, self.device = generator, cnn, medians, device

    def __call__(self, code):
        scores = render_and_score(self.generator, self.cnn, code[None], self.device, batch_size=1)
        return str(group_names(scores, self.medians)[0])
