"""How much of the world a base generator's latent space holds.

    python -m base_training.evaluate                 # the committed default models

Writes a grid of 64 samples at psi 1.0, and measures, over --n samples, the Property Score CNN's
5th to 95th percentile range of eyes, mouth and pose against the same range over the training
data (the CNN-derived all_scores table): the share of the data's range the samples cover. It is
measured for two ways of drawing samples:

* ``v1``: z ~ N(0, 1) with labels drawn from the training table (the generator as trained; its
  `label_corr` says how closely the measured score follows the label's);
* ``v6``: the VectorFind-v6 conversion (label embedding re-drawn), z and the 3 extra dims ~ N(0, 1):
  the latent space VectorFind-v6 searches.

Beside the table it draws the two distributions per property (`--plot`): where the samples stop
short of the data's tails is what the coverage figure counts.
"""
import argparse
import os

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from tqdm import tqdm

from common.cli import add_debug_flag, parse_checked, prepare_output_file, run_command
from common.files import atomic_write, write_csv, write_json
from common.images import contact_sheet, save_png, to_uint8
from common.paths import in_repo
from scores.properties import CORE_PROPERTIES
from common.validation import check_count, check_device, check_writable_file
from property_score_cnn import load_property_score_cnn
from scores.table import SCORE_COLUMNS, read_score_table
from stylegan.loading import convert_v1_to_v6, load_generator

PERCENTILES = (5, 95)
TARGET_COVERAGE = 0.7


def coverage(samples, data):
    """Share of the data's 5th-95th percentile range inside the samples' 5th-95th range."""
    low_s, high_s = np.percentile(samples, PERCENTILES)
    low_d, high_d = np.percentile(data, PERCENTILES)
    overlap = max(0.0, min(high_s, high_d) - max(low_s, low_d))
    return overlap / (high_d - low_d)


@torch.inference_mode()
def sample_scores(generator, cnn, z, labels, batch_size=100):
    """CNN scores of eyes, mouth and pose [N, 3] for the generator's images of (z, labels)."""
    device = next(generator.parameters()).device
    out = []
    for i in tqdm(range(0, len(z), batch_size), desc='sampling', unit='batch'):
        images = generator(z[i:i + batch_size].to(device), labels[i:i + batch_size].to(device))['image']
        out.append(cnn.score(images, CORE_PROPERTIES).cpu())
    return torch.cat(out).numpy()


def latent_sets(v1, table, n, seed):
    """{name: (generator, z, labels)} for the two ways of drawing samples."""
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(n, v1.z_dim, generator=rng)
    rows = torch.randint(len(table), (n,), generator=rng)
    labels = torch.tensor(table.loc[:, list(SCORE_COLUMNS)].to_numpy(np.float32))[rows]
    v6 = convert_v1_to_v6(v1, seed=seed)
    return {'v1': (v1, z, labels), 'v6': (v6, z, torch.randn(n, 3, generator=rng))}


def evaluate(generator_path, cnn_path, table_path, n, seed, device='cpu'):
    v1 = load_generator(generator_path, 'v1')
    cnn = load_property_score_cnn(cnn_path).to(device)
    table = read_score_table(table_path, check_images=False)
    rows, samples = [], {}
    for name, (generator, z, labels) in latent_sets(v1, table, n, seed).items():
        scores = samples[name] = sample_scores(generator.to(device), cnn, z, labels)
        for k, prop in enumerate(CORE_PROPERTIES):
            data = table[f'{prop}_score'].to_numpy()
            # v1 samples carry a property label: how closely the measured score follows it. (v6's
            # 3 extra dims are no property label.)
            label_corr = (np.corrcoef(labels[:, SCORE_COLUMNS.index(f'{prop}_score')], scores[:, k])[0, 1]
                          if name == 'v1' else np.nan)
            rows.append({'latents': name, 'property': prop,
                         'samples_p5': np.percentile(scores[:, k], 5),
                         'samples_p95': np.percentile(scores[:, k], 95),
                         'data_p5': np.percentile(data, 5), 'data_p95': np.percentile(data, 95),
                         'coverage': coverage(scores[:, k], data), 'label_corr': label_corr})
    result = pd.DataFrame(rows).round(4)
    result['passed'] = result.coverage >= TARGET_COVERAGE
    return v1, result, samples, table


