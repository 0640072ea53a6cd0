"""StyleGAN-FineTune-v5: fine-tune a base generator so that a 3-dim label (eyes, mouth, pose)
controls the face, against a discriminator built from the Property Score CNN.

    python run_stylegan_finetune_v5.py                      # improved, the default world, CPU
    python run_stylegan_finetune_v5.py --preset faithful    # the published training, same world
    python run_stylegan_finetune_v5.py --preset ohlora      # the published 256 px models, on a GPU

This module is the run: its settings and presets, models and data, the training loop, and what it
writes (`finetune_v5/trainer.py` is one step, `finetune_v5/evaluation.py` the published
evaluation). Faithful to the published run (SPEC "StyleGAN-FineTune-v5"): the v1 generator converted to v5
(label concatenated to z, first mapping layer re-initialised), conditional truncation psi 0.5,
the property discriminator with its sub-CNNs taken from the Property Score CNN, every layer
trainable, logistic loss with R1 (gamma 10) on reals, AdamW 1e-4, batch 16, brightness and
contrast jitter 0.1 on reals, and the adaptive extra updates: D is updated again (at most 4 times)
while its loss is at least 1.5x the last G loss, then G (at most 4 times) while its loss is at
least 2x D's. Every `eval_every` batches, the 8 label combinations x 10 fixed z are generated at
psi 0.5 and scored by the frozen Property Score CNN; correlation and MAE between asked-for and
measured value go to `train_log.csv`.

Four options, each off in the faithful preset and on in `improved`:

* `fake_labels='data'`: fakes take labels drawn from the data's label distribution, not the real
  batch's own labels, so D cannot pair a real and a fake by their identical labels;
* `property_weight`: G's loss also pulls the frozen Property Score CNN's eyes, mouth and pose of
  each fake towards its label (squared error), a direct training signal where the original had
  only D's indirect one;
* `first_layer_lr_mul`: the re-initialised first mapping layer, the only way in for the label,
  learns this many times faster. The mapping keeps StyleGAN's learning-rate multiplier 0.01, so
  under AdamW 1e-4 its weights move by about 1e-6 of their scale per step, a hundredth of the
  synthesis layers' rate, and the new label columns stay close to their random start. 100 gives
  that one layer the synthesis layers' rate, as is usual for a new layer in a fine-tuned network.
* `label_init='directions'`: before the first step, the label columns of that layer are set so
  that asking for a property change moves z along the generator's own least-squares direction
  for that property (`finetune_v5/label_warm_start.py`), instead of staying random: the label starts
  as a control that is right to first order, and the fine-tuning corrects the rest.

Reals are shown to D at the generator's resolution (area-downscaled, then D's own resize to 256 px),
so D cannot tell reals from fakes by their sharpness. Everything the next step depends on (weights,
optimizer moments, position in the epoch, last G loss, random states) is in `checkpoint.pth`,
written atomically at the end of every epoch, at the time limit and on interruption; re-running
the same command continues the run exactly.
"""
import os
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd
import torch
# The object-oriented Figure renders PNGs with the Agg canvas and never touches a display.
from matplotlib.figure import Figure
from tqdm import tqdm

from common import distributed
from common.checkpoints import CheckpointClock
from common.cli import add_debug_flag, run_command
from common.files import atomic_write, write_csv, write_json
from common.images import contact_sheet, save_png
from common.paths import in_repo
from scores.leakage import stored_spread
from scores.properties import CORE_PROPERTIES, PROPERTY_NAMES
from common.run_lock import data_parallel_training
from common.settings import (add_checkpoint_minutes, add_out_dir, add_seed_and_device, as_record,
                             default_device, new_parser, parse_settings, preset_value)
from common.training_log import appending_log, discard_log, trim_log
from common.validation import (InputError, check_count, check_device, check_finite, check_fraction,
                               check_positive)
from data.build_default_world import build_world
from finetune_v5.evaluation import EVAL_LABELS, EVAL_Z_PER_LABEL, SAMPLE_PSIS, score_spread
from finetune_v5.label_warm_start import warm_start_label
from finetune_v5.trainer import FineTuneV5
from property_score_cnn.model import load_property_score_cnn
from property_score_cnn.scoring import cnn_score_table, load_table_views
from scores.table import read_score_table
from stylegan.loading import convert_v1_to_v5, load_generator, save_generator
from finetune_v5.property_discriminator import (PropertyDiscriminator, init_from_property_score_cnn,
                                             save_property_discriminator)


