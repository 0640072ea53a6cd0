"""Train the Property Score CNN on an all_scores table, then write the CNN-derived table.

    python -m property_score_cnn.train --scores world/all_scores_v2.csv \\
        --out models/default/property_score_cnn.pth --width 0.25 --resolution 64

Regression of the seven normalised scores (one MSE averaged over the outputs) on what the CNN will
see of a generator's image (`scoring.cnn_view`), with brightness and contrast jitter, a seeded
train/validation split, and early stopping on the validation loss; the weights of the best epoch
are kept. Written next to --out: `<stem>_config.json` (the arguments), `<stem>_log.csv` (one row
per epoch), `<stem>_metrics.json` (per-property validation Pearson r and MAE of the kept weights,
epochs, wall time, machine) and, next to the table, `all_scores_v2_cnn.csv`.

Every epoch ends with a checkpoint holding everything the next epoch depends on (weights,
optimizer moments, random states, best weights, early-stopping counter, history), so re-running
the same command after an interruption continues exactly as if it had never stopped; re-running
a finished training only rewrites its outputs.
"""
import argparse
import copy
import json
import os
import platform
import sys
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm import tqdm

from atomic_write import atomic_write, write_json
from property_score_cnn.model import (PROPERTY_NAMES, PropertyScoreCNN, as_model_input,
                                      save_property_score_cnn, score_images)
from property_score_cnn.scoring import (check_resolution, cnn_score_table, load_table_views,
                                        pearson_per_column)
from segmentation.score_table import SCORE_COLUMNS, read_score_table

CNN_TABLE_NAME = 'all_scores_v2_cnn.csv'
# Arguments a checkpoint must agree with to be resumed; the others (epochs, patience, time
# budget, device) may change between runs, e.g. to extend a training.
RESUME_KEYS = ('scores', 'width', 'resolution', 'batch_size', 'lr', 'val_fraction', 'seed',
               'jitter', 'bf16')
# ITU-R 601 luma weights, the grey level that contrast jitter pulls towards.
LUMA = (0.299, 0.587, 0.114)


# ---- data ------------------------------------------------------------------------------------
def split_indices(n, val_fraction, seed):
    """A seeded (train, validation) split of range(n); both parts non-empty."""
    n_val = int(round(n * val_fraction))
    if not 0 < val_fraction < 1 or n_val < 1 or n_val >= n:
        raise ValueError(f'--val-fraction {val_fraction} of {n} images leaves no training or no'
                         f' validation image')
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def jitter(images, strength, rng):
    """Brightness, then contrast, each scaled by a factor uniform in 1 +- strength per image, on
    [0, 1] intensities (as torchvision's ColorJitter does); images float NCHW in [-1, 1]."""
    if strength == 0:
        return images
    shape = (len(images), 1, 1, 1)
    brightness = 1 + strength * (2 * torch.rand(shape, generator=rng) - 1)
    contrast = 1 + strength * (2 * torch.rand(shape, generator=rng) - 1)
    x = ((images + 1) / 2 * brightness).clamp(0, 1)
    grey = (x * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True).mean((2, 3), keepdim=True)
    x = ((x - grey) * contrast + grey).clamp(0, 1)
    return x * 2 - 1


