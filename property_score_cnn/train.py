"""Train the Property Score CNN on an all_scores table, then write the CNN-derived table.

    python -m property_score_cnn.train --scores world/all_scores_v2.csv \\
        --out models/default/property_score_cnn.pth --width 0.25 --resolution 64

Regression of the seven normalised scores (one MSE averaged over the outputs) on what the CNN will
see of a generator's image (`scoring.cnn_view`), with brightness and contrast jitter, a seeded
train/validation split, and early stopping on the validation loss; the weights of the best epoch
are kept. Written next to --out: `<stem>_config.json` (the arguments), `<stem>_log.csv` (one row
per epoch), `<stem>_metrics.json` (per-property validation Pearson r and MAE of the kept weights,
epochs, wall time, machine) and, next to the table, `all_scores_v2_cnn.csv`.

Every epoch ends with a checkpoint holding everything the next batch depends on (weights,
optimizer moments, random states, best weights, early-stopping counter, history), and so does
every few minutes of an epoch (--checkpoint-minutes, with the epoch's batch order and the batches
done), so re-running the same command after an interruption, even a kill, continues exactly as if
it had never stopped; re-running a finished training only rewrites its outputs.
"""
import copy
import json
import os
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from common.checkpoints import CheckpointError, first_line, read_state
from common.cli import prepare_output_file, run_command
from common.files import atomic_write, write_json
from common.images import jitter
from common.machine import machine
from common.settings import (TRAINING, Path, as_record, check_settings, checkpoint_minutes_setting, device_setting,
                             parse_settings, resolved_device, seed_setting, setting, training_record)
from scores.properties import PROPERTY_NAMES
from common.training_loop import (end_of_epoch, epoch_batches, random_states, restore_random_states,
                                  run_training)
from common.validation import InputError, check_count, check_finite, check_fraction, check_not_negative, check_positive
from property_score_cnn.model import (PropertyScoreCNN, as_model_input, save_property_score_cnn,
                                      score_images)
from property_score_cnn.scoring import (check_resolution, cnn_score_table, load_table_views,
                                        pearson_per_column)
from scores.table import SCORE_COLUMNS, read_score_table

CNN_TABLE_NAME = 'all_scores_v2_cnn.csv'
# Arguments a checkpoint must agree with to be resumed; the others (epochs, patience, time
# budget, checkpoint interval, device) may change between runs, e.g. to extend a training.


def _resolution(value, flag):
    check_count(value, flag, minimum=0)
    try:
        check_resolution(value)
    except ValueError as error:
        raise InputError(f'--{error}') from None


def _open_fraction(value, flag):
    check_finite(value, flag, 0.0, 1.0)
    if not 0 < value < 1:
        raise InputError(f'{flag} must be above 0 and below 1, got {value:g}')


@dataclass
class CNNTrainingSettings:
    """Everything a training depends on: `scores` is the all_scores table to learn, `out` the
    trained CNN's file (its config, log and metrics are written beside it)."""
    scores: Path = setting(help='the all_scores table to learn', stage=TRAINING)
    out: Path = setting(help='the trained CNN (.pth)')
    checkpoint: Optional[Path] = setting(None, help='training state to resume from; default <out stem>_checkpoint.pth')
    width: float = setting(0.25, check=check_positive, help='channel multiplier of every layer', stage=TRAINING)
    resolution: int = setting(64, check=_resolution, stage=TRAINING,
                              help='images are seen at this resolution, upsampled to 256; 0 = off')
    epochs: int = setting(30, check=check_count)
    batch_size: int = setting(32, check=check_count, stage=TRAINING)
    lr: float = setting(1e-3, check=check_positive, stage=TRAINING)
    patience: int = setting(4, check=check_count, help='epochs without a better validation loss before stopping')
    val_fraction: float = setting(0.1, check=_open_fraction, stage=TRAINING)
    jitter: float = setting(0.1, check=check_fraction, help='brightness and contrast jitter strength', stage=TRAINING)
    bf16: bool = setting(False, switch=True,
                         help='bfloat16 autocast in training steps (faster on a CPU with bf16 instructions)',
                         stage=TRAINING)
    seed: int = seed_setting(stage=TRAINING)
    device: Optional[str] = device_setting()
    max_minutes: float = setting(0.0, check=check_not_negative,
                                 help='stop after the epoch that passes this much wall time; 0 = no limit')
    checkpoint_minutes: float = checkpoint_minutes_setting('every epoch end')

    def __post_init__(self):
        """Every value checked before any work (a bad one is a usage error of the command)."""
        self.device = resolved_device(self.device)
        check_settings(self)


