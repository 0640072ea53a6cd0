"""Write a file so that a reader never sees half of it.

Every output of the repository (checkpoints, CSV tables, PNG grids, JSON configs) goes through
`atomic_write`: the content is written to a temporary file in the same folder, flushed to disk
(fsync), given the permissions an ordinary new file would have (0666 less the umask, or the
mode of the file it replaces), then renamed over the destination, and the folder is synced so
that the rename itself survives a crash. An interrupted run leaves either the old file or the new
one, never a torn one, which is what lets every long job resume by trusting the files it finds.

A run killed while writing leaves its temporary file behind (`.<name>.p<pid>.<8 random>.tmp<ext>`);
`remove_stale_temp_files(folder)` removes those whose writer is no longer running, and the
commands call it on their output folders when they start.
"""
import contextlib
import json
import os
import re
import stat
import tempfile
import threading
import time

import pandas as pd

# mkstemp's names: the prefix and suffix given below around 8 characters from this alphabet; the
# prefix holds the writing process's id, so that a cleanup spares the files of a live writer.
_TEMP_NAME = re.compile(r'^\..*\.[a-z0-9_]{8}\.tmp(\.[^.]*)?$')
_WRITER = re.compile(r'\.p(\d+)\.[a-z0-9_]{8}\.tmp(\.[^.]*)?$')
# Where a writer's liveness cannot be asked (Windows), a temporary file this old is stale.
STALE_AFTER_S = 3600
_UMASK_LOCK = threading.Lock()


@contextlib.contextmanager
def atomic_write(path, durable=True):
    """Yield a temporary path next to `path`; on success sync it and rename it onto `path`.

    `durable=False` skips the two fsyncs (a few milliseconds each) for many small files whose
    writer syncs them together afterwards (`sync_all`) before it records them as done."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    base, ext = os.path.splitext(os.path.basename(path))
    # The temporary name keeps the extension: writers such as PIL and pandas choose the format by it.
    fd, tmp = tempfile.mkstemp(prefix=f'.{base}.p{os.getpid()}.', suffix=f'.tmp{ext}', dir=folder)
    os.close(fd)
    try:
        yield tmp
        if durable:
            _fsync_file(tmp)
        # mkstemp creates 0600; an output is an ordinary file.
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
        if durable:
            _fsync_folder(folder)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def remove_stale_temp_files(folder):
    """Remove the temporary files `atomic_write` left in `folder` (not below it) when a run was
    killed while writing; returns their paths. Only names of that exact form are touched, and not
    those of a process still running (another command writing to the same folder)."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        if (_TEMP_NAME.match(entry.name) and entry.is_file(follow_symlinks=False)
                and not _writer_running(entry)):
            try:
                os.remove(entry.path)
            except FileNotFoundError:
                continue  # gone meanwhile
            removed.append(entry.path)
    return removed


def _writer_running(entry):
    """Whether the process that named this temporary file may still be writing it."""
    match = _WRITER.search(entry.name)
    if match is None:
        return False  # no writer recorded
    pid = int(match.group(1))
    if os.name == 'nt':  # os.kill would end the process there
        return time.time() - entry.stat().st_mtime < STALE_AFTER_S
    return pid == os.getpid() or process_running(pid)  # this process: another thread's write


def process_running(pid):
    """Whether a process with this id is running (POSIX; one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def sync_all():
    """Flush every written file to disk at once (os.sync, where the OS has it): cheaper than one
    fsync per file for a block of files written with `durable=False`."""
    if hasattr(os, 'sync'):
        os.sync()


def default_file_mode():
    """The permissions of a new ordinary file: 0666 less the process's umask."""
    try:  # Linux says it without changing it
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith('Umask:'):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def _mode_for(path):
    try:
        return stat.S_IMODE(os.stat(path).st_mode)  # a replaced file keeps its permissions
    except FileNotFoundError:
        return default_file_mode()


def _fsync_file(path):
    fd = os.open(path, os.O_RDWR | getattr(os, 'O_BINARY', 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder):
    """Make a rename in `folder` durable where the OS allows it (not on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json(path, record):
    """`record` as indented JSON, atomically (configs, metrics, manifests)."""
    with atomic_write(path) as tmp, open(tmp, 'w') as file:
        json.dump(record, file, indent=2)


def write_csv(path, frame):
    """A DataFrame as CSV without its index, atomically."""
    with atomic_write(path) as tmp:
        frame.to_csv(tmp, index=False)


def read_csv_file(path, what, expected):
    """The CSV file at `path` as a DataFrame; a missing file, a folder, an empty file or one
    that is not CSV fails naming the file, `what` it was meant to be and what was `expected`."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}' if not os.path.isdir(path) else
                                f'{path} is a folder; expected {expected}')
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ValueError(f'{path}: the file is empty; expected {expected}') from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ValueError(f'{path}: not a readable CSV {what}'
                         f' ({str(error).strip().splitlines()[0]})') from None
