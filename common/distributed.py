"""Several processes of one run, as `torchrun --nproc_per_node N <command>` starts them.

torchrun gives each process RANK, WORLD_SIZE and LOCAL_RANK in its environment. A command runs
its work inside `processes(device)`, which joins them into one process group (gloo on the CPU,
NCCL on CUDA, where process LOCAL_RANK takes GPU LOCAL_RANK). Without WORLD_SIZE, or with one
process, there is no group and every helper here is the plain one-process operation, so a
command started without torchrun behaves exactly as it always has.

Rank 0 speaks for the run: it alone holds the output folder's lock, writes the reports, logs and
checkpoints, and prints (the other ranks' stdout goes nowhere; their errors still reach stderr).
The others take their share of the work and wait for rank 0 where it works alone.

An error must end every rank, not leave the others waiting for a rank that is gone. Work that may
fail runs through `together` (every rank at once) or `on_main` (rank 0 alone): the failing rank
writes its one `error:` line (`error: rank N: ...` from a rank other than 0), then every rank
learns of it and ends with exit status 1 (with `--debug`, the failing rank shows its traceback).
torchrun also ends the other processes when one exits with an error, which covers a failure
anywhere else.
"""
import contextlib
import dataclasses
import datetime
import os
import sys

import torch
import torch.distributed as dist

from common.cli import debug_requested, error_message
from common.validation import InputError

# How long a rank may wait for the others: rank 0 alone fits directions, draws t-SNE plots or
# builds a face world for minutes on the published sizes. torchrun notices a dead rank long
# before this; the limit bounds a hang of a group started some other way.
TIMEOUT = datetime.timedelta(hours=2)


@dataclasses.dataclass(frozen=True)
class World:
    """This process's place among the run's processes."""
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self):
        return self.rank == 0


_world = World()
_device = None  # the device collectives run on: NCCL needs tensors on this process's GPU


def world():
    """This process's place: rank 0 of 1 outside `processes` or without torchrun."""
    return _world


def is_main():
    return _world.main


def active():
    return _world.size > 1


def launched_world():
    """The World torchrun's environment describes (rank 0 of 1 without WORLD_SIZE)."""
    if 'WORLD_SIZE' not in os.environ:
        return World()
    try:
        return World(int(os.environ['RANK']), int(os.environ['WORLD_SIZE']),
                     int(os.environ.get('LOCAL_RANK', os.environ['RANK'])))
    except (KeyError, ValueError):
        raise InputError('WORLD_SIZE is set but RANK or LOCAL_RANK is missing or not a number;'
                         ' start several processes with torchrun') from None


def rank_device(device, here):
    """The device of process `here` for a run on `device`: under torchrun, a CUDA device becomes
    the GPU of LOCAL_RANK."""
    kind = torch.device(device)
    if kind.type != 'cuda' or here.size == 1:
        return device
    if kind.index is not None:
        raise InputError(f'--device {device}: under torchrun each process takes the GPU of its'
                         f' LOCAL_RANK; give --device cuda')
    per_node = int(os.environ.get('LOCAL_WORLD_SIZE', here.local_rank + 1))
    if per_node > torch.cuda.device_count():
        raise InputError(f'torchrun started {per_node} processes on this machine, which has'
                         f' {torch.cuda.device_count()} CUDA device(s); give --nproc_per_node'
                         f' {torch.cuda.device_count()} or fewer')
    return f'cuda:{here.local_rank}'


@contextlib.contextmanager
def processes(device):
    """The run's process group around a command's work; yields this process's device (`device`
    itself without torchrun)."""
    global _world, _device
    here = launched_world()
    mine = rank_device(device, here)
    if here.size == 1 or _world.size > 1:  # one process, or already inside the group
        yield mine
        return
    if torch.device(mine).type == 'cuda':
        torch.cuda.set_device(torch.device(mine))
    dist.init_process_group('nccl' if torch.device(mine).type == 'cuda' else 'gloo', timeout=TIMEOUT)
    _world, _device = here, torch.device(mine if torch.device(mine).type == 'cuda' else 'cpu')
    quiet = None if here.main else open(os.devnull, 'w')
    stdout = sys.stdout
    if quiet:
        sys.stdout = quiet
    try:
        yield mine
    finally:
        if quiet:
            sys.stdout = stdout
            quiet.close()
        _world, _device = World(), None
        dist.destroy_process_group()