# ---- data ------------------------------------------------------------------------------------
def split_indices(n, val_fraction, seed):
    """A seeded (train, validation) split of range(n); both parts non-empty."""
    n_val = int(round(n * val_fraction))
    if not 0 < val_fraction < 1 or n_val < 1 or n_val >= n:
        raise ValueError(f'--val-fraction {val_fraction} of {n} images leaves no training or no'
                         f' validation image')
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


# ---- training state ---------------------------------------------------------------------------
class Training:
    """Model, optimizer, random states and early-stopping bookkeeping: everything a checkpoint
    holds."""

    def __init__(self, settings):
        self.settings = settings
        torch.manual_seed(settings.seed)  # weight initialisation and dropout
        self.rng = torch.Generator().manual_seed(settings.seed)  # batch order and jitter
        # channels_last: the convolutions have few channels, where this layout is faster.
        self.model = PropertyScoreCNN(settings.width).to(settings.device, memory_format=torch.channels_last)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=settings.lr)
        self.epoch = 0
        self.best_loss = float('inf')
        self.best_epoch = 0
        self.best_weights = copy.deepcopy(self.model.state_dict())
        self.bad_epochs = 0
        self.seconds = 0.0
        self.history = []
        # The epoch under way: its batch order, the batches done and their losses.
        self.order = None
        self.losses = []

    def state(self):
        return {'model': self.model.state_dict(), 'optimizer': self.optimizer.state_dict(),
                'epoch': self.epoch, 'best_loss': self.best_loss, 'best_epoch': self.best_epoch,
                'best_weights': self.best_weights, 'bad_epochs': self.bad_epochs,
                'seconds': self.seconds, 'history': json.dumps(self.history),
                'order': torch.as_tensor(self.order if self.order is not None else []),
                'losses': torch.tensor(self.losses, dtype=torch.float64),
                **random_states(self.rng, self.settings.device),
                'resume_args': json.dumps(training_record(self.settings))}

    def load_state(self, state, path):
        stored = json.loads(state['resume_args'])
        if stored != training_record(self.settings):
            raise ValueError(f'{path} is the checkpoint of a training with {stored}, not'
                             f' {training_record(self.settings)}; delete it or use another --checkpoint')
        self.model.load_state_dict(state['model'])
        self.optimizer.load_state_dict(state['optimizer'])
        self.best_weights = state['best_weights']
        self.epoch, self.best_epoch = int(state['epoch']), int(state['best_epoch'])
        self.best_loss, self.bad_epochs = float(state['best_loss']), int(state['bad_epochs'])
        self.seconds, self.history = float(state['seconds']), json.loads(state['history'])
        # A checkpoint from an epoch's end (all of them, before mid-epoch ones) has no epoch under way.
        order = state.get('order', torch.zeros(0))
        self.order = order.numpy() if len(order) else None
        self.losses = state.get('losses', torch.zeros(0)).tolist()
        restore_random_states(state, self.rng, self.settings.device)

    def finished(self):
        return self.epoch >= self.settings.epochs or self.bad_epochs >= self.settings.patience

    def stop_reason(self):
        if self.bad_epochs >= self.settings.patience:
            return f'early stopping: no better validation loss for {self.settings.patience} epochs'
        if self.epoch >= self.settings.epochs:
            return f'--epochs {self.settings.epochs} reached'
        return f'--max-minutes {self.settings.max_minutes} reached (re-run to continue)'



