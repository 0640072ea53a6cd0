"""One run per output folder: a run holds `run.lock` (its process id) while it works, and a second
run into the same folder is refused, naming the holder. A lock whose process is gone (a killed
run) is taken over."""
import contextlib
import dataclasses
import os

from common import distributed
from common.cli import prepare_output_dir
from common.files import process_running

LOCK_NAME = 'run.lock'


class FolderInUse(OSError):
    """Another live process is running into this folder."""


def _holder(path):
    try:
        with open(path) as file:
            return int(file.read().strip() or 0)
    except (OSError, ValueError):
        return 0


@contextlib.contextmanager
def run_lock(folder):
    """Hold `folder`'s lock for the `with` block; FolderInUse when another live run holds it."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, LOCK_NAME)
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            holder = _holder(path)
            if holder and holder != os.getpid() and process_running(holder):
                raise FolderInUse(f'{folder} is in use by another run (process {holder}); wait for'
                                  f' it to finish, or give another --out-dir') from None
            os.remove(path)  # left by a run that was killed
    with os.fdopen(fd, 'w') as file:
        file.write(str(os.getpid()))
    try:
        yield
    finally:
        if _holder(path) == os.getpid():
            os.remove(path)


def in_held_folder(folder, work):
    """`work()` in the output folder `folder` (checked writable, a killed run's temp files
    removed), holding its lock throughout. Under torchrun, rank 0 alone checks the folder and
    holds the lock, for every rank; the others never touch it."""
    with contextlib.ExitStack() as held:
        def hold():
            prepare_output_dir(folder, '--out-dir')
            held.enter_context(run_lock(folder))
        distributed.on_main(hold, share=False)
        return work()


def data_parallel_training(settings, train_in_folder):
    """A training's run: `train_in_folder(settings)` in its --out-dir, held alone (`in_held_folder`);
    under torchrun, data-parallel over the processes (`common/distributed.py`), each on its
    device, the global --batch-size checked to split evenly among them."""
    with distributed.processes(settings.device) as device:
        distributed.on_main(lambda: distributed.split_batch(settings.batch_size), share=False)
        settings = dataclasses.replace(settings, device=device)
        return in_held_folder(settings.out_dir, lambda: train_in_folder(settings))
