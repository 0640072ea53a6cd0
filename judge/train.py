"""Train the world reader on rendered faces of one world seed.

    python -m judge.train --out-dir outputs/world_reader --seed 7 --n 40000

Renders faces 0 .. n - 1 of the world with --seed at --resolution (cached in blocks under
<out-dir>/faces), keeps the last --val-n of them for validation, and fits the reader's factor
encodings (`judge.factors`), each column scaled to unit std, by a mean squared error in which every
factor weighs the same whatever its number of columns. Adam with a learning rate that warms up
and then follows a cosine to zero over --epochs, as a function of the step alone, so that a resumed
run takes exactly the steps an uninterrupted one would.

Written to --out-dir: world_reader.pth (the final weights), config.json (the settings), log.csv
(one row per epoch: losses, validation R^2 summaries, seconds) and checkpoint.pth, saved at every
epoch's end and every --checkpoint-minutes inside one, with everything the next batch depends on:
re-running the same command after a stop, even a kill, ends with the same weights as a run that
never stopped, and re-running a finished training only rewrites its outputs.
"""
import json
import math
import os
import time
from dataclasses import dataclass
from functools import partial
from typing import Optional

import numpy as np
import pandas as pd
import torch

from common.checkpoints import CheckpointError, first_line, read_state
from common.cli import run_command
from common.files import atomic_write, write_csv, write_json
from common.machine import machine
from common.run_lock import in_held_folder
from common.settings import (TRAINING, Path, as_record, check_settings, checkpoint_minutes_setting,
                             device_setting, parse_settings, resolved_device, setting, training_record)
from common.training_loop import (end_of_epoch, epoch_batches, random_states, restore_random_states,
                                  run_training)
from common.validation import InputError, check_count, check_fraction, check_positive
from judge.factors import (IDENTITY_FACTORS, PROPERTY_FACTORS, READ_FACTORS, columns_of,
                           encode, r_squared)
from judge.faces import cached_faces
from judge.reader import WorldReader, save_world_reader
from judge.views import reader_input

MODEL_NAME = 'world_reader.pth'
CHECKPOINT_NAME = 'checkpoint.pth'
# Settings a checkpoint must agree with to be resumed (the others only say how to run).


def _resolution(value, flag):
    check_count(value, flag, minimum=16)
    if value % 16:
        raise InputError(f'{flag} must be a multiple of 16, got {value}')


@dataclass
class ReaderTrainingSettings:
    """Everything a training depends on; `seed` is the world's seed and the training's."""
    out_dir: Path = setting(help='the training folder (faces, checkpoint, weights, log)')
    seed: int = setting(7, check=partial(check_count, minimum=0),
                        help='the world whose faces are rendered, and every random draw of the training',
                        stage=TRAINING)
    n: int = setting(40_000, check=check_count, help='faces rendered, validation included', stage=TRAINING)
    val_n: int = setting(1_000, check=partial(check_count, minimum=2), stage=TRAINING,
                         help='the last faces, kept for validation')
    resolution: int = setting(64, check=_resolution, help='image side the reader reads', stage=TRAINING)
    width: float = setting(1.0, check=check_positive, help='channel multiplier of every layer', stage=TRAINING)
    epochs: int = setting(4, check=check_count, stage=TRAINING)
    batch_size: int = setting(64, check=check_count, stage=TRAINING)
    lr: float = setting(2e-3, check=check_positive, help='peak learning rate', stage=TRAINING)
    warmup_fraction: float = setting(0.02, check=check_fraction, help='share of the steps that warm up', stage=TRAINING)
    bf16: bool = setting(False, switch=True, help='bfloat16 autocast in training steps', stage=TRAINING)
    workers: int = setting(2, check=check_count, help='processes that render faces')
    block_size: int = setting(2_000, check=check_count, help='faces per cached block')
    device: Optional[str] = device_setting()
    checkpoint_minutes: float = checkpoint_minutes_setting('every epoch end')

    def __post_init__(self):
        """Every value checked before any work (a bad one is a usage error of the command)."""
        self.device = resolved_device(self.device)
        check_settings(self)
        if self.val_n >= self.n:
            raise InputError(f'--val-n must be below --n ({self.n}), got {self.val_n}')


