"""Yield of calibrated control: of random codes made characters, the share that reach every
request of a 3 x 3 x 3 grid of eyes, mouth and pose values, by the CNN, with the judge's reading
of the same faces beside it.

    python -m benchmarks.character_yield --run outputs/vectorfind_v6 --codes 200
    python -m benchmarks.character_yield --run outputs/vectorfind_v6 --codes 40 --grid generator

Each code (drawn from --seed, none of them the run's own) is made a character
(`characters.character.build`), and each of the 27 requests (every mix of the 10th, 50th and
90th percentile of eyes, mouth and pose: of the world's score table with --grid world, of the
run's own generated samples with --grid generator) is solved with the CNN
(`Character.render_many`, a request beyond her reach taken to its end). A request is met when the
CNN reads each steered value within `MET` spreads of it and each unsteered score within `HELD`
spreads of her own face's; a code counts when all 27 are met. The world reader (`judge/`), which
no step here sees, reads the same faces: per property the correlation of its judged factor with
the requested value over the 27, how far its judged factor moves between the lowest and the
highest request (in spreads over world faces), and identity drift (root mean square over the
readable identity factors of each face's change from her own face, in their spreads).

Writes --out (one row per code, appended as each code finishes, so that a stopped run resumes)
and beside it _coverage.png (the run's generated faces against the world's, per property, the
grid's values marked), and prints the summary.
"""
import argparse
import os

import numpy as np
import pandas as pd
# The object-oriented Figure renders PNGs with the Agg canvas and never touches a display.
from matplotlib.figure import Figure
from tqdm import tqdm

from characters.cast import Cast
from characters.character import TOLERANCE, UNSTEERED_COLUMNS
from common.files import atomic_write
from common.paths import in_repo
from judge.reader import load_world_reader
from judge.report import READER, Judge, readable_identity
from scores.properties import CORE_COLUMNS, CORE_PROPERTIES
from scores.table import read_score_table
from vectorfind.latents import draw_codes
from vectorfind.sampling import iter_chunks

MET, HELD = 0.2, 0.3  # spreads, the rule
PURPOSE = 7  # a stream of codes of its own: neither the run's samples (0) nor its test codes (1)


def grid_targets(percentiles):
    """[27, 3]: every mix of the three percentiles [3, 3] of eyes, mouth and pose."""
    return np.array([[percentiles[i, 0], percentiles[j, 1], percentiles[k, 2]]
                     for i in range(3) for j in range(3) for k in range(3)])


def sample_scores(cast, run):
    """The CNN's eyes, mouth and pose scores [n, 3] of the run's own generated samples."""
    config = cast.steering.record
    return np.concatenate([chunk for _, chunk in iter_chunks(run, config['n'], config['chunk_size'])])[:, CORE_COLUMNS]


def reached_by_samples(samples, percentiles, spread):
    """Per property, the share of the generator's own faces at or below the grid's lowest value,
    and at or above its highest, within MET spreads: how often the generator makes them at all."""
    low, high = percentiles[0] + MET * spread, percentiles[-1] - MET * spread
    return pd.DataFrame({'at or below the lowest': (samples <= low).mean(axis=0),
                         'at or above the highest': (samples >= high).mean(axis=0)},
                        index=list(CORE_PROPERTIES)).round(4)


def code_row(cast, judge, code, targets, index):
    character = cast.build(code)
    within = not character.outside_reach(targets)
    faces, scores, _ = character.render_many(character.clamped(targets))
    spread = cast.spread
    steered = np.abs(scores[:, CORE_COLUMNS] - targets) / spread[CORE_COLUMNS]
    held = np.abs(scores[:, UNSTEERED_COLUMNS] - character.neutral[UNSTEERED_COLUMNS]) / spread[UNSTEERED_COLUMNS]
    met = (steered.max(axis=1) <= MET) & (held.max(axis=1) <= HELD)
    own = character.frames(character.neutral[None, CORE_COLUMNS], batch_size=1)
    encodings = judge.encodings(np.concatenate([own, faces]))
    judged = judge.properties(encodings[1:])[:, CORE_COLUMNS]
    _, drift = judge.distance_from(encodings[0], encodings[1:])
    row = {'code': index, 'within_reach': within, 'requests_met': int(met.sum()), 'all_met': bool(met.all()),
           'identity_drift_median': float(np.median(drift))}
    for k, prop in enumerate(CORE_PROPERTIES):
        row[f'{prop}_reach_low'], row[f'{prop}_reach_high'] = character.stored.reach[k]
        row[f'{prop}_cnn_miss_median'] = float(np.median(steered[:, k]))
        row[f'{prop}_judged_corr'] = float(np.corrcoef(targets[:, k], judged[:, k])[0, 1]) \
            if np.ptp(judged[:, k]) > 0 else 0.0
        low, high = targets[:, k] == targets[:, k].min(), targets[:, k] == targets[:, k].max()
        row[f'{prop}_judged_change'] = float((judged[high, k].mean() - judged[low, k].mean())
                                             / judge.property_spreads[CORE_COLUMNS[k]])
    row['unsteered_held_median'] = float(np.median(held))
    return row