def coverage_plot(samples, table, path):
    """Per way of drawing samples (rows) and property (columns): the CNN scores of the samples
    against those of the training data, each with its 5th-95th percentile range dashed."""
    figure = Figure(figsize=(4 * len(CORE_PROPERTIES), 3 * len(samples)))
    axes = figure.subplots(len(samples), len(CORE_PROPERTIES), squeeze=False)
    for row, (name, scores) in enumerate(samples.items()):
        for k, prop in enumerate(CORE_PROPERTIES):
            data, drawn, ax = table[f'{prop}_score'].to_numpy(), scores[:, k], axes[row, k]
            bins = np.linspace(min(data.min(), drawn.min()), max(data.max(), drawn.max()), 50)
            for values, label, color in ((data, 'training data', 'tab:blue'),
                                         (drawn, f'{name} samples', 'tab:orange')):
                ax.hist(values, bins, density=True, alpha=0.5, color=color, label=label)
                for edge in np.percentile(values, PERCENTILES):
                    ax.axvline(edge, color=color, linestyle='--', linewidth=1)
            ax.set_title(f'{prop}, {name}: coverage {coverage(drawn, data):.2f}')
            ax.set_xlabel('CNN score (z units)')
            ax.legend(fontsize=8)
    figure.tight_layout()
    with atomic_write(path) as tmp:
        figure.savefig(tmp, dpi=100)


@torch.inference_mode()
def sample_grid(generator, seed, count=64):
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(count, generator.z_dim, generator=rng)
    # Zero labels: the mean of every normalised score, so the grid shows what z alone varies.
    device = next(generator.parameters()).device
    images = generator(z.to(device), torch.zeros(count, generator.label_dim, device=device),
                       trunc_psi=1.0)['image'].cpu()
    return contact_sheet(to_uint8(images))


def check_arguments(args):
    """The arguments that can be checked before any model is read (a usage error if not)."""
    check_count(args.n, '--n', minimum=2)
    check_device(args.device)
    for flag, path in (('--grid', args.grid), ('--plot', args.plot), ('--out', args.out)):
        check_writable_file(path, flag)


def run(args):
    for flag, path in (('--grid', args.grid), ('--plot', args.plot), ('--out', args.out)):
        prepare_output_file(path, flag)
    generator, result, samples, table = evaluate(args.generator, args.cnn, args.scores_table,
                                                 args.n, args.seed, args.device)
    save_png(sample_grid(generator, args.seed), args.grid)
    coverage_plot(samples, table, args.plot)
    write_csv(args.out, result)
    write_json(os.path.splitext(args.out)[0] + '_config.json',
               {key: value for key, value in vars(args).items() if key != 'debug'})
    print(result.to_string(index=False))
    print(f'grid of 64 samples: {args.grid}; table: {args.out}; histograms: {args.plot}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--generator', default='models/default/base_generator.pth')
    parser.add_argument('--cnn', default='models/default/property_score_cnn.pth')
    parser.add_argument('--scores-table', default='models/default/all_scores_v2_cnn.csv',
                        help='the CNN-derived all_scores table of the training data')
    parser.add_argument('--n', type=int, default=5000, help='samples per way of drawing (at least 2)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--grid', default=in_repo('docs', 'default_generator.png'))
    parser.add_argument('--plot', default=in_repo('docs', 'default_generator_coverage.png'),
                        help='histograms of samples against data, per property')
    parser.add_argument('--out', default=in_repo('outputs', 'evaluate_base.csv'))
    parser.add_argument('--device', default='cpu',
                        help="'cuda' on a GPU; the figures agree with the CPU's up to float rounding")
    add_debug_flag(parser)
    args = parse_checked(parser, argv, check_arguments)
    run_command(lambda: run(args), argv)


if __name__ == '__main__':
    main()