def column_weights():
    """Each column's weight in the loss: a factor's columns share one unit, so that a hue or a
    class counts as much as a single value."""
    return torch.tensor([1.0 / len(columns_of(name)) for name in READ_FACTORS
                         for _ in columns_of(name)]) / len(READ_FACTORS)


def learning_rate(settings, step, total_steps):
    """Linear warm-up, then a cosine to zero, as a function of the global step."""
    warmup = max(1, round(settings.warmup_fraction * total_steps))
    if step < warmup:
        return settings.lr * (step + 1) / warmup
    return settings.lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))


class Training:
    """Model, optimizer, random states and progress: everything a checkpoint holds."""

    def __init__(self, settings, n_train):
        self.settings = settings
        torch.manual_seed(settings.seed)  # weight initialisation
        self.rng = torch.Generator().manual_seed(settings.seed)  # batch order
        self.model = WorldReader(settings.resolution, settings.width).to(
            settings.device, memory_format=torch.channels_last)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=settings.lr)
        self.batches_per_epoch = math.ceil(n_train / settings.batch_size)
        self.epoch = 0
        self.seconds = 0.0
        self.history = []
        self.order = None   # the epoch under way: its order and the losses of its batches done
        self.losses = []

    def state(self):
        return {'model': self.model.state_dict(), 'optimizer': self.optimizer.state_dict(),
                'epoch': self.epoch, 'seconds': self.seconds, 'history': json.dumps(self.history),
                'order': torch.as_tensor(self.order if self.order is not None else []),
                'losses': torch.tensor(self.losses, dtype=torch.float64),
                **random_states(self.rng, self.settings.device),
                'resume_args': json.dumps(training_record(self.settings))}

    def load_state(self, state, path):
        stored = json.loads(state['resume_args'])
        if stored != training_record(self.settings):
            raise CheckpointError(f'{path} is the checkpoint of a training with {stored}, not'
                                  f' {training_record(self.settings)}; delete it or use another --out-dir')
        self.model.load_state_dict(state['model'])
        self.optimizer.load_state_dict(state['optimizer'])
        self.epoch, self.seconds = int(state['epoch']), float(state['seconds'])
        self.history = json.loads(state['history'])
        self.order = state['order'].numpy() if len(state['order']) else None
        self.losses = state['losses'].tolist()
        restore_random_states(state, self.rng, self.settings.device)

    def finished(self):
        return self.epoch >= self.settings.epochs



def checkpoint_path(settings):
    return os.path.join(settings.out_dir, CHECKPOINT_NAME)


def save_checkpoint(training):
    with atomic_write(checkpoint_path(training.settings)) as tmp:
        torch.save(training.state(), tmp)


def resume(training, path):
    """Continue from the checkpoint at `path` (a damaged or foreign one is named)."""
    state = read_state(path, remedy='delete it to start the training over')
    if not isinstance(state, dict) or 'resume_args' not in state:
        raise CheckpointError(f'{path}: not a checkpoint of judge.train; delete it or use another'
                              f' --out-dir')
    try:
        training.load_state(state, path)
    except (KeyError, RuntimeError, TypeError) as error:
        raise CheckpointError(f'{path}: a damaged checkpoint ({first_line(error)}); delete it to'
                              f' start the training over') from None


def train_epoch(training, images, targets, clock):
    """One pass over the training faces in a fresh random order (or the rest of the pass a
    checkpoint stopped in), checkpointing whenever `clock` says so -> mean loss."""
    settings, model = training.settings, training.model
    weights = column_weights().to(settings.device)
    total_steps = settings.epochs * training.batches_per_epoch
    model.train()
    for batch in epoch_batches(training, np.arange(len(images)), settings.batch_size, clock, save_checkpoint):
        step = training.epoch * training.batches_per_epoch + len(training.losses)
        for group in training.optimizer.param_groups:
            group['lr'] = learning_rate(settings, step, total_steps)
        x = reader_input(images[batch], settings.resolution).to(settings.device)
        with torch.autocast(torch.device(settings.device).type, dtype=torch.bfloat16, enabled=settings.bf16):
            predicted = model(x)
        loss = (((predicted.float() - targets[batch].to(settings.device)) ** 2) * weights).sum(1).mean()
        training.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        training.optimizer.step()
        training.losses.append(loss.item())
    return end_of_epoch(training)


