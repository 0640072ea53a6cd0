"""StyleGAN-FineTune-v5: fine-tune a base generator so that a 3-dim label (eyes, mouth, pose)
controls the face, against a discriminator built from the Property Score CNN.

    python run_stylegan_finetune_v5.py                      # improved, default world, ~13 min CPU
    python run_stylegan_finetune_v5.py --preset faithful    # the published training, same world
    python run_stylegan_finetune_v5.py --preset ohlora      # the published 256 px models, on a GPU

Faithful to the published run (SPEC "StyleGAN-FineTune-v5"): the v1 generator converted to v5
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
  for that property (`stylegan/label_warm_start.py`), instead of staying random: the label starts
  as a control that is right to first order, and the fine-tuning corrects the rest.

Reals are shown to D at the generator's resolution (area-downscaled, then D's own resize to 256 px),
so D cannot tell reals from fakes by their sharpness. Everything the next step depends on (weights,
optimizer moments, position in the epoch, last G loss, random states) is in `checkpoint.pth`,
written atomically at the end of every epoch, at the time limit and on interruption; re-running
the same command continues the run exactly.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
# The object-oriented Figure renders PNGs with the Agg canvas and never touches a display.
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from atomic_write import atomic_write, write_csv, write_json
from checkpoints import CheckpointError
from data.build_default_world import build_world
from property_score_cnn.model import as_model_input, load_property_score_cnn, score_images
from property_score_cnn.scoring import cnn_score_table, load_table_views
from property_score_cnn.train import jitter
from segmentation.score_table import read_score_table
from stylegan.generate import contact_sheet, save_png, to_uint8
from stylegan.label_warm_start import warm_start_label
from stylegan.loading import convert_v1_to_v5, load_generator, save_generator
from stylegan.property_discriminator import (CORE_PROPERTIES, PropertyDiscriminator,
                                             init_from_property_score_cnn,
                                             save_property_discriminator)
from training_log import appending_log, trim_log

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORE_COLUMNS = tuple(f'{name}_score' for name in CORE_PROPERTIES)

# The published evaluation: every (eyes, mouth, pose) corner below, 10 fixed z each.
EVAL_LABELS = tuple((eyes, mouth, pose) for eyes in (-1.6, 1.6) for mouth in (-1.2, 1.6)
                    for pose in (-1.2, 2.4))
EVAL_Z_PER_LABEL = 10
SAMPLE_PSIS = (1.0, 0.75, 0.5, 0.25, 0.0)
LOG_COLUMNS = ('epoch', 'idx', 'd_loss', 'g_loss', 'd_train_count', 'g_train_count',
               'real_scores_mean', 'fake_scores_mean', 'real_fake_auroc',
               'eyes_corr', 'mouth_corr', 'pose_corr', 'eyes_mae', 'mouth_mae', 'pose_mae')
DEFAULT_WORLD = os.path.join(REPO, 'outputs', 'world')
DEFAULT_WORLD_SIZE = 10000

_FAITHFUL = dict(
    generator=os.path.join(REPO, 'models', 'default', 'base_generator.pth'),
    property_cnn=os.path.join(REPO, 'models', 'default', 'property_score_cnn.pth'),
    scores=os.path.join(DEFAULT_WORLD, 'all_scores_v2_cnn.csv'),
    # The default run must fit 15 minutes of this repository's 2-core CPU, set-up included.
    epochs=500, max_minutes=12.0,
    fake_labels='batch', property_weight=0.0, first_layer_lr_mul=1.0, label_init='random')
PRESETS = {
    'faithful': _FAITHFUL,
    # The default: the one that learns. Its warm start takes about 80 s of the 15 minutes.
    'improved': dict(_FAITHFUL, fake_labels='data', property_weight=1.0, first_layer_lr_mul=100.0,
                     label_init='directions', max_minutes=10.0),
    # The published configuration: 256 px v1 generator and CNN dropped into models/, on a GPU,
    # trained on the default world's full-size images scored by the published CNN.
    'ohlora': dict(_FAITHFUL,
                   generator=os.path.join(REPO, 'models', 'stylegan_gen_fine_tuned_v1.pth'),
                   property_cnn=os.path.join(REPO, 'models', 'stylegan_gen_fine_tuned_v2_cnn.pth'),
                   scores=os.path.join(DEFAULT_WORLD, 'all_scores_v2_cnn_ohlora.csv'),
                   max_minutes=0.0),
}
# Settings a checkpoint must agree with to be resumed; the others only say how long to go on.
NOT_RESUME_KEYS = ('out_dir', 'device', 'epochs', 'steps', 'max_minutes')


# ---- models -----------------------------------------------------------------------------------
def build_models(args):
    """(v5 generator, property discriminator, frozen Property Score CNN), all on `args.device`."""
    torch.manual_seed(args.seed)  # the discriminator's new head
    generator = convert_v1_to_v5(load_generator(args.generator, 'v1'), seed=args.seed)
    cnn = load_property_score_cnn(args.property_cnn)
    discriminator = init_from_property_score_cnn(PropertyDiscriminator(cnn.width), cnn)
    device = torch.device(args.device)
    return (generator.train().to(device), discriminator.train().to(device),
            cnn.eval().requires_grad_(False).to(device))


# ---- data -------------------------------------------------------------------------------------
def ensure_score_table(args, cnn, resolution):
    """Build the preset's default world and its CNN-derived table when missing; a table the user
    named must exist."""
    if os.path.isfile(args.scores):
        return
    if args.scores != PRESETS[args.preset]['scores']:
        raise FileNotFoundError(f'score table not found: {args.scores}')
    source = os.path.join(os.path.dirname(args.scores), 'all_scores_v2.csv')
    if not os.path.isfile(source):
        print(f'building the default face world in {os.path.dirname(source)}')
        build_world(DEFAULT_WORLD_SIZE, 0, os.path.dirname(source))
    print(f'scoring the world with {args.property_cnn} -> {args.scores}')
    cnn_score_table(cnn, source, args.scores, resolution)


def load_training_set(table_path, resolution, batch_size):
    """Real images as D sees them (uint8 [N, R, R, 3] at the generator's resolution) and their
    (eyes, mouth, pose) labels [N, 3]."""
    table = read_score_table(table_path)
    if len(table) < batch_size:
        raise ValueError(f'{table_path}: {len(table)} images, fewer than one batch of {batch_size}')
    labels = torch.tensor(table.loc[:, list(CORE_COLUMNS)].to_numpy(), dtype=torch.float32)
    return load_table_views(table.abs_img_path, resolution), labels


def epoch_order(n, seed, epoch):
    """The order of the images in an epoch: a function of seed and epoch only, so a resumed run
    needs no more than its position to find its next batch."""
    return np.random.default_rng([seed, epoch]).permutation(n)


# ---- evaluation -------------------------------------------------------------------------------
def evaluation_batch(z):
    """Latents and labels of the published evaluation: each label row repeats over the fixed z."""
    labels = torch.tensor(EVAL_LABELS, dtype=torch.float32).repeat_interleave(len(z), dim=0)
    return z.repeat(len(EVAL_LABELS), 1), labels


@torch.no_grad()
def render(generator, z, labels, psi, batch_size=16):
    """uint8 NHWC images, stored noise, conditional truncation at `psi`."""
    device = next(generator.parameters()).device
    return np.concatenate([
        to_uint8(generator(z[i:i + batch_size].to(device), labels[i:i + batch_size].to(device),
                           trunc_psi=psi, randomize_noise=False)['image'])
        for i in range(0, len(z), batch_size)])


class CoreScores(torch.nn.Module):
    """The Property Score CNN reduced to its eyes, mouth and pose branches, for `score_images`:
    the evaluation needs no more, and the whole-image hair branches would cost most of its time."""

    def __init__(self, cnn):
        super().__init__()
        self.cnn = cnn

    def forward(self, images):
        return self.cnn.score(images, CORE_PROPERTIES)


def measure(generator, cnn, z, psi):
    """Images, asked-for labels [80, 3] and CNN-measured scores [80, 3] of the evaluation set.
    The images are scored as saved (uint8), as the original scored its saved files."""
    z_all, labels = evaluation_batch(z)
    images = render(generator, z_all, labels, psi)
    return images, labels.numpy(), score_images(CoreScores(cnn), images)


def agreement(labels, scores):
    """Per property: Pearson correlation and mean absolute error of measured vs asked-for."""
    result = {}
    for i, name in enumerate(CORE_PROPERTIES):
        constant = np.ptp(scores[:, i]) == 0
        result[f'{name}_corr'] = float('nan') if constant else float(
            np.corrcoef(labels[:, i], scores[:, i])[0, 1])
    for i, name in enumerate(CORE_PROPERTIES):
        result[f'{name}_mae'] = float(np.abs(labels[:, i] - scores[:, i]).mean())
    return result


# ---- training ---------------------------------------------------------------------------------
def r1_penalty(reals, real_scores):
    grad, = torch.autograd.grad(real_scores.sum(), reals, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def generator_optimizer(generator, lr, first_layer_lr_mul):
    """AdamW over every layer; the first mapping layer (new in v5) at `first_layer_lr_mul` x lr."""
    first = list(generator.mapping.dense0.parameters())
    rest = [p for p in generator.parameters() if all(p is not q for q in first)]
    return torch.optim.AdamW([{'params': rest}, {'params': first, 'lr': lr * first_layer_lr_mul}],
                             lr=lr)


def optimise(optimizer, loss):
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


class FineTuneV5:
    """Models, optimizers, position in the data and random states: what a checkpoint holds."""

    def __init__(self, args, views, labels, models):
        self.args = args
        self.device = torch.device(args.device)
        self.views, self.labels = views, labels
        self.G, self.D, self.cnn = models
        self.opt_G = generator_optimizer(self.G, args.lr, args.first_layer_lr_mul)
        self.opt_D = torch.optim.AdamW(self.D.parameters(), lr=args.lr)
        self.rng = torch.Generator().manual_seed(args.seed)  # batches, jitter, latents, labels
        self.batches_per_epoch = len(views) // args.batch_size  # the ragged last batch is dropped
        self.epoch = self.idx = self.step = 0
        self.last_g_loss = None
        self.eval_z = torch.randn(EVAL_Z_PER_LABEL, self.G.z_dim,
                                  generator=torch.Generator().manual_seed(args.seed + 1))

    # ---- data ---------------------------------------------------------------------------------
    def real_batch(self):
        start = self.idx * self.args.batch_size
        index = epoch_order(len(self.views), self.args.seed, self.epoch)[start:start + self.args.batch_size]
        reals = jitter(as_model_input(self.views[index]), self.args.jitter, self.rng)
        return reals.to(self.device), self.labels[index].to(self.device)

    def fake_labels(self, real_labels):
        if self.args.fake_labels == 'batch':
            return real_labels
        index = torch.randint(len(self.labels), (len(real_labels),), generator=self.rng)
        return self.labels[index].to(self.device)

    def generate(self, labels):
        z = torch.randn(len(labels), self.G.z_dim, generator=self.rng).to(self.device)
        result = self.G(z, labels, trunc_psi=self.args.trunc_psi, randomize_noise=True)
        self.G.update_w_avg(result['w'], self.args.w_avg_decay)
        return result['image']

    # ---- losses -------------------------------------------------------------------------------
    def d_loss(self, reals, real_labels, fake_labels):
        with torch.no_grad():
            fakes = self.generate(fake_labels)
        reals = reals.detach().requires_grad_(self.args.r1_gamma > 0)
        real_scores, fake_scores = self.D(reals, real_labels), self.D(fakes, fake_labels)
        loss = F.softplus(fake_scores).mean() + F.softplus(-real_scores).mean()
        if self.args.r1_gamma > 0:
            loss = loss + r1_penalty(reals, real_scores) * (self.args.r1_gamma / 2)
        return loss, real_scores.detach().flatten().cpu(), fake_scores.detach().flatten().cpu()

    def g_loss(self, fake_labels):
        """(adversarial loss, loss to minimise): the adaptive rules compare the adversarial part,
        as the published run had no other."""
        fakes = self.generate(fake_labels)
        adversarial = F.softplus(-self.D(fakes, fake_labels)).mean()
        if self.args.property_weight == 0:
            return adversarial, adversarial
        measured = self.cnn.score(fakes, CORE_PROPERTIES)
        return adversarial, adversarial + self.args.property_weight * F.mse_loss(measured, fake_labels)

    # ---- one step -----------------------------------------------------------------------------
    def train_step(self):
        """One batch: the adaptive D updates, then the adaptive G updates -> the step's record."""
        args = self.args
        reals, real_labels = self.real_batch()
        fake_labels = self.fake_labels(real_labels)
        self.G.requires_grad_(False)
        self.D.requires_grad_(True)
        for d_count in range(1, args.max_d_updates + 1):
            d_loss, real_scores, fake_scores = self.d_loss(reals, real_labels, fake_labels)
            optimise(self.opt_D, d_loss)
            d_loss = d_loss.item()
            if self.last_g_loss is None or d_loss < args.d_repeat_ratio * self.last_g_loss:
                break
        self.D.requires_grad_(False)
        self.G.requires_grad_(True)
        for g_count in range(1, args.max_g_updates + 1):
            g_loss, total = self.g_loss(fake_labels)
            optimise(self.opt_G, total)
            g_loss = g_loss.item()
            if g_loss < args.g_repeat_ratio * d_loss:
                break
        self.last_g_loss = g_loss
        record = {'epoch': self.epoch, 'idx': self.idx, 'd_loss': d_loss, 'g_loss': g_loss,
                  'd_train_count': d_count, 'g_train_count': g_count,
                  'real_scores_mean': real_scores.mean().item(),
                  'fake_scores_mean': fake_scores.mean().item(),
                  'real_fake_auroc': roc_auc_score(
                      np.r_[np.ones(len(real_scores)), np.zeros(len(fake_scores))],
                      np.r_[real_scores.numpy(), fake_scores.numpy()])}
        self.advance()
        return record

    def advance(self):
        self.step += 1
        self.idx += 1
        if self.idx == self.batches_per_epoch:
            self.epoch, self.idx = self.epoch + 1, 0

    def evaluate(self, psi=None):
        images, labels, scores = measure(self.G, self.cnn, self.eval_z,
                                         self.args.trunc_psi if psi is None else psi)
        return images, labels, scores, agreement(labels, scores)

    # ---- state --------------------------------------------------------------------------------
    def state(self):
        return {'G': self.G.state_dict(), 'D': self.D.state_dict(),
                'opt_G': self.opt_G.state_dict(), 'opt_D': self.opt_D.state_dict(),
                'epoch': self.epoch, 'idx': self.idx, 'step': self.step,
                'last_g_loss': torch.tensor(float('nan') if self.last_g_loss is None
                                            else self.last_g_loss, dtype=torch.float64),
                'rng': self.rng.get_state(), 'torch_rng': torch.get_rng_state(),
                'cuda_rng': (torch.cuda.get_rng_state(self.device) if self.device.type == 'cuda'
                             else torch.zeros(0, dtype=torch.uint8)),
                'settings': json.dumps(resume_settings(self.args))}

    def load_state(self, state, path):
        stored = json.loads(state['settings'])
        if stored != resume_settings(self.args):
            changed = sorted(k for k in stored if stored[k] != resume_settings(self.args).get(k))
            raise ValueError(f'{path} is the checkpoint of a run with other settings ({changed});'
                             f' use another --out-dir or the same settings')
        self.G.load_state_dict(state['G'])
        self.D.load_state_dict(state['D'])
        self.opt_G.load_state_dict(state['opt_G'])
        self.opt_D.load_state_dict(state['opt_D'])
        self.epoch, self.idx, self.step = int(state['epoch']), int(state['idx']), int(state['step'])
        last = float(state['last_g_loss'])
        self.last_g_loss = None if np.isnan(last) else last
        self.rng.set_state(state['rng'])
        torch.set_rng_state(state['torch_rng'])
        if self.device.type == 'cuda' and state['cuda_rng'].numel():
            torch.cuda.set_rng_state(state['cuda_rng'], self.device)


def resume_settings(args):
    return {key: value for key, value in vars(args).items() if key not in NOT_RESUME_KEYS}


# ---- files ------------------------------------------------------------------------------------
def out_path(args, *names):
    return os.path.join(args.out_dir, *names)


def save_training(trainer):
    """The checkpoint to resume from, and G and D as loadable model files."""
    with atomic_write(out_path(trainer.args, 'checkpoint.pth')) as tmp:
        torch.save(trainer.state(), tmp)
    save_generator(trainer.G, out_path(trainer.args, 'generator.pth'))
    save_property_discriminator(trainer.D, out_path(trainer.args, 'discriminator.pth'))


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
                 out_path(trainer.args, 'samples', f'{name}.png'))
        table = pd.DataFrame({'image_no': range(len(images)),
                              'z_index': np.tile(range(EVAL_Z_PER_LABEL), len(EVAL_LABELS))})
        for i, prop in enumerate(CORE_PROPERTIES):
            table[f'{prop}_label'] = labels[:, i].round(4)
        for i, prop in enumerate(CORE_PROPERTIES):
            table[f'{prop}_cnn_score'] = scores[:, i].round(4)
        write_csv(out_path(trainer.args, 'samples', f'{name}.csv'), table)
        summary.append({'psi': psi, **{k: round(v, 4) for k, v in metrics.items()}})
    write_csv(out_path(trainer.args, 'samples', 'summary.csv'), pd.DataFrame(summary))
    return summary


