"""The loop every training shares: work until done, checkpoint on the training's own schedule and
every few minutes, stop at a time limit, and checkpoint once more however it ends.

A training (the base generator's, FineTune-v5's, the Property Score CNN's, the world reader's)
fills in three things:

    finished() -> bool       its own end: steps, epochs, early stopping
    advance(clock) -> bool   one unit of work (a step, a batch, an epoch); True where its schedule
                             checkpoints anyway (every N steps, an epoch's end). `clock` is the
                             loop's `CheckpointClock`, for a unit long enough to checkpoint inside
    save()                   write the checkpoint (its `state()`, which `random_states` helps fill)

Everything that decides the next unit is in the checkpoint, so a killed run re-run with the same
command continues to the same weights.
"""
import time

import numpy as np
import torch
from tqdm import tqdm

from common import distributed
from common.checkpoints import CheckpointClock


def run_training(training, checkpoint_minutes, max_minutes, progress=None):
    """Advance `training` until it is finished or `max_minutes` (0: no limit) of wall time have
    passed; True when the time limit stopped it. Under torchrun, rank 0's clock decides for every
    rank, so that they all checkpoint and stop at the same unit. `progress`: a tqdm bar, one tick
    per unit."""
    started = time.time()
    clock = CheckpointClock(checkpoint_minutes)
    try:
        while not training.finished():
            scheduled = training.advance(clock)
            if progress is not None:
                progress.update(1)
            due, stop = distributed.broadcast(
                clock.due(), bool(max_minutes) and time.time() - started > max_minutes * 60)
            if scheduled or due:
                training.save()
                clock.reset()
            if stop:
                return True
        return False
    finally:
        training.save()


def random_states(rng, device):
    """The random states a checkpoint holds beside the weights: the training's own generator
    `rng`, torch's global one (dropout, initialisation) and, on CUDA, the device's."""
    device = torch.device(device)
    return {'rng': rng.get_state(), 'torch_rng': torch.get_rng_state(),
            'cuda_rng': (torch.cuda.get_rng_state(device) if device.type == 'cuda'
                         else torch.zeros(0, dtype=torch.uint8))}


def restore_random_states(state, rng, device):
    """Set what `random_states` saved (a checkpoint from another device type keeps this one's)."""
    device = torch.device(device)
    rng.set_state(state['rng'])
    torch.set_rng_state(state['torch_rng'])
    if device.type == 'cuda' and state.get('cuda_rng', torch.zeros(0)).numel():
        torch.cuda.set_rng_state(state['cuda_rng'], device)


def epoch_batches(training, indices, batch_size, clock, save):
    """The batches (index arrays) of the epoch under way, for a training that checkpoints inside
    its epochs: a fresh order of `indices` drawn from `training.rng`, or the rest of the order a
    checkpoint stopped in. `training.order` is that order and `training.losses` one loss per batch
    done, which the caller appends after each batch; `save(training)` checkpoints whenever `clock`
    says so. `end_of_epoch` closes it."""
    if training.order is None:
        training.order = indices[torch.randperm(len(indices), generator=training.rng).numpy()]
    starts = range(0, len(training.order), batch_size)
    for start in tqdm(starts[len(training.losses):], desc=f'epoch {training.epoch + 1}', unit='batch',
                      leave=False, initial=len(training.losses), total=len(starts)):
        yield training.order[start:start + batch_size]
        if clock.due():
            save(training)
            clock.reset()


def end_of_epoch(training):
    """The mean loss of the epoch `epoch_batches` went through; the next epoch draws a new order."""
    loss = float(np.mean(training.losses))
    training.order, training.losses = None, []
    return loss