# ---- training state ---------------------------------------------------------------------------
class Training:
    """Model, optimizer, random states and early-stopping bookkeeping: everything a checkpoint
    holds."""

    def __init__(self, args):
        self.args = args
        torch.manual_seed(args.seed)  # weight initialisation and dropout
        self.rng = torch.Generator().manual_seed(args.seed)  # batch order and jitter
        # channels_last: the convolutions have few channels, where this layout is ~1.5x faster.
        self.model = PropertyScoreCNN(args.width).to(args.device, memory_format=torch.channels_last)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=args.lr)
        self.epoch = 0
        self.best_loss = float('inf')
        self.best_epoch = 0
        self.best_weights = copy.deepcopy(self.model.state_dict())
        self.bad_epochs = 0
        self.seconds = 0.0
        self.history = []

    def state(self):
        return {'model': self.model.state_dict(), 'optimizer': self.optimizer.state_dict(),
                'epoch': self.epoch, 'best_loss': self.best_loss, 'best_epoch': self.best_epoch,
                'best_weights': self.best_weights, 'bad_epochs': self.bad_epochs,
                'seconds': self.seconds, 'history': json.dumps(self.history),
                'rng': self.rng.get_state(), 'torch_rng': torch.get_rng_state(),
                'resume_args': json.dumps(resume_args(self.args))}

    def load_state(self, state, path):
        stored = json.loads(state['resume_args'])
        if stored != resume_args(self.args):
            raise ValueError(f'{path} is the checkpoint of a training with {stored}, not'
                             f' {resume_args(self.args)}; delete it or use another --checkpoint')
        self.model.load_state_dict(state['model'])
        self.optimizer.load_state_dict(state['optimizer'])
        self.best_weights = state['best_weights']
        self.epoch, self.best_epoch = int(state['epoch']), int(state['best_epoch'])
        self.best_loss, self.bad_epochs = float(state['best_loss']), int(state['bad_epochs'])
        self.seconds, self.history = float(state['seconds']), json.loads(state['history'])
        self.rng.set_state(state['rng'])
        torch.set_rng_state(state['torch_rng'])

    def finished(self):
        return self.epoch >= self.args.epochs or self.bad_epochs >= self.args.patience

    def stop_reason(self):
        if self.bad_epochs >= self.args.patience:
            return f'early stopping: no better validation loss for {self.args.patience} epochs'
        if self.epoch >= self.args.epochs:
            return f'--epochs {self.args.epochs} reached'
        return f'--max-minutes {self.args.max_minutes} reached (re-run to continue)'


def resume_args(args):
    return {key: getattr(args, key) for key in RESUME_KEYS}


def train_epoch(training, views, targets, indices):
    """One pass over the training images in a fresh random order -> mean loss."""
    args, model = training.args, training.model
    model.train()
    order = indices[torch.randperm(len(indices), generator=training.rng).numpy()]
    losses = []
    batches = range(0, len(order), args.batch_size)
    for start in tqdm(batches, desc=f'epoch {training.epoch + 1}', unit='batch', leave=False):
        batch = order[start:start + args.batch_size]
        # Jittered at the view's low resolution: the CNN's bilinear upsampling is linear, so this
        # equals jittering the 256 px image (up to clipping) at a sixteenth of the cost.
        images = jitter(as_model_input(views[batch]), args.jitter, training.rng)
        # bf16 autocast roughly halves the time of a CPU step; the weights stay float32.
        with torch.autocast(torch.device(args.device).type, dtype=torch.bfloat16, enabled=args.bf16):
            predicted = model(images.to(args.device))
        loss = F.mse_loss(predicted.float(), targets[batch].to(args.device))
        training.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        training.optimizer.step()
        losses.append(loss.item())
    return float(np.mean(losses))


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
def output_path(args, suffix):
    stem = os.path.splitext(args.out)[0]
    return f'{stem}_{suffix}'


def checkpoint_path(args):
    return args.checkpoint or output_path(args, 'checkpoint.pth')


def save_checkpoint(training):
    with atomic_write(checkpoint_path(training.args)) as tmp:
        torch.save(training.state(), tmp)


def write_log(training):
    with atomic_write(output_path(training.args, 'log.csv')) as tmp:
        pd.DataFrame(training.history).to_csv(tmp, index=False)


def machine(device):
    return {'platform': platform.platform(), 'cpu': cpu_name(), 'cpu_count': os.cpu_count(),
            'torch_threads': torch.get_num_threads(), 'torch': torch.__version__,
            'device': torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}


def cpu_name():
    """The processor's model name where Linux tells it (platform.processor() often does not)."""
    try:
        with open('/proc/cpuinfo') as file:
            for line in file:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_metrics(training, validation, n_train, n_val):
    args = training.args
    write_json(output_path(args, 'metrics.json'), {
        'model': args.out, 'scores': args.scores, 'n_train': n_train, 'n_val': n_val,
        'epochs_run': training.epoch, 'best_epoch': training.best_epoch,
        'stopped': training.stop_reason(), 'train_seconds': round(training.seconds, 1),
        'machine': machine(torch.device(args.device)),
        'validation': {name: {'pearson_r': round(validation['pearson_r'][name], 5),
                              'mae': round(validation['mae'][name], 5)} for name in PROPERTY_NAMES},
        'validation_loss': round(validation['loss'], 6)})