CORE_COLUMNS = tuple(f'{name}_score' for name in CORE_PROPERTIES)
LOG_COLUMNS = ('epoch', 'idx', 'd_loss', 'g_loss', 'd_train_count', 'g_train_count',
               'real_scores_mean', 'fake_scores_mean', 'real_fake_auroc',
               'eyes_corr', 'mouth_corr', 'pose_corr', 'eyes_mae', 'mouth_mae', 'pose_mae',
               'eyes_leakage', 'mouth_leakage', 'pose_leakage')
DEFAULT_WORLD = in_repo('outputs', 'world')
DEFAULT_WORLD_SIZE = 10000


@dataclass
class FineTuneSettings:
    """Everything a run depends on. The defaults are the `improved` preset on the committed models
    of the synthetic face world, sized so that the whole run, set-up and label warm start included,
    fits 15 minutes of a 2-core CPU (docs/finetune_v5.md)."""
    preset: str = 'improved'
    generator: str = in_repo('models', 'default', 'base_generator.pth')
    property_cnn: str = in_repo('models', 'default', 'property_score_cnn.pth')
    scores: str = os.path.join(DEFAULT_WORLD, 'all_scores_v2_cnn.csv')
    out_dir: Optional[str] = None  # outputs/finetune_v5/<preset> in the repository
    epochs: int = 500
    steps: Optional[int] = None
    max_minutes: float = 10.0
    checkpoint_minutes: float = 3.0
    fake_labels: str = 'data'
    property_weight: float = 1.0
    first_layer_lr_mul: float = 100.0
    label_init: str = 'directions'
    label_init_samples: int = 4000
    batch_size: int = 16
    lr: float = 1e-4
    r1_gamma: float = 10.0
    trunc_psi: float = 0.5
    w_avg_decay: float = 0.995
    jitter: float = 0.1
    max_d_updates: int = 4
    max_g_updates: int = 4
    d_repeat_ratio: float = 1.5
    g_repeat_ratio: float = 2.0
    eval_every: int = 10
    spread_samples: int = 1000
    seed: int = 0
    device: str = field(default_factory=default_device)

    def __post_init__(self):
        if self.out_dir is None:
            self.out_dir = in_repo('outputs', 'finetune_v5', self.preset)
        validate_settings(self)


# What each preset changes in the defaults. `faithful`: the published training (SPEC), on the
# default world, with each of the four options of the module docstring off. `ohlora`: the same on
# the published 256 px v1 generator and CNN dropped into models/, for a GPU, trained on the default
# world's full-size images scored by the published CNN.
_PUBLISHED_TRAINING = dict(fake_labels='batch', property_weight=0.0, first_layer_lr_mul=1.0,
                           label_init='random', max_minutes=12.0)
PRESETS = {
    'improved': {},
    'faithful': _PUBLISHED_TRAINING,
    'ohlora': dict(_PUBLISHED_TRAINING,
                   generator=in_repo('models', 'stylegan_gen_fine_tuned_v1.pth'),
                   property_cnn=in_repo('models', 'stylegan_gen_fine_tuned_v2_cnn.pth'),
                   scores=os.path.join(DEFAULT_WORLD, 'all_scores_v2_cnn_ohlora.csv'),
                   max_minutes=0.0),
}


# ---- models -----------------------------------------------------------------------------------
def build_models(settings):
    """(v5 generator, property discriminator, frozen Property Score CNN), all on `settings.device`."""
    torch.manual_seed(settings.seed)  # the discriminator's new head
    generator = convert_v1_to_v5(load_generator(settings.generator, 'v1'), seed=settings.seed)
    cnn = load_property_score_cnn(settings.property_cnn)
    discriminator = init_from_property_score_cnn(PropertyDiscriminator(cnn.width), cnn)
    device = torch.device(settings.device)
    return (generator.train().to(device), discriminator.train().to(device),
            cnn.eval().requires_grad_(False).to(device))


# ---- data -------------------------------------------------------------------------------------
def ensure_score_table(settings, cnn, resolution):
    """Build the preset's default world and its CNN-derived table when missing; a table the user
    named must exist."""
    if os.path.isfile(settings.scores):
        return
    if settings.scores != preset_value(FineTuneSettings, PRESETS, settings.preset, 'scores'):
        raise FileNotFoundError(f'score table not found: {settings.scores}')
    source = os.path.join(os.path.dirname(settings.scores), 'all_scores_v2.csv')
    if not os.path.isfile(source):
        print(f'building the default face world in {os.path.dirname(source)}')
        build_world(DEFAULT_WORLD_SIZE, 0, os.path.dirname(source))
    print(f'scoring the world with {settings.property_cnn} -> {settings.scores}')
    cnn_score_table(cnn, source, settings.scores, resolution)