# ---- the run ----------------------------------------------------------------------------------
def prepare(args):
    """Models, data and (when a checkpoint exists) the state to continue from."""
    validate_args(args)
    models = build_models(args)
    resolution = models[0].config['resolution']
    ensure_score_table(args, models[2], resolution)
    views, labels = load_training_set(args.scores, resolution, args.batch_size)
    trainer = FineTuneV5(args, views, labels, models)
    checkpoint = out_path(args, 'checkpoint.pth')
    if os.path.exists(checkpoint):
        trainer.load_state(torch.load(checkpoint, map_location='cpu', weights_only=True), checkpoint)
        # Only the batches before the checkpoint's position: none is logged twice on resume.
        epoch, idx = trainer.epoch, trainer.idx
        trim_log(out_path(args, 'train_log.csv'),
                 lambda log: (log.epoch < epoch) | ((log.epoch == epoch) & (log.idx < idx)))
        print(f'resumed from {checkpoint} at epoch {trainer.epoch}, batch {trainer.idx}'
              f' (step {trainer.step})')
    elif args.label_init == 'directions':
        write_json(out_path(args, 'warm_start.json'), warm_start(trainer))
    return trainer


def warm_start(trainer):
    """The label's warm start, with the evaluation before it, the fit and the time it took."""
    args = trainer.args
    before = trainer.evaluate()[3]
    started = time.time()
    print(f'warm start of the label from {args.label_init_samples} samples')
    r2 = warm_start_label(trainer.G, trainer.cnn, args.label_init_samples, args.seed, trainer.device)
    return {'samples': args.label_init_samples, 'fit_r2': r2,
            'seconds': round(time.time() - started, 1), 'before_warm_start': before}


