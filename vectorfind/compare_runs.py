"""The same faces steered by the directions of two VectorFind runs, side by side: per code, an eyes
row, a mouth row and a pose row, each sweeping that property's range of the test grid while the
other two stay at 0, with the first run's strip on the left and the second's on the right.

    python -m vectorfind.compare_runs OLD_RUN NEW_RUN --codes 0 3 --out docs/vectorfind_old_vs_new.png

What a leakage figure counts, shown: a direction that also turns the background or the hair moves
more than its own row's property.
"""
import argparse

import numpy as np
from matplotlib.figure import Figure

from common.cli import add_debug_flag, parse_checked, run_command
from common.files import atomic_write
from scores.properties import CORE_PROPERTIES
from common.validation import InputError, check_count, check_writable_file
from vectorfind.generation_testing import EYES_WEIGHTS, MOUTH_WEIGHTS, POSE_WEIGHTS
from vectorfind.steering import Steering, read_tested_codes

STEPS = 5


def sweep(weights):
    """STEPS weights evenly over a property's range of the test grid."""
    return np.linspace(min(weights), max(weights), STEPS)


SWEEPS = dict(zip(CORE_PROPERTIES, map(sweep, (EYES_WEIGHTS, MOUTH_WEIGHTS, POSE_WEIGHTS))))


def strips(steering, code):
    """[3, STEPS, H, W, 3] uint8: the code swept along each property's direction."""
    return np.stack([steering.strip(code, prop, SWEEPS[prop]) for prop in CORE_PROPERTIES])


def comparison_figure(runs, labels, code_indices):
    """A matplotlib Figure: one row per (code, property), one column block per run."""
    steerings = [Steering.from_run(run) for run in runs]
    _, codes = read_tested_codes(runs[0], steerings[0].code_dim)
    if max(code_indices) >= len(codes):
        raise InputError(f'--codes {max(code_indices)}: {runs[0]} has {len(codes)} tested codes'
                         f' (0 to {len(codes) - 1})')
    rows = [(i, prop) for i in code_indices for prop in CORE_PROPERTIES]
    figure = Figure(figsize=(STEPS * len(runs) * 1.05 + 0.8, len(rows) * 1.05 + 0.5))
    axes = figure.subplots(len(rows), len(runs), squeeze=False)
    for c, (steering, label) in enumerate(zip(steerings, labels)):
        for case in code_indices:
            faces = strips(steering, codes[case])
            for k, prop in enumerate(CORE_PROPERTIES):
                ax = axes[rows.index((case, prop)), c]
                ax.imshow(np.concatenate(list(faces[k]), axis=1))
                ax.set_xticks([])
                ax.set_yticks([])
                if c == 0:
                    ax.set_ylabel(f'code {case}\n{prop}', fontsize=8)
        axes[0, c].set_title(label, fontsize=9)
    figure.tight_layout()
    return figure


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('runs', nargs=2, help='two VectorFind run folders (their tested codes)')
    parser.add_argument('--labels', nargs=2, default=None, help='a title per run')
    parser.add_argument('--codes', type=int, nargs='+', default=[0, 1], help='test cases of the first run')
    parser.add_argument('--out', required=True, help='the PNG to write')
    add_debug_flag(parser)
    args = parse_checked(parser, argv, lambda a: ([check_count(c, '--codes', minimum=0) for c in a.codes],
                                                  check_writable_file(a.out, '--out')))
    run_command(lambda: write_figure(args), argv)


def write_figure(args):
    figure = comparison_figure(args.runs, args.labels or args.runs, args.codes)
    with atomic_write(args.out) as tmp:
        figure.savefig(tmp, dpi=110)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
