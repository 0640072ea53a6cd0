"""Write a file so that a reader never sees half of it.

Every output of the repository (checkpoints, CSV tables, PNG grids, JSON configs) goes through
`atomic_write`: the content is written to a temporary file in the same folder, then renamed over
the destination. An interrupted run leaves either the old file or the new one, never a torn one,
which is what lets every long job resume by trusting the files it finds.
"""
import contextlib
import json
import os
import tempfile


@contextlib.contextmanager
def atomic_write(path):
    """Yield a temporary path next to `path`; on success rename it onto `path`."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    base, ext = os.path.splitext(os.path.basename(path))
    # The temporary name keeps the extension: writers such as PIL and pandas choose the format by it.
    fd, tmp = tempfile.mkstemp(prefix=f'.{base}.', suffix=f'.tmp{ext}', dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path, record):
    """`record` as indented JSON, atomically (configs, metrics, manifests)."""
    with atomic_write(path) as tmp, open(tmp, 'w') as file:
        json.dump(record, file, indent=2)


def write_csv(path, frame):
    """A DataFrame as CSV without its index, atomically."""
    with atomic_write(path) as tmp:
        frame.to_csv(tmp, index=False)
