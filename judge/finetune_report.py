"""Judged figures of a finished FineTune-v5 run, before and after fine-tuning (`python -m
judge.report outputs/finetune_v5/improved`; `judge.report` tells the kind of run and calls this).

For --codes fixed z (FIXED_Z by default, drawn with WORLD_SEED) and each property, that property's
label is swept over the published evaluation's range of it (`finetune_v5.evaluation.EVAL_LABELS`:
eyes -1.6 to 1.6, mouth -1.2 to 1.6, pose -1.2 to 2.4; SWEEP values, and 0), the other two at 0,
and each stage's generator renders the faces as the run's evaluation does (conditional truncation
at each psi of PSIS, stored noise):

* `before`: the base generator as the run converts it before anything else (`convert_v1_to_v5`
  with the run's seed). The v1 label embedding is dropped and the new 3-dim label enters through
  random columns of the first mapping layer, so the label moves each face a little in some random
  direction: its judged label control, about none, is the honest "before".
* `warm_start`, for a run with `--label-init directions` (the improved preset): that generator
  after the label's warm start, before the first training step (`finetune_v5.label_warm_start`,
  made again with the run's seed and sample count).
* `after`: the run's generator.pth.

Each stage's faces are read by the judge and scored by the run's Property Score CNN. Per fixed z
and property, over the label's range: the judged factor's correlation with the label, own change,
leakage, attribute dependency and identity drift (how far the person of one z changes across the
labels), the re-scoring matrix, and curves against the label value; beside them the CNN's
correlation, own change and leakage of the same faces, in the run's own score spreads
(`score_spread.csv`). The summary adds the correlation pooled over every z and label of a sweep
(`*_corr_pooled`), as the run's evaluation computes it: whether the label sets the property
whatever the face. Realism, per stage and psi: faces of fresh z at label 0, and the same z each
at one label of the sweeps (the same people in both sets, so that the distances differ by the
edits alone).
"""
import os

import numpy as np
import torch

from common.settings import recorded
from finetune_v5.evaluation import EVAL_LABELS, render
from finetune_v5.inspection import GENERATOR_FILE, FineTuneRun, in_run
from finetune_v5.label_warm_start import warm_start_label
from finetune_v5.pipeline import FineTuneSettings
from judge.figures import (SWEEP, WORLD_SEED, clean_world_edits, judged_edit, matrix_rows,
                           property_figures, realism_rows, sweep_curve, world_features, write_report)
from property_score_cnn.model import load_property_score_cnn, score_images
from scores.leakage import SPREAD_FILE, stored_spread
from scores.properties import CORE_PROPERTIES
from stylegan.loading import convert_v1_to_v5, load_generator

FIXED_Z = 20
PSIS = (0.5, 1.0)
KEYS = ('stage', 'psi')
BATCH = 50


def label_sweeps():
    """[(property, label values [M])]: each property over the evaluation's range of it, 0 among them."""
    corners = np.array(EVAL_LABELS, dtype=np.float64)
    return [(prop, np.union1d(np.linspace(corners[:, k].min(), corners[:, k].max(), SWEEP), [0.0]))
            for k, prop in enumerate(CORE_PROPERTIES)]


def sweep_labels(sweeps):
    """The label rows [M, 3] of the sweeps one after another, each moving its own column alone."""
    blocks = []
    for k, (_, values) in enumerate(sweeps):
        block = np.zeros((len(values), len(CORE_PROPERTIES)), np.float32)
        block[:, k] = values
        blocks.append(block)
    return np.concatenate(blocks)


def latents(n, z_dim, seed):
    return torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))


class JudgedRun:
    """What the report reads of the FineTune-v5 run in `out_dir`, every file checked before any
    rendering: its settings, its Property Score CNN and score spreads, and the stages' generators."""

    def __init__(self, out_dir, device='cpu'):
        self.out_dir, self.device = out_dir, device
        self.config = recorded(in_run(out_dir, 'config.json'), FineTuneSettings)
        in_run(out_dir, GENERATOR_FILE)
        for name, what in (('generator', "the base generator, which the 'before' stage renders"),
                           ('property_cnn', "the Property Score CNN, which scores the judged faces")):
            if not os.path.isfile(self.config[name]):
                raise FileNotFoundError(f'{self.config[name]} not found: the FineTune-v5 run {out_dir} was'
                                        f' made with it as --{name.replace("_", "-")} ({what})')
        in_run(out_dir, SPREAD_FILE)
        self.score_std = stored_spread(out_dir)
        self.cnn = load_property_score_cnn(self.config['property_cnn']).eval().to(device)

    def converted(self):
        """The base generator converted to v5 as the run converted it (`build_models`)."""
        generator = load_generator(self.config['generator'], 'v1')
        return convert_v1_to_v5(generator, seed=self.config['seed']).to(self.device)

    def stages(self):
        """(stage, generator), one at a time (module docstring)."""
        yield 'before', self.converted()
        if self.config['label_init'] == 'directions':
            generator = self.converted()
            fit = warm_start_label(generator, self.cnn, self.config['label_init_samples'], self.config['seed'],
                                   self.device)
            print(f'the warm start made again: fit R^2 {fit} (the run\'s is in its warm_start.json)')
            yield 'warm_start', generator
        yield 'after', FineTuneRun.from_run(self.out_dir, self.device).generator