# ---- the run ----------------------------------------------------------------------------------
def train(args):
    """Train (or continue training), save the best weights, metrics and the CNN-derived table;
    returns the `Training` (its live model and kept weights)."""
    validate_args(args)
    table = read_score_table(args.scores)
    train_idx, val_idx = split_indices(len(table), args.val_fraction, args.seed)
    views = load_table_views(table.abs_img_path, args.resolution)
    targets = torch.tensor(table.loc[:, list(SCORE_COLUMNS)].to_numpy(), dtype=torch.float32)
    training = Training(args)
    if os.path.exists(checkpoint_path(args)):
        training.load_state(torch.load(checkpoint_path(args), map_location='cpu',
                                       weights_only=True), checkpoint_path(args))
        print(f'resumed from {checkpoint_path(args)} after epoch {training.epoch}')
    write_json(output_path(args, 'config.json'), vars(args))
    started = time.time()
    while not training.finished():
        epoch_start = time.time()
        train_loss = train_epoch(training, views, targets, train_idx)
        validation = validate(training.model, views, targets, val_idx, args.batch_size)
        end_epoch(training, train_loss, validation, time.time() - epoch_start)
        save_checkpoint(training)
        write_log(training)
        print(f'epoch {training.epoch}: train loss {train_loss:.4f}, validation loss'
              f' {validation["loss"]:.4f} ({time.time() - epoch_start:.0f} s)')
        if args.max_minutes and time.time() - started > args.max_minutes * 60:
            break
    print(f'stopped after epoch {training.epoch}: {training.stop_reason()};'
          f' keeping epoch {training.best_epoch}')
    finish(training, views, targets, train_idx, val_idx)
    return training


def finish(training, views, targets, train_idx, val_idx):
    """Save the kept weights, their validation metrics and the CNN-derived table."""
    args = training.args
    model = PropertyScoreCNN(args.width).to(args.device)
    model.load_state_dict(training.best_weights)
    save_property_score_cnn(model, args.out)
    validation = validate(model, views, targets, val_idx, args.batch_size)
    write_metrics(training, validation, len(train_idx), len(val_idx))
    cnn_table = os.path.join(os.path.dirname(os.path.abspath(args.scores)), CNN_TABLE_NAME)
    cnn_score_table(model, args.scores, cnn_table, args.resolution, views=views)
    print(f'saved {args.out}; CNN-derived table {cnn_table}')
    for name in PROPERTY_NAMES:
        print(f'  {name:16s} validation r {validation["pearson_r"][name]:.4f}'
              f'  MAE {validation["mae"][name]:.4f}')


def validate_args(args):
    check_resolution(args.resolution)
    for name in ('epochs', 'batch_size', 'patience'):
        if getattr(args, name) < 1:
            raise ValueError(f'--{name.replace("_", "-")} must be at least 1, got {getattr(args, name)}')
    if not args.width > 0 or not args.lr > 0 or not 0 <= args.jitter < 1:
        raise ValueError(f'need --width > 0, --lr > 0 and 0 <= --jitter < 1; got {args.width},'
                         f' {args.lr}, {args.jitter}')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--scores', required=True, help='the all_scores table to learn')
    parser.add_argument('--out', required=True, help='the trained CNN (.pth)')
    parser.add_argument('--checkpoint', default=None,
                        help='training state to resume from; default <out stem>_checkpoint.pth')
    parser.add_argument('--width', type=float, default=0.25, help='channel multiplier of every layer')
    parser.add_argument('--resolution', type=int, default=64,
                        help='images are seen at this resolution, upsampled to 256; 0 = off')
    parser.add_argument('--epochs', type=int, default=30)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--patience', type=int, default=4,
                        help='epochs without a better validation loss before stopping')
    parser.add_argument('--val-fraction', type=float, default=0.1)
    parser.add_argument('--jitter', type=float, default=0.1,
                        help='brightness and contrast jitter strength')
    parser.add_argument('--bf16', action='store_true',
                        help='bfloat16 autocast in training steps (about 2x faster on a CPU with'
                             ' bf16 instructions)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--max-minutes', type=float, default=0,
                        help='stop after the epoch that passes this much wall time; 0 = no limit')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        train(args)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f'error: {error}')
    except KeyboardInterrupt:
        sys.exit(f'interrupted; re-run the same command to continue from the last finished epoch'
                 f' ({checkpoint_path(args)})')


if __name__ == '__main__':
    main()
