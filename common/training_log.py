"""The CSV log of a training run that can be stopped and resumed.

Rows are appended and flushed as they are written, so an interrupted run keeps what it logged; on
resume, the rows written after the checkpoint being resumed are dropped first, so that no step
appears twice. Under torchrun the log is rank 0's: on the other ranks these do nothing.
"""
import contextlib
import csv
import os

import pandas as pd

from common import distributed
from common.files import write_csv


@contextlib.contextmanager
def appending_log(path, columns):
    """Yield `write(row)` for a CSV log at `path`, with a header when the file is new."""
    if not distributed.is_main():
        yield lambda row: None
        return
    new = not os.path.exists(path)
    with open(path, 'a', newline='') as file:
        writer = csv.DictWriter(file, columns)
        if new:
            writer.writeheader()

        def write(row):
            writer.writerow(row)
            file.flush()
        yield write


def discard_log(path):
    """A run that starts from step 0 keeps no row of an earlier attempt that was killed before its
    first checkpoint: those steps are trained again and logged again."""
    if distributed.is_main() and os.path.exists(path):
        os.remove(path)


def trim_log(path, keep):
    """Keep only the rows for which `keep(log)` (a boolean Series of the log) is true."""
    if distributed.is_main() and os.path.exists(path):
        log = pd.read_csv(path)
        write_csv(path, log[keep(log)])