def pooled_corr(values, measured, spreads, prop):
    """The correlation of `prop`'s measured value [Z, M, 7] with its label `values` [M], over
    every z and label at once."""
    pooled = np.tile(values, len(measured))[:, None]
    figures = property_figures(pooled, measured.reshape(len(pooled), -1), spreads, (prop,))[0]
    return figures[prop]['corr']


def sweep_parts(judge, run, faces, keys):
    """The rows of one stage and psi from its sweep faces [Z * M, H, W, 3] (z-major, the M label
    rows of `sweep_labels` within each z): per z and property the judged and the CNN's figures,
    re-scoring rows and curves; per property the correlations pooled over z."""
    sweeps = label_sweeps()
    per_z = len(sweep_labels(sweeps))
    if len(faces) % per_z:
        raise ValueError(f'expected {per_z} sweep faces per z, got {len(faces)} faces')
    n_z = len(faces) // per_z
    encodings = judge.encodings(faces).reshape(n_z, per_z, -1)
    judged = judge.properties(encodings.reshape(n_z * per_z, -1)).reshape(n_z, per_z, -1)
    scores = score_images(run.cnn, faces).reshape(n_z, per_z, -1)
    parts = {'codes': [], 'matrix': [], 'curves': [], 'summary': []}
    start = 0
    for prop, values in sweeps:
        block, start, weights = slice(start, start + len(values)), start + len(values), values[:, None]
        for case in range(n_z):
            figures, changes = judged_edit(judge, weights, encodings[case, block], (prop,))
            cnn = property_figures(weights, scores[case, block], run.score_std, (prop,))[0][prop]
            parts['codes'].append({**keys, 'case': case, 'property': prop, **figures[prop],
                                   **{f'cnn_{name}': cnn[name] for name in ('corr', 'own_change', 'leakage')}})
            parts['matrix'] += matrix_rows(changes, (prop,), **keys, case=case)
            parts['curves'] += sweep_curve(judge, prop, values, encodings[case, block], **keys, case=case)
        parts['summary'].append({
            **keys, 'property': prop,
            'judged_corr_pooled': pooled_corr(values, judged[:, block], judge.property_spreads, prop),
            'cnn_corr_pooled': pooled_corr(values, scores[:, block], run.score_std, prop)})
    return parts


def render_sweeps(generator, codes, psi, progress):
    """The sweep faces [codes * M, H, W, 3] of `codes` fixed z (WORLD_SEED), z-major."""
    labels = torch.from_numpy(sweep_labels(label_sweeps()))
    z = latents(codes, generator.z_dim, WORLD_SEED)
    return render(generator, z.repeat_interleave(len(labels), 0), labels.repeat(codes, 1), psi, BATCH, progress)


def realism_parts(judge, reference, generator, keys):
    """Realism rows of one stage and psi: as many fresh z as `reference` holds features (WORLD_SEED
    + 1), rendered at label 0 and each at one label of the sweeps (drawn, not 0). The same z in
    both sets: the distances differ by the edits alone, not by how many people the faces show."""
    n = len(reference)
    edits = sweep_labels(label_sweeps())
    edits = edits[np.abs(edits).sum(1) > 0]
    edits = torch.from_numpy(edits[np.random.default_rng(WORLD_SEED).integers(len(edits), size=n)])
    z = latents(n, generator.z_dim, WORLD_SEED + 1)
    sets = {'generated, label 0': torch.zeros_like(edits), 'generated, a sweep label each': edits}
    faces = {name: render(generator, z, rows, keys['psi'], BATCH) for name, rows in sets.items()}
    return realism_rows(judge, reference, [({**keys, 'faces': name}, images) for name, images in faces.items()])


def report(out_dir, judge, codes, device, references):
    """The judged tables of the FineTune-v5 run in `out_dir` (module docstring), with `codes` fixed
    z; `references`: (world faces for realism, world faces per factor of the floor) -> the summary
    DataFrame."""
    run = JudgedRun(out_dir, device)
    reference = world_features(judge, references[0])
    parts = {'codes': [], 'matrix': [], 'curves': [], 'summary': [], 'realism': []}
    for stage, generator in run.stages():
        for psi in PSIS:
            keys = {'stage': stage, 'psi': psi}
            faces = render_sweeps(generator, codes, psi, f'{stage}, psi {psi}: rendering')
            for name, rows in sweep_parts(judge, run, faces, keys).items():
                parts[name] += rows
            parts['realism'] += realism_parts(judge, reference, generator, keys)
    return write_report(os.path.join(out_dir, 'judged'), parts, clean_world_edits(judge, references[1]),
                        KEYS, 'label value')
