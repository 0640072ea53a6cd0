"""Where a run's edits leak: per steered property, the median over tested codes of every CNN
score's change over that property's range of the test grid, in units of the score's spread over
the run's samples (the changes `scores/leakage.py` takes its ratios of).

    python -m vectorfind.leakage_matrix outputs/vectorfind_v6 --codes 30

Re-scores the first --codes tested codes of the run with its own generator, directions, space and
CNN; writes leakage_matrix.csv into the run folder and prints it.
"""
import argparse
import os

import numpy as np
import pandas as pd
from tqdm import tqdm

from common.cli import add_debug_flag, parse_checked, run_command
from common.files import write_csv
from scores.leakage import score_changes, stored_spread
from scores.properties import CORE_PROPERTIES, PROPERTY_NAMES
from common.validation import check_count, check_device
from property_score_cnn import load_property_score_cnn
from vectorfind.generation_testing import score_code_edits, weight_grid
from vectorfind.latents import inference_precision
from vectorfind.steering import Steering, read_tested_codes


def leakage_matrix(out_dir, codes=30, device='cpu'):
    """[3, 7] DataFrame: rows the steered properties, columns every score's median change."""
    steering = Steering.from_run(out_dir, device)
    config = steering.record
    cnn = load_property_score_cnn(config['cnn']).to(device).eval()
    spread = stored_spread(out_dir)
    _, tested = read_tested_codes(out_dir, steering.code_dim)
    if not len(tested):
        raise ValueError(f'{out_dir}: no tested codes to measure')
    changes = []
    for code in tqdm(tested[:codes], desc='leakage matrix', unit='code'):
        directions = steering.code_directions(code)
        with inference_precision(device, steering.precision):
            scores, _ = score_code_edits(steering.editor, cnn, code, directions)
        changes.append(score_changes(weight_grid(), scores, spread))
    return pd.DataFrame(np.median(np.stack(changes), axis=0), index=list(CORE_PROPERTIES),
                        columns=list(PROPERTY_NAMES))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('run', help='a VectorFind run folder')
    parser.add_argument('--codes', type=int, default=30, help='how many of its tested codes')
    parser.add_argument('--device', default='cpu')
    add_debug_flag(parser)
    args = parse_checked(parser, argv, lambda a: (check_count(a.codes, '--codes'), check_device(a.device)))
    run_command(lambda: report(args), argv)


def report(args):
    matrix = leakage_matrix(args.run, args.codes, args.device).round(3)
    write_csv(os.path.join(args.run, 'leakage_matrix.csv'), matrix.reset_index(names='edit'))
    print(matrix.to_string())


if __name__ == '__main__':
    main()
