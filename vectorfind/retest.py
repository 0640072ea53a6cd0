"""Test a finished run's codes again under other local-hold settings: the hold's reach, the layers
each edit reaches, or no hold at all. Each variant is the run's own image generation test on the
same codes, so that settings are compared code for code rather than on samples of their own.

    python -m vectorfind.retest outputs/vectorfind_v6 --codes 40 --start 20 --hold-reach 0 1 2
    python -m vectorfind.retest outputs/vectorfind_v6 --codes 40 --layers pose=0-4 pose=0-6 ""
    python -m vectorfind.retest outputs/vectorfind_v6 --as-fitted

The run's generator, directions, CNN, score spread and tested codes (test cases START to
START + CODES - 1, each in the group the run gave it) are kept. A variant is each --hold-reach with
each --layers (the run's own where a flag is left out), and with --as-fitted the directions as
fitted too. Each writes its test's reports to RUN/retest/VARIANT/ (a variant run again resumes
there), and RUN/retest/summary.csv gets one row per variant: its settings, the test's statistics
and how many codes pass with every leakage at most --max-leakage as well.
"""
import argparse
import json
import os
import re

import pandas as pd

from common.cli import add_debug_flag, parse_checked, run_command
from common.files import write_csv, write_json
from scores.leakage import stored_spread
from scores.properties import CORE_PROPERTIES
from common.validation import check_count, check_device, check_finite, check_positive
from property_score_cnn import load_property_score_cnn
from vectorfind.generation_testing import GenerationTest, passes
from vectorfind.groups import ALL_SAMPLES, GROUP_NAMES, borrowing_all_samples
from vectorfind.latents import inference_precision
from vectorfind.local_hold import LocalHold
from vectorfind.spaces import LatentSpace, parse_layers
from vectorfind.steering import Steering, read_tested_codes

RETEST_DIR = 'retest'


def variant_name(layers, reach):
    """A folder name: 'as_fitted' or 'reach_R', after 'layers_SPEC_' when the layers are given."""
    hold = 'as_fitted' if reach is None else f'reach_{reach:g}'
    if layers is None:
        return hold
    return f'layers_{re.sub(r"[^0-9a-z]+", "_", layers) or "every"}_{hold}'


def variants(reaches, layer_specs, as_fitted):
    """[(name, layers spec or None for the run's, hold reach or None for no hold)]: each of
    `reaches` (None: no hold) with each layer spec, and with `as_fitted` no hold as well."""
    holds = list(reaches) + ([None] if as_fitted and None not in reaches else [])
    return [(variant_name(layers, reach), layers, reach) for layers in layer_specs for reach in holds]


def retest(out_dir, reaches=None, layer_specs=None, as_fitted=False, cases=slice(0, 40), device='cpu',
           max_leakage=0.3):
    """The summary DataFrame, one row per variant (`variants` of `reaches`, `layer_specs` and
    `as_fitted`; None: the run's own hold, or layers) over the test cases `cases`
    (a slice) of the run in `out_dir`."""
    steering = Steering.from_run(out_dir, device)
    if reaches is None:
        reaches = [None if steering.hold is None else steering.hold.reach]
    config = steering.record
    results, tested = read_tested_codes(out_dir, steering.code_dim)
    start = cases.start or 0
    if start >= len(tested):
        raise ValueError(f'{out_dir}: --start {start}, but the run tested {len(tested)} codes'
                         f' (cases 0 to {len(tested) - 1})')
    groups = [str(group) for group in results['group_name'][cases]]
    directions = steering.directions
    if steering.groups == [ALL_SAMPLES]:  # as the pipeline does: every group moves along the one fit
        directions = borrowing_all_samples(directions, GROUP_NAMES)
    cnn = load_property_score_cnn(config['cnn']).to(device).eval()
    spread = stored_spread(out_dir)
    rows = []
    for name, layers, reach in variants(reaches, layer_specs or [None], as_fitted):
        space = steering.space if layers is None else LatentSpace(steering.space.name, parse_layers(layers))
        variant = Steering(steering.generator, directions, space, None if reach is None else LocalHold(cnn, reach),
                           device=device, precision=steering.precision)
        report_dir = os.path.join(out_dir, RETEST_DIR, name)
        settings = {'variant': name, 'layers': config['layers'] if layers is None else layers,
                    'local_hold': reach is not None, 'hold_reach': reach, 'first_case': start}
        record = os.path.join(report_dir, 'retest.json')
        resumable = os.path.exists(record) and earlier_settings(record) == settings
        os.makedirs(report_dir, exist_ok=True)
        write_json(record, settings)
        test = GenerationTest(variant, cnn, spread, report_dir, config['seed'], config['batch_size'])
        # afresh for other settings, or after an earlier retest of more codes from the same case
        if not resumable or len(test.results) > len(tested[cases]):
            test.start_afresh()
        print(f'{name}:')
        with inference_precision(device, steering.precision):
            statistics = test.run(0, 0, tested[cases], groups)
        held_still = sum(passes({p: row[f'{p}_corr'] for p in CORE_PROPERTIES},
                                {p: row[f'{p}_leakage'] for p in CORE_PROPERTIES}, max_leakage)
                         for row in test.results)
        counts = {key: int(statistics.iloc[0][key]) for key in ('tested', 'passed', 'passed_by_corr')}
        rows.append({**settings, **statistics.iloc[0].to_dict(), **counts,
                     f'passed_with_leakage_at_most_{max_leakage:g}': held_still})
    return pd.DataFrame(rows)


def earlier_settings(record):
    with open(record) as f:
        return json.load(f)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('run', help='a VectorFind run folder')
    parser.add_argument('--codes', type=int, default=40, help='how many of its tested codes (default 40)')
    parser.add_argument('--start', type=int, default=0, help='the first test case (default 0)')
    parser.add_argument('--hold-reach', type=float, nargs='+',
                        help='the local hold\'s reach, one variant each (default: the run\'s)')
    parser.add_argument('--layers', nargs='+',
                        help='the layers each direction is added to, e.g. pose=0-4, one variant each;'
                             ' "" for every layer (default: the run\'s)')
    parser.add_argument('--as-fitted', action='store_true', help='also the directions as fitted, not held')
    parser.add_argument('--max-leakage', type=float, default=0.3,
                        help='count the codes that pass with every leakage at most this too (default 0.3)')
    parser.add_argument('--device', default='cpu')
    add_debug_flag(parser)
    args = parse_checked(parser, argv, check_args)
    run_command(lambda: report(args), argv)


def check_args(args):
    check_count(args.codes, '--codes')
    check_device(args.device)
    if args.start < 0:
        raise ValueError(f'--start must be at least 0, got {args.start}')
    check_positive(args.max_leakage, '--max-leakage')
    for reach in args.hold_reach or ():
        check_finite(reach, '--hold-reach', low=0)
    for layers in args.layers or ():
        parse_layers(layers)


def report(args):
    summary = retest(args.run, args.hold_reach, args.layers, args.as_fitted,
                     slice(args.start, args.start + args.codes), args.device,
                     args.max_leakage)
    write_csv(os.path.join(args.run, RETEST_DIR, 'summary.csv'), summary)
    shown = ['variant', *[f'{p}_abs_corr_mean' for p in CORE_PROPERTIES], 'tested', 'passed',
             *[f'{p}_leakage_median' for p in CORE_PROPERTIES], summary.columns[-1]]
    print(summary[shown].to_string(index=False))


if __name__ == '__main__':
    main()