def load_training_set(table_path, resolution, batch_size):
    """Real images as D sees them (uint8 [N, R, R, 3] at the generator's resolution) and their
    (eyes, mouth, pose) labels [N, 3]."""
    table = read_score_table(table_path)
    if len(table) < batch_size:
        raise ValueError(f'{table_path}: {len(table)} images, fewer than one batch of {batch_size}')
    labels = torch.tensor(table.loc[:, list(CORE_COLUMNS)].to_numpy(), dtype=torch.float32)
    return load_table_views(table.abs_img_path, resolution), labels


# ---- files ------------------------------------------------------------------------------------
def out_path(settings, *names):
    return os.path.join(settings.out_dir, *names)


def save_training(trainer):
    """The checkpoint to resume from, and G and D as loadable model files, written by rank 0
    (every rank holds the same weights)."""
    if not distributed.is_main():
        return
    with atomic_write(out_path(trainer.settings, 'checkpoint.pth')) as tmp:
        torch.save(trainer.state(), tmp)
    save_generator(trainer.G, out_path(trainer.settings, 'generator.pth'))
    save_property_discriminator(trainer.D, out_path(trainer.settings, 'discriminator.pth'))


def log_row(record, metrics):
    row = {**record, **metrics}
    return {key: round(row[key], 4) if isinstance(row[key], float) else row[key]
            for key in LOG_COLUMNS}


def plot_curves(log_path, batches_per_epoch, out_dir):
    """corr_curves.png and mae_curves.png: each property's curve over the batches trained."""
    log = pd.read_csv(log_path)
    batch = log.epoch * batches_per_epoch + log.idx + 1
    for metric, ylabel in (('corr', 'correlation, asked-for vs measured'),
                           ('mae', 'mean absolute error')):
        figure = Figure(figsize=(6, 3.5))
        axes = figure.subplots()
        for name in CORE_PROPERTIES:
            axes.plot(batch, log[f'{name}_{metric}'], label=name)
        axes.set_xlabel('batches trained')
        axes.set_ylabel(ylabel)
        axes.grid(alpha=0.3)
        axes.legend()
        figure.tight_layout()
        with atomic_write(os.path.join(out_dir, f'{metric}_curves.png')) as tmp:
            figure.savefig(tmp, dpi=120)


def write_sample_sets(trainer):
    """Per psi: a grid (one row per label combination, one column per fixed z) and a CSV of
    asked-for and measured scores; and one summary CSV of correlation and MAE per psi."""
    summary = []
    for psi in tqdm(SAMPLE_PSIS, desc='sample sets', unit='psi'):
        images, labels, scores, metrics = trainer.evaluate(psi)
        name = f'psi_{psi:.2f}'
        save_png(contact_sheet(images, columns=EVAL_Z_PER_LABEL),
                 out_path(trainer.settings, 'samples', f'{name}.png'))
        table = pd.DataFrame({'image_no': range(len(images)),
                              'z_index': np.tile(range(EVAL_Z_PER_LABEL), len(EVAL_LABELS))})
        for i, prop in enumerate(CORE_PROPERTIES):
            table[f'{prop}_label'] = labels[:, i].round(4)
        for prop in CORE_PROPERTIES:
            table[f'{prop}_cnn_score'] = scores[:, PROPERTY_NAMES.index(prop)].round(4)
        write_csv(out_path(trainer.settings, 'samples', f'{name}.csv'), table)
        summary.append({'psi': psi, **{k: round(v, 4) for k, v in metrics.items()}})
    write_csv(out_path(trainer.settings, 'samples', 'summary.csv'), pd.DataFrame(summary))
    return summary


# ---- the run ----------------------------------------------------------------------------------
def prepare(settings):
    """Models, data and (when a checkpoint exists) the state to continue from. Under torchrun
    every rank reads the same files; rank 0 alone writes (the score table, the log, the warm
    start, whose weights the others get when G is shared among the ranks)."""
    models = distributed.together(lambda: build_models(settings))
    resolution = models[0].config['resolution']
    distributed.on_main(lambda: ensure_score_table(settings, models[2], resolution), share=False)
    views, labels = distributed.together(lambda: load_training_set(settings.scores, resolution,
                                                                   settings.batch_size))
    trainer = FineTuneV5(settings, views, labels, models)
    trainer.score_std = distributed.on_main(lambda: spread_of_run(trainer))
    checkpoint = out_path(settings, 'checkpoint.pth')

    def resume():
        if os.path.exists(checkpoint):
            trainer.load_state(torch.load(checkpoint, map_location='cpu', weights_only=True), checkpoint)
            # Only the batches before the checkpoint's position: none is logged twice on resume.
            epoch, idx = trainer.epoch, trainer.idx
            trim_log(out_path(settings, 'train_log.csv'),
                     lambda log: (log.epoch < epoch) | ((log.epoch == epoch) & (log.idx < idx)))
            print(f'resumed from {checkpoint} at epoch {trainer.epoch}, batch {trainer.idx}'
                  f' (step {trainer.step})')
            return True
        discard_log(out_path(settings, 'train_log.csv'))
        return False
    resumed = distributed.together(resume)
    if not resumed and settings.label_init == 'directions':
        def start_label():
            write_json(out_path(settings, 'warm_start.json'), warm_start(trainer))
        distributed.on_main(start_label, share=False)
    trainer.share_among_ranks()
    return trainer