def finished(trainer):
    args = trainer.args
    return trainer.epoch >= args.epochs or (args.steps is not None and trainer.step >= args.steps)


def total_steps(trainer):
    by_epochs = trainer.args.epochs * trainer.batches_per_epoch
    return by_epochs if trainer.args.steps is None else min(by_epochs, trainer.args.steps)


def train(args):
    """Train (or continue) until --epochs, --steps or --max-minutes; then the sample sets and
    plots. Returns the trainer. Raises KeyboardInterrupt after checkpointing an interrupted run."""
    torch.set_float32_matmul_precision('high')
    trainer = prepare(args)
    write_json(out_path(args, 'config.json'), {**vars(args), 'batches_per_epoch':
                                              trainer.batches_per_epoch,
                                              'generator_config': trainer.G.config})
    if trainer.step == 0:
        write_json(out_path(args, 'before_finetuning.json'), trainer.evaluate()[3])
    log_path = out_path(args, 'train_log.csv')
    started = time.time()
    with appending_log(log_path, LOG_COLUMNS) as log:
        progress = tqdm(total=total_steps(trainer), initial=trainer.step, desc='fine-tuning',
                        unit='batch')
        try:
            while not finished(trainer):
                record = trainer.train_step()
                progress.update(1)
                if record['idx'] % args.eval_every == 0:
                    row = log_row(record, trainer.evaluate()[3])
                    log(row)
                    progress.set_postfix({k: row[k] for k in ('d_loss', 'g_loss', 'eyes_corr',
                                                              'mouth_corr', 'pose_corr')})
                if trainer.idx == 0:
                    save_training(trainer)
                if args.max_minutes and time.time() - started > args.max_minutes * 60:
                    progress.write(f'stopping after step {trainer.step}: --max-minutes'
                                   f' {args.max_minutes} reached (re-run to continue)')
                    break
        finally:
            progress.close()
            save_training(trainer)
    plot_curves(log_path, trainer.batches_per_epoch, args.out_dir)
    for row in write_sample_sets(trainer):
        print('  '.join(f'{k} {v}' for k, v in row.items()))
    print(f'step {trainer.step}: generator, discriminator, train_log.csv, samples/ and the'
          f' curves are in {args.out_dir}')
    return trainer