# ---- errors ---------------------------------------------------------------------------------
def _settle(failure):
    """End every rank if any failed. The failing rank writes its one line at once, before the
    others learn of it and end too (quietly, exit status 1): torchrun may stop a rank as soon as
    another has ended, and a single write keeps the lines of two failing ranks apart."""
    if not active():
        if failure is not None:
            raise failure
        return
    debug = debug_requested()
    message = None if failure is None else error_message(failure)
    if message is not None and not debug:
        rank = '' if is_main() else f'rank {_world.rank}: '
        sys.stderr.write(f'error: {rank}{message}\n')
        sys.stderr.flush()
    failed = any(m is not None for m in all_gather(message))
    if failure is not None and debug:
        raise failure
    if failed:
        raise SystemExit(1)


def together(work, gather=False):
    """`work()` on every rank; an error on any ends them all. Returns this rank's result, or with
    `gather` the list of every rank's results, in rank order, on every rank."""
    result = failure = None
    try:
        result = work()
    except Exception as error:  # noqa: BLE001 - settled among the ranks
        failure = error
    _settle(failure)
    return all_gather(result) if gather else result


def on_main(work, share=True):
    """`work()` on rank 0 alone while the others wait; an error there ends them all. Every rank
    gets rank 0's result (pickled; with `share=False` the others get None)."""
    if not active():
        return work()
    result = failure = None
    if is_main():
        try:
            result = work()
        except Exception as error:  # noqa: BLE001 - settled among the ranks
            failure = error
    _settle(failure)
    shared = broadcast(result if share else None)
    return result if is_main() else shared


# ---- collectives (each the plain value in one process) ------------------------------------------
def broadcast(*values):
    """Rank 0's `values` on every rank (one value: that value)."""
    if active():
        values = list(values)
        dist.broadcast_object_list(values, src=0, device=_device)
    return values[0] if len(values) == 1 else tuple(values)


def all_gather(value):
    """Every rank's `value`, in rank order."""
    if not active():
        return [value]
    values = [None] * _world.size
    dist.all_gather_object(values, value)
    return values


def average(value):
    """The mean over the ranks of `value`: a tensor (every rank gets the same result), a float,
    or a dict of floats."""
    if not active():
        return value
    if isinstance(value, dict):
        means = average(torch.tensor(list(value.values()), dtype=torch.float64)).tolist()
        return dict(zip(value, means))
    if not torch.is_tensor(value):
        return average(torch.tensor(value, dtype=torch.float64)).item()
    total = value.detach().to(_device, copy=True)
    dist.all_reduce(total)
    return (total / _world.size).to(value.device)


def shard_rows(batch):
    """This rank's rows of a batch every rank drew alike: rows rank, rank + size, ... A batch of
    B rows drawn by every rank from the same seed thus trains as one batch of B in one process
    would, and the minibatch-std groups of the StyleGAN discriminator (rows i, i + B/4, ...)
    stay the same groups."""
    return batch[_world.rank::_world.size] if active() else batch


def gather_rows(rows):
    """The whole batch on every rank, from each rank's `shard_rows` of it (the inverse)."""
    if not active():
        return rows
    parts = [torch.empty_like(rows, device=_device) for _ in range(_world.size)]
    dist.all_gather(parts, rows.detach().to(_device))
    return torch.stack(parts, dim=1).flatten(0, 1).to(rows.device)


def split_batch(batch_size, flag='--batch-size'):
    """Images per rank of a global batch of `batch_size`; one that does not split evenly over the
    processes is refused."""
    size = _world.size
    if batch_size % size:
        raise InputError(f'{flag} {batch_size} is the batch over all {size} processes and must'
                         f' split evenly among them; give a multiple of {size}')
    return batch_size // size


# ---- training ---------------------------------------------------------------------------------
def wrap(module, unused_parameters=False):
    """`module` for training: under DistributedDataParallel, which averages its gradients over
    the ranks in backward, from rank 0's weights; `module` itself in one process. Buffers are not
    broadcast at each call: the trainers keep them alike on every rank themselves.
    `unused_parameters`: some parameters get no gradient (the layers of a StyleGAN generator and
    discriminator that serve only coarser resolutions of progressive growing)."""
    if not active():
        return module
    return torch.nn.parallel.DistributedDataParallel(
        module, device_ids=[_device.index] if _device.type == 'cuda' else None,
        forward_sync_buffers=False, find_unused_parameters=unused_parameters)


def seed_ranks(seed, step):
    """Ranks other than 0 draw their own noise and dropout (torch's global random stream): from
    seed + rank at the start, from (seed, rank, step) on resuming, since a checkpoint holds rank
    0's stream alone. Rank 0, like a single process, keeps its stream."""
    if active() and not is_main():
        torch.manual_seed(seed + _world.rank + _world.size * step)