def spread_of_run(trainer):
    """Each CNN score's spread over random faces of the generator as the run starts (leakage's
    unit), measured once and kept in score_spread.csv."""
    settings = trainer.settings
    return stored_spread(settings.out_dir, lambda: score_spread(
        trainer.G, trainer.cnn, trainer.labels, settings.spread_samples, settings.seed))


def warm_start(trainer):
    """The label's warm start, with the evaluation before it, the fit and the time it took."""
    settings = trainer.settings
    before = trainer.evaluate()[3]
    started = time.time()
    print(f'warm start of the label from {settings.label_init_samples} samples')
    r2 = warm_start_label(trainer.G, trainer.cnn, settings.label_init_samples, settings.seed, trainer.device)
    return {'samples': settings.label_init_samples, 'fit_r2': r2,
            'seconds': round(time.time() - started, 1), 'before_warm_start': before}


def finished(trainer):
    settings = trainer.settings
    return trainer.epoch >= settings.epochs or (settings.steps is not None and trainer.step >= settings.steps)


def total_steps(trainer):
    by_epochs = trainer.settings.epochs * trainer.batches_per_epoch
    return by_epochs if trainer.settings.steps is None else min(by_epochs, trainer.settings.steps)


def train(settings):
    """Train in --out-dir, which this run holds alone (see `train_in_folder`); under torchrun,
    data-parallel over the processes."""
    return data_parallel_training(settings, train_in_folder)


def train_in_folder(settings):
    """Train (or continue) until --epochs, --steps or --max-minutes; then the sample sets and
    plots. Returns the trainer. Raises KeyboardInterrupt after checkpointing an interrupted run."""
    torch.set_float32_matmul_precision('high')
    trainer = prepare(settings)
    main = distributed.is_main()

    def start():
        write_json(out_path(settings, 'config.json'), {**as_record(settings), 'batches_per_epoch':
                                                     trainer.batches_per_epoch,
                                                     'generator_config': trainer.G.config})
        if trainer.step == 0:
            write_json(out_path(settings, 'before_finetuning.json'), trainer.evaluate()[3])
    distributed.on_main(start, share=False)
    log_path = out_path(settings, 'train_log.csv')
    started = time.time()
    clock = CheckpointClock(settings.checkpoint_minutes)
    with appending_log(log_path, LOG_COLUMNS) as log:
        progress = tqdm(total=total_steps(trainer), initial=trainer.step, desc='fine-tuning',
                        unit='batch', disable=not main)
        try:
            while not finished(trainer):
                record = trainer.train_step()
                progress.update(1)
                if main and record['idx'] % settings.eval_every == 0:
                    row = log_row(record, trainer.evaluate()[3])
                    log(row)
                    progress.set_postfix({k: row[k] for k in ('d_loss', 'g_loss', 'eyes_corr',
                                                              'mouth_corr', 'pose_corr')})
                # Rank 0's clock decides for every rank, so that they all stop at the same step.
                due, stop = distributed.broadcast(
                    clock.due(),
                    settings.max_minutes and time.time() - started > settings.max_minutes * 60)
                if trainer.idx == 0 or due:  # an epoch's end, or a few minutes' work at stake
                    save_training(trainer)
                    clock.reset()
                if stop:
                    progress.write(f'stopping after step {trainer.step}: --max-minutes'
                                   f' {settings.max_minutes} reached (re-run to continue)')
                    break
        finally:
            progress.close()
            save_training(trainer)
    distributed.on_main(lambda: finish(trainer, log_path), share=False)
    return trainer


def finish(trainer, log_path):
    """The curves and the sample sets of a finished (or stopped) run."""
    settings = trainer.settings
    plot_curves(log_path, trainer.batches_per_epoch, settings.out_dir)
    for row in write_sample_sets(trainer):
        print('  '.join(f'{k} {v}' for k, v in row.items()))
    print(f'step {trainer.step}: generator, discriminator, train_log.csv, samples/ and the'
          f' curves are in {settings.out_dir}')