def validation_summary(model, images, true_encodings):
    """The R^2 of every read factor on the validation faces, and its summaries for the log."""
    r2 = r_squared(true_encodings, model.encoded(images))
    return r2, {'r2_property_min': min(r2[name] for name in PROPERTY_FACTORS),
                'r2_identity_median': float(np.median([r2[name] for name in IDENTITY_FACTORS])),
                'r2_identity_min': min(r2[name] for name in IDENTITY_FACTORS)}


class Epochs:
    """The reader's training as `common.training_loop` runs it: an epoch at a time (checkpointed
    inside when the clock says so), validated and logged, a checkpoint at its end."""

    def __init__(self, training, images, targets, validation):
        self.training, self.images, self.targets, self.validation = training, images, targets, validation

    def finished(self):
        return self.training.finished()

    def advance(self, clock):
        training, started = self.training, time.time()
        train_loss = train_epoch(training, self.images, self.targets, clock)
        r2, summary = validation_summary(training.model, *self.validation)
        training.epoch += 1
        training.seconds += time.time() - started
        training.history.append({'epoch': training.epoch, 'train_loss': round(train_loss, 6),
                                 **{key: round(value, 5) for key, value in summary.items()},
                                 'seconds': round(training.seconds, 1)})
        save_checkpoint(training)
        clock.reset()
        write_csv(os.path.join(training.settings.out_dir, 'log.csv'), pd.DataFrame(training.history))
        print(f'epoch {training.epoch}: train loss {train_loss:.4f}, validation R^2 property min'
              f' {summary["r2_property_min"]:.3f}, identity median {summary["r2_identity_median"]:.3f}'
              f' ({time.time() - started:.0f} s)')
        return False  # checkpointed above, before its log row is written

    def save(self):
        save_checkpoint(self.training)


def train(settings):
    """Train (or continue training) in --out-dir, holding it; returns the `Training`."""
    return in_held_folder(settings.out_dir, lambda: train_in_folder(settings))


def train_in_folder(settings):
    write_json(os.path.join(settings.out_dir, 'config.json'), as_record(settings))
    images, factors = cached_faces(os.path.join(settings.out_dir, 'faces'), settings.seed,
                                   settings.n, settings.resolution, settings.block_size,
                                   settings.workers)
    n_train = settings.n - settings.val_n
    encodings = encode(factors)
    training = Training(settings, n_train)
    training.model.set_target_scale(encodings[:n_train].mean(0), encodings[:n_train].std(0))
    if os.path.exists(checkpoint_path(settings)):
        resume(training, checkpoint_path(settings))
        print(f'resumed from {checkpoint_path(settings)} in epoch {training.epoch + 1}')
    targets = training.model.scale(torch.from_numpy(encodings)).float()
    train_images = torch.from_numpy(images[:n_train])
    run_training(Epochs(training, train_images, targets[:n_train], (images[n_train:], encodings[n_train:])),
                 settings.checkpoint_minutes, 0)
    finish(training, images[n_train:], encodings[n_train:])
    return training


def finish(training, val_images, val_encodings):
    """Save the final weights and say how well they read the validation faces."""
    settings = training.settings
    path = os.path.join(settings.out_dir, MODEL_NAME)
    save_world_reader(training.model, path)
    r2, summary = validation_summary(training.model, val_images, val_encodings)
    write_json(os.path.join(settings.out_dir, 'training.json'), {
        'model': path, 'epochs': training.epoch, 'train_seconds': round(training.seconds, 1),
        'n_train': settings.n - settings.val_n, 'n_val': settings.val_n,
        'machine': machine(torch.device(settings.device)),
        'validation_r2': {name: round(value, 5) for name, value in r2.items()}, **summary})
    print(f'saved {path} ({training.seconds / 60:.1f} min of training); validation R^2:')
    for name in READ_FACTORS:
        print(f'  {name:22s} {r2[name]:.4f}')


def parse_args(argv=None):
    """The run's settings from the command line (flags over the defaults)."""
    return parse_settings(ReaderTrainingSettings, argv, doc=__doc__)


def main(argv=None):
    settings = parse_args(argv)
    run_command(lambda: train(settings), argv,
                interrupted=f're-run the same command to continue from the last checkpoint'
                            f' ({checkpoint_path(settings)})')


if __name__ == '__main__':
    main()