def train_epoch(training, views, targets, indices, clock):
    """One pass over the training images in a fresh random order (or the rest of the pass a
    checkpoint stopped in), checkpointing whenever `clock` says so -> mean loss."""
    settings, model = training.settings, training.model
    model.train()
    for batch in epoch_batches(training, indices, settings.batch_size, clock, save_checkpoint):
        # Jittered at the view's low resolution: the CNN's bilinear upsampling is linear, so this
        # equals jittering the 256 px image (up to clipping) at a sixteenth of the cost.
        images = jitter(as_model_input(views[batch]), settings.jitter, training.rng)
        # bf16 autocast roughly halves the time of a CPU step; the weights stay float32.
        with torch.autocast(torch.device(settings.device).type, dtype=torch.bfloat16, enabled=settings.bf16):
            predicted = model(images.to(settings.device))
        loss = F.mse_loss(predicted.float(), targets[batch].to(settings.device))
        training.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        training.optimizer.step()
        training.losses.append(loss.item())
    return end_of_epoch(training)


def validate(model, views, targets, indices, batch_size):
    """Validation loss and per-property Pearson r and MAE (float32, eval mode)."""
    predicted = score_images(model, views[indices], batch_size=batch_size)
    target = targets[indices].numpy()
    return {'loss': float(np.mean((predicted - target) ** 2)),
            'pearson_r': dict(zip(PROPERTY_NAMES, pearson_per_column(predicted, target).tolist())),
            'mae': dict(zip(PROPERTY_NAMES, np.abs(predicted - target).mean(0).tolist()))}


def end_epoch(training, train_loss, validation, seconds):
    """Record the epoch; keep the weights when the validation loss improved."""
    training.epoch += 1
    training.seconds += seconds
    if validation['loss'] < training.best_loss:
        training.best_loss, training.best_epoch, training.bad_epochs = validation['loss'], training.epoch, 0
        training.best_weights = copy.deepcopy(training.model.state_dict())
    else:
        training.bad_epochs += 1
    training.history.append({'epoch': training.epoch, 'train_loss': round(train_loss, 6),
                             'val_loss': round(validation['loss'], 6),
                             **{f'r_{name}': round(r, 5) for name, r in validation['pearson_r'].items()},
                             'seconds': round(training.seconds, 1)})


# ---- files ------------------------------------------------------------------------------------
def output_path(settings, suffix):
    stem = os.path.splitext(settings.out)[0]
    return f'{stem}_{suffix}'


def checkpoint_path(settings):
    return settings.checkpoint or output_path(settings, 'checkpoint.pth')


def save_checkpoint(training):
    with atomic_write(checkpoint_path(training.settings)) as tmp:
        torch.save(training.state(), tmp)


def write_log(training):
    with atomic_write(output_path(training.settings, 'log.csv')) as tmp:
        pd.DataFrame(training.history).to_csv(tmp, index=False)


def write_metrics(training, validation, n_train, n_val):
    settings = training.settings
    write_json(output_path(settings, 'metrics.json'), {
        'model': settings.out, 'scores': settings.scores, 'n_train': n_train, 'n_val': n_val,
        'epochs_run': training.epoch, 'best_epoch': training.best_epoch,
        'stopped': training.stop_reason(), 'train_seconds': round(training.seconds, 1),
        'machine': machine(torch.device(settings.device)),
        'validation': {name: {'pearson_r': round(validation['pearson_r'][name], 5),
                              'mae': round(validation['mae'][name], 5)} for name in PROPERTY_NAMES},
        'validation_loss': round(validation['loss'], 6)})


# ---- the run ----------------------------------------------------------------------------------
class Epochs:
    """The CNN's training as `common.training_loop` runs it: an epoch at a time (checkpointed
    inside when the clock says so), validated and logged, a checkpoint at its end."""

    def __init__(self, training, views, targets, split):
        self.training, self.views, self.targets, (self.train_idx, self.val_idx) = training, views, targets, split

    def finished(self):
        return self.training.finished()

    def advance(self, clock):
        training, settings = self.training, self.training.settings
        epoch_start = time.time()
        train_loss = train_epoch(training, self.views, self.targets, self.train_idx, clock)
        validation = validate(training.model, self.views, self.targets, self.val_idx, settings.batch_size)
        end_epoch(training, train_loss, validation, time.time() - epoch_start)
        save_checkpoint(training)
        clock.reset()
        write_log(training)
        print(f'epoch {training.epoch}: train loss {train_loss:.4f}, validation loss'
              f' {validation["loss"]:.4f} ({time.time() - epoch_start:.0f} s)')
        return False  # checkpointed above, before its log row is written

    def save(self):
        save_checkpoint(self.training)