def plot_coverage(samples, table_scores, percentiles, path):
    """Per property, the run's generated faces against the world's faces, the grid's values marked."""
    figure = Figure(figsize=(12, 3.2))
    for k, prop in enumerate(CORE_PROPERTIES):
        ax = figure.add_subplot(1, len(CORE_PROPERTIES), k + 1)
        bins = np.linspace(min(samples[:, k].min(), table_scores[:, k].min()),
                           max(samples[:, k].max(), table_scores[:, k].max()), 50)
        ax.hist(table_scores[:, k], bins, density=True, alpha=0.5, label='world faces')
        ax.hist(samples[:, k], bins, density=True, alpha=0.5, label='generated faces')
        for value in percentiles[:, k]:
            ax.axvline(value, color='k', lw=1, ls='--')
        ax.set_title(f'{prop} (CNN z-score)')
    figure.axes[0].legend(fontsize=8)
    figure.tight_layout()
    with atomic_write(path) as tmp:
        figure.savefig(tmp, dpi=100)


def summary(table, percentiles, spread):
    """The figures over codes; `percentiles` [3, 3] the grid's, `spread` [3] the steered scores'."""
    rows = {'codes': len(table), 'yield (all 27 met)': table.all_met.mean(),
            'requests met (share)': table.requests_met.mean() / 27,
            'codes whose reach covers the grid': table.within_reach.mean(),
            'identity drift, median (spreads)': table.identity_drift_median.median()}
    for k, prop in enumerate(CORE_PROPERTIES):
        low, high, margin = percentiles[0, k], percentiles[-1, k], TOLERANCE * spread[k]  # as outside_reach
        rows[f'{prop}: reach covers the grid (share of codes)'] = (
            (table[f'{prop}_reach_low'] <= low + margin) & (table[f'{prop}_reach_high'] >= high - margin)).mean()
        rows[f'{prop}: CNN miss, median (spreads)'] = table[f'{prop}_cnn_miss_median'].median()
        rows[f'{prop}: judged corr, mean'] = table[f'{prop}_judged_corr'].mean()
        rows[f'{prop}: judged change 10th to 90th, median (spreads)'] = table[f'{prop}_judged_change'].median()
    return pd.Series(rows).round(3)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--run', default=in_repo('outputs', 'vectorfind_v6'))
    parser.add_argument('--codes', type=int, default=200)
    parser.add_argument('--grid', choices=('world', 'generator'), default='world')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', help='default: RUN/characters/yield_<grid>.csv')
    args = parser.parse_args(argv)
    out = args.out or os.path.join(args.run, 'characters', f'yield_{args.grid}.csv')
    cast = Cast.from_run(args.run, args.device)
    judge = Judge(load_world_reader(READER, args.device), readable_identity(READER))
    samples = sample_scores(cast, args.run)
    percentiles = cast.percentiles() if args.grid == 'world' else np.percentile(samples, (10, 50, 90), axis=0)
    targets = grid_targets(percentiles)
    codes = draw_codes(args.codes, cast.steering.code_dim, args.seed, PURPOSE, 0)
    done = pd.read_csv(out) if os.path.exists(out) else pd.DataFrame({'code': []})
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    for index in tqdm(range(args.codes), desc='codes', unit='code'):
        if index in set(done.code):
            continue
        row = pd.DataFrame([code_row(cast, judge, codes[index], targets, index)])
        row.to_csv(out, mode='a', header=not os.path.exists(out), index=False)  # a row is one write
    print(f'grid ({args.grid} percentiles 10/50/90, eyes / mouth / pose):')
    print(pd.DataFrame(percentiles, index=['p10', 'p50', 'p90'], columns=CORE_PROPERTIES).round(3))
    table_scores = read_score_table(cast.table_path, check_images=False)[
        [f'{prop}_score' for prop in CORE_PROPERTIES]].to_numpy()
    plot_coverage(samples, table_scores, percentiles, os.path.splitext(out)[0] + '_coverage.png')
    print('the run\'s own samples that reach the grid\'s ends:')
    print(reached_by_samples(samples, percentiles, cast.spread[CORE_COLUMNS]))
    print(summary(pd.read_csv(out).head(args.codes), percentiles, cast.spread[CORE_COLUMNS]).to_string())


if __name__ == '__main__':
    main()
