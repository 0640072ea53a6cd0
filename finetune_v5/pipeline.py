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
from dataclasses import dataclass
from functools import partial
from typing import Optional

import numpy as np
import pandas as pd
import torch
# The object-oriented Figure renders PNGs with the Agg canvas and never touches a display.
from matplotlib.figure import Figure
from tqdm import tqdm

from common import distributed
from common.cli import run_command
from common.files import atomic_write, write_csv, write_json
from common.images import contact_sheet, save_png
from common.paths import in_repo
from scores.leakage import stored_spread
from scores.properties import CORE_PROPERTIES, PROPERTY_NAMES
from common.run_lock import data_parallel_training
from common.settings import (TRAINING, Path, as_record, check_settings, checkpoint_minutes_setting, device_setting,
                             parse_settings, preset_value, resolved_device, seed_setting, setting)
from common.training_loop import run_training
from common.training_log import appending_log, discard_log, trim_log
from common.validation import (InputError, check_count, check_fraction, check_not_negative, check_positive,
                               check_share)
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


@dataclass
class FineTuneSettings:
    """Everything a run depends on. The defaults are the `improved` preset on the committed models
    of the synthetic face world, sized so that the whole run, set-up and label warm start included,
    fits 15 minutes of a 2-core CPU (docs/finetune_v5.md)."""
    preset: str = setting('improved', choices=tuple(PRESETS),
                          help='improved (the default: the options that make it learn), faithful (the'
                               ' published training, default world), or ohlora (the published 256 px'
                               ' models in models/)', stage=TRAINING)
    generator: Path = setting(in_repo('models', 'default', 'base_generator.pth'),
                              help='base generator in the v1 format', stage=TRAINING)
    property_cnn: Path = setting(in_repo('models', 'default', 'property_score_cnn.pth'),
                                 help='Property Score CNN (width of D follows it)', stage=TRAINING)
    scores: Path = setting(os.path.join(DEFAULT_WORLD, 'all_scores_v2_cnn.csv'),
                           help='CNN-derived all_scores table of the training images', stage=TRAINING)
    out_dir: Optional[Path] = setting(None, help='default: outputs/finetune_v5/<preset> in the repository')
    epochs: int = setting(500, check=check_count)
    steps: Optional[int] = setting(None, check=check_count, help='stop after this many batches')
    max_minutes: float = setting(10.0, check=check_not_negative,
                                 help='stop (with a checkpoint) after this much training time; 0 = no limit')
    checkpoint_minutes: float = checkpoint_minutes_setting('every epoch end')
    fake_labels: str = setting('data', choices=('batch', 'data'),
                               help="fakes' labels: the real batch's own, or drawn from the data", stage=TRAINING)
    property_weight: float = setting(1.0, check=check_not_negative,
                                     help="weight of the frozen CNN's squared error on the fakes in G's loss",
                                     stage=TRAINING)
    first_layer_lr_mul: float = setting(100.0, check=check_positive,
                                        help='learning-rate multiplier of the re-initialised first mapping layer',
                                        stage=TRAINING)
    label_init: str = setting('directions', choices=('random', 'directions'),
                              help="the first mapping layer's label columns: random (as converted), or"
                                   " set from the property directions of z before the first step", stage=TRAINING)
    label_init_samples: int = setting(4000, check=check_count,
                                      help='generated images the label directions are fitted on', stage=TRAINING)
    batch_size: int = setting(16, check=check_count,
                              help='images per step over all processes: under torchrun --nproc_per_node N,'
                                   ' each process trains on batch-size / N of them, so give a multiple of N',
                              stage=TRAINING)
    lr: float = setting(1e-4, check=check_positive, stage=TRAINING)
    r1_gamma: float = setting(10.0, check=check_not_negative, stage=TRAINING)
    trunc_psi: float = setting(0.5, check=check_share,
                               help='conditional truncation in training and evaluation', stage=TRAINING)
    w_avg_decay: float = setting(0.995, check=check_share, stage=TRAINING)
    jitter: float = setting(0.1, check=check_fraction, help='brightness and contrast jitter', stage=TRAINING)
    max_d_updates: int = setting(4, check=check_count, stage=TRAINING)
    max_g_updates: int = setting(4, check=check_count, stage=TRAINING)
    d_repeat_ratio: float = setting(1.5, check=check_positive,
                                    help='D is updated again while its loss >= this x the last G loss', stage=TRAINING)
    g_repeat_ratio: float = setting(2.0, check=check_positive,
                                    help="G is updated again while its loss >= this x D's loss", stage=TRAINING)
    eval_every: int = setting(10, check=check_count, help='batches between evaluations', stage=TRAINING)
    spread_samples: int = setting(1000, check=partial(check_count, minimum=2),
                                  help='random faces over which each score\'s spread, the unit of leakage,'
                                       ' is measured at the start', stage=TRAINING)
    seed: int = seed_setting(stage=TRAINING)
    device: Optional[str] = device_setting()

    def __post_init__(self):
        self.device = resolved_device(self.device)
        if self.out_dir is None:
            self.out_dir = in_repo('outputs', 'finetune_v5', self.preset)
        check_settings(self)
        if self.batch_size < 2:
            raise InputError('--batch-size must be at least 2 (the real-vs-fake AUROC needs it)')


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


def total_steps(trainer):
    by_epochs = trainer.settings.epochs * trainer.batches_per_epoch
    return by_epochs if trainer.settings.steps is None else min(by_epochs, trainer.settings.steps)


class FineTuning:
    """FineTune-v5 as `common.training_loop` runs it: a batch at a time, evaluated every
    --eval-every batches, a checkpoint at every epoch's end."""

    def __init__(self, trainer, log, progress):
        self.trainer, self.settings, self.log, self.progress = trainer, trainer.settings, log, progress

    def finished(self):
        trainer, settings = self.trainer, self.settings
        return trainer.epoch >= settings.epochs or (settings.steps is not None and trainer.step >= settings.steps)

    def advance(self, clock):
        record = self.trainer.train_step()
        if distributed.is_main() and record['idx'] % self.settings.eval_every == 0:
            row = log_row(record, self.trainer.evaluate()[3])
            self.log(row)
            self.progress.set_postfix({k: row[k] for k in ('d_loss', 'g_loss', 'eyes_corr', 'mouth_corr', 'pose_corr')})
        return self.trainer.idx == 0  # an epoch's end

    def save(self):
        save_training(self.trainer)


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
    with appending_log(log_path, LOG_COLUMNS) as log:
        progress = tqdm(total=total_steps(trainer), initial=trainer.step, desc='fine-tuning',
                        unit='batch', disable=not main)
        try:
            if run_training(FineTuning(trainer, log, progress), settings.checkpoint_minutes, settings.max_minutes,
                            progress):
                progress.write(f'stopping after step {trainer.step}: --max-minutes'
                               f' {settings.max_minutes} reached (re-run to continue)')
        finally:
            progress.close()
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


def parse_args(argv=None):
    """The run's settings from the command line (flags over the preset over the defaults)."""
    return parse_settings(FineTuneSettings, argv, PRESETS, __doc__)


def main(argv=None):
    settings = parse_args(argv)
    return run_command(lambda: train(settings), argv,
                       interrupted=f'checkpoint saved in {settings.out_dir}; re-run the same'
                                   f' command to continue')