def train(settings):
    """Train (or continue training), save the best weights, metrics and the CNN-derived table;
    returns the `Training` (its live model and kept weights)."""
    check_settings(settings)
    prepare_outputs(settings)
    table = read_score_table(settings.scores)
    train_idx, val_idx = split_indices(len(table), settings.val_fraction, settings.seed)
    # The checkpoint before the images, which take long to read (neither draws a random number).
    training = Training(settings)
    if os.path.exists(checkpoint_path(settings)):
        resume(training, checkpoint_path(settings))
        print(f'resumed from {checkpoint_path(settings)} after epoch {training.epoch}')
    views = load_table_views(table.abs_img_path, settings.resolution)
    targets = torch.tensor(table.loc[:, list(SCORE_COLUMNS)].to_numpy(), dtype=torch.float32)
    write_json(output_path(settings, 'config.json'), as_record(settings))
    run_training(Epochs(training, views, targets, (train_idx, val_idx)), settings.checkpoint_minutes,
                 settings.max_minutes)
    print(f'stopped after epoch {training.epoch}: {training.stop_reason()};'
          f' keeping epoch {training.best_epoch}')
    finish(training, views, targets, train_idx, val_idx)
    return training


def prepare_outputs(settings):
    """Check that every output can be written, and clear what a killed run left half-written."""
    prepare_output_file(settings.out, '--out')
    prepare_output_file(checkpoint_path(settings), '--checkpoint')
    prepare_output_file(os.path.join(os.path.dirname(os.path.abspath(settings.scores)), CNN_TABLE_NAME),
                        f'the CNN-derived table beside --scores {settings.scores}')


def resume(training, path):
    """Continue from the training checkpoint at `path` (a damaged or foreign one is named)."""
    state = read_state(path, remedy='delete it to start the training over, or give another --checkpoint')
    if not isinstance(state, dict) or 'resume_args' not in state:
        raise CheckpointError(f'{path}: not a checkpoint of property_score_cnn.train; delete it or'
                              f' use another --checkpoint')
    try:
        training.load_state(state, path)
    except (KeyError, RuntimeError, TypeError) as error:
        raise CheckpointError(f'{path}: a damaged checkpoint or one of another --width'
                              f' ({first_line(error)}); delete it or use another --checkpoint') from None


def finish(training, views, targets, train_idx, val_idx):
    """Save the kept weights, their validation metrics and the CNN-derived table."""
    settings = training.settings
    model = PropertyScoreCNN(settings.width).to(settings.device)
    model.load_state_dict(training.best_weights)
    save_property_score_cnn(model, settings.out)
    validation = validate(model, views, targets, val_idx, settings.batch_size)
    write_metrics(training, validation, len(train_idx), len(val_idx))
    cnn_table = os.path.join(os.path.dirname(os.path.abspath(settings.scores)), CNN_TABLE_NAME)
    cnn_score_table(model, settings.scores, cnn_table, settings.resolution, views=views)
    print(f'saved {settings.out}; CNN-derived table {cnn_table}')
    for name in PROPERTY_NAMES:
        print(f'  {name:16s} validation r {validation["pearson_r"][name]:.4f}'
              f'  MAE {validation["mae"][name]:.4f}')


def parse_args(argv=None):
    """The run's settings from the command line (flags over the defaults)."""
    return parse_settings(CNNTrainingSettings, argv, doc=__doc__)


def main(argv=None):
    settings = parse_args(argv)
    run_command(lambda: train(settings), argv,
                interrupted=f're-run the same command to continue from the last checkpoint'
                            f' ({checkpoint_path(settings)})')


if __name__ == '__main__':
    main()