def validate_settings(settings):
    check_device(settings.device)
    positive = ('batch_size', 'epochs', 'eval_every', 'max_d_updates', 'max_g_updates',
                'label_init_samples')
    for name in positive + (('steps',) if settings.steps is not None else ()):
        check_count(getattr(settings, name), f'--{name.replace("_", "-")}')
    if settings.batch_size < 2:
        raise InputError('--batch-size must be at least 2 (the real-vs-fake AUROC needs it)')
    check_positive(settings.lr, '--lr')
    check_positive(settings.first_layer_lr_mul, '--first-layer-lr-mul')
    check_positive(settings.d_repeat_ratio, '--d-repeat-ratio')
    check_positive(settings.g_repeat_ratio, '--g-repeat-ratio')
    for name in ('r1_gamma', 'property_weight', 'max_minutes', 'checkpoint_minutes'):
        check_finite(getattr(settings, name), f'--{name.replace("_", "-")}', low=0.0)
    check_fraction(settings.trunc_psi, '--trunc-psi', include_one=True)
    check_fraction(settings.w_avg_decay, '--w-avg-decay', include_one=True)
    check_fraction(settings.jitter, '--jitter')
    check_count(settings.spread_samples, '--spread-samples', minimum=2)


def parse_args(argv=None):
    """The run's settings from the command line (flags over the preset over the defaults)."""
    parser = new_parser(__doc__)
    parser.add_argument('--preset', choices=sorted(PRESETS),
                        help='improved (the default: the options that make it learn), faithful (the'
                             ' published training, default world), or ohlora (the published 256 px'
                             ' models in models/)')
    parser.add_argument('--generator', help='base generator in the v1 format')
    parser.add_argument('--property-cnn', help='Property Score CNN (width of D follows it)')
    parser.add_argument('--scores', help='CNN-derived all_scores table of the training images')
    add_out_dir(parser, 'default: outputs/finetune_v5/<preset> in the repository')
    parser.add_argument('--epochs', type=int)
    parser.add_argument('--steps', type=int, help='stop after this many batches')
    parser.add_argument('--max-minutes', type=float,
                        help='stop (with a checkpoint) after this much training time; 0 = no limit')
    add_checkpoint_minutes(parser, 'every epoch end')
    parser.add_argument('--fake-labels', choices=('batch', 'data'),
                        help="fakes' labels: the real batch's own, or drawn from the data")
    parser.add_argument('--property-weight', type=float,
                        help="weight of the frozen CNN's squared error on the fakes in G's loss")
    parser.add_argument('--first-layer-lr-mul', type=float,
                        help='learning-rate multiplier of the re-initialised first mapping layer')
    parser.add_argument('--label-init', choices=('random', 'directions'),
                        help="the first mapping layer's label columns: random (as converted), or"
                             " set from the property directions of z before the first step")
    parser.add_argument('--label-init-samples', type=int,
                        help='generated images the label directions are fitted on')
    parser.add_argument('--batch-size', type=int,
                        help='images per step over all processes (default 16): under torchrun'
                             ' --nproc_per_node N, each process trains on batch-size / N of them,'
                             ' so give a multiple of N')
    parser.add_argument('--lr', type=float)
    parser.add_argument('--r1-gamma', type=float)
    parser.add_argument('--trunc-psi', type=float,
                        help='conditional truncation in training and evaluation')
    parser.add_argument('--w-avg-decay', type=float)
    parser.add_argument('--jitter', type=float, help='brightness and contrast jitter')
    parser.add_argument('--max-d-updates', type=int)
    parser.add_argument('--max-g-updates', type=int)
    parser.add_argument('--d-repeat-ratio', type=float,
                        help='D is updated again while its loss >= this x the last G loss')
    parser.add_argument('--g-repeat-ratio', type=float,
                        help="G is updated again while its loss >= this x D's loss")
    parser.add_argument('--eval-every', type=int, help='batches between evaluations')
    parser.add_argument('--spread-samples', type=int,
                        help='random faces over which each score\'s spread, the unit of leakage,'
                             ' is measured at the start (default 1000)')
    add_seed_and_device(parser)
    add_debug_flag(parser)
    return parse_settings(parser, argv, FineTuneSettings, PRESETS)


def main(argv=None):
    settings = parse_args(argv)
    return run_command(lambda: train(settings), argv,
                       interrupted=f'checkpoint saved in {settings.out_dir}; re-run the same'
                                   f' command to continue')