def validate_args(args):
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise ValueError(f'--device {args.device}: CUDA is not available here; use --device cpu')
    positive = ('batch_size', 'epochs', 'eval_every', 'max_d_updates', 'max_g_updates',
                'label_init_samples')
    for name in positive + (('steps',) if args.steps is not None else ()):
        if getattr(args, name) < 1:
            raise ValueError(f'--{name.replace("_", "-")} must be at least 1, got {getattr(args, name)}')
    if args.batch_size < 2:
        raise ValueError('--batch-size must be at least 2 (the real-vs-fake AUROC needs it)')
    checks = {'lr': args.lr > 0, 'r1_gamma': args.r1_gamma >= 0, 'trunc_psi': 0 <= args.trunc_psi <= 1,
              'w_avg_decay': 0 <= args.w_avg_decay <= 1, 'jitter': 0 <= args.jitter < 1,
              'property_weight': args.property_weight >= 0, 'max_minutes': args.max_minutes >= 0,
              'first_layer_lr_mul': args.first_layer_lr_mul > 0}
    bad = ', '.join(f'--{name.replace("_", "-")} {getattr(args, name)}'
                    for name, ok in checks.items() if not ok)
    if bad:
        raise ValueError(f'out of range: {bad} (need lr > 0, r1-gamma >= 0, trunc-psi and'
                         f' w-avg-decay in [0, 1], jitter in [0, 1), property-weight >= 0,'
                         f' max-minutes >= 0, first-layer-lr-mul > 0)')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--preset', choices=sorted(PRESETS), default='improved',
                        help='improved (the default: the options that make it learn), faithful (the'
                             ' published training, default world), or ohlora (the published 256 px'
                             ' models in models/)')
    parser.add_argument('--generator', help='base generator in the v1 format')
    parser.add_argument('--property-cnn', help='Property Score CNN (width of D follows it)')
    parser.add_argument('--scores', help='CNN-derived all_scores table of the training images')
    parser.add_argument('--out-dir', help='default outputs/finetune_v5/<preset>')
    parser.add_argument('--epochs', type=int)
    parser.add_argument('--steps', type=int, default=None, help='stop after this many batches')
    parser.add_argument('--max-minutes', type=float,
                        help='stop (with a checkpoint) after this much training time; 0 = no limit')
    parser.add_argument('--fake-labels', choices=('batch', 'data'),
                        help="fakes' labels: the real batch's own, or drawn from the data")
    parser.add_argument('--property-weight', type=float,
                        help="weight of the frozen CNN's squared error on the fakes in G's loss")
    parser.add_argument('--first-layer-lr-mul', type=float,
                        help='learning-rate multiplier of the re-initialised first mapping layer')
    parser.add_argument('--label-init', choices=('random', 'directions'),
                        help="the first mapping layer's label columns: random (as converted), or"
                             " set from the property directions of z before the first step")
    parser.add_argument('--label-init-samples', type=int, default=4000,
                        help='generated images the label directions are fitted on')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--lr', type=float, default=1e-4)
    parser.add_argument('--r1-gamma', type=float, default=10.0)
    parser.add_argument('--trunc-psi', type=float, default=0.5,
                        help='conditional truncation in training and evaluation')
    parser.add_argument('--w-avg-decay', type=float, default=0.995)
    parser.add_argument('--jitter', type=float, default=0.1, help='brightness and contrast jitter')
    parser.add_argument('--max-d-updates', type=int, default=4)
    parser.add_argument('--max-g-updates', type=int, default=4)
    parser.add_argument('--d-repeat-ratio', type=float, default=1.5,
                        help='D is updated again while its loss >= this x the last G loss')
    parser.add_argument('--g-repeat-ratio', type=float, default=2.0,
                        help="G is updated again while its loss >= this x D's loss")
    parser.add_argument('--eval-every', type=int, default=10, help='batches between evaluations')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    preset = parser.parse_known_args(argv)[0].preset
    parser.set_defaults(**PRESETS[preset],
                        out_dir=os.path.join(REPO, 'outputs', 'finetune_v5', preset))
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        train(args)
    except (CheckpointError, FileNotFoundError, ValueError, KeyError) as error:
        sys.exit(f'error: {error}')
    except KeyboardInterrupt:
        sys.exit(f'interrupted: checkpoint saved in {args.out_dir}; re-run the same command to'
                 f' continue')
