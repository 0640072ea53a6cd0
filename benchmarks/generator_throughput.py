"""Images per second of the generator, the Property Score CNN, and both in a row.

    python -m benchmarks.generator_throughput --architecture world64 --batch-sizes 1 4 16 64
    python -m benchmarks.generator_throughput --architecture v6 --batch-sizes 1 4 16 \
        --out outputs/benchmarks/generator_throughput_v6.csv

The models hold random weights: their speed does not depend on the values. Each measurement is a
warm-up call followed by `--repeats` timed calls under `torch.inference_mode`; the median time per
batch is reported, since a shared machine makes the mean chase its slowest call. The CNN is timed
on the generator's own images, so that its resize to 256 px (for the small architectures) is counted the
way it is in the pipeline "generate, then score".
"""
import argparse
import os
import statistics
import time
from datetime import date

import pandas as pd
import torch

import stylegan
from common.files import atomic_write
from common.machine import device_name
from common.paths import in_repo
from property_score_cnn import PropertyScoreCNN, score_images

# The CNN width an architecture is benchmarked with unless --cnn-width says otherwise: the published
# generators go with the published width-1 CNN, the small architectures with a narrow one.
DEFAULT_CNN_WIDTH = {name: 1.0 for name in stylegan.VARIANTS}
SMALL_CNN_WIDTH = 0.25
STAGES = ('generator', 'property_cnn', 'generator+cnn')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--architecture', default='world64', choices=sorted(stylegan.ARCHITECTURES))
    parser.add_argument('--cnn-width', type=float, default=None,
                        help=f'Property Score CNN width (default: 1 for the published variants,'
                             f' {SMALL_CNN_WIDTH} for the small architectures)')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 4, 16, 64])
    parser.add_argument('--repeats', type=int, default=5, help='timed calls per measurement')
    parser.add_argument('--devices', nargs='+', default=None,
                        help='default: cpu, and cuda when available')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=in_repo('outputs', 'benchmarks', 'generator_throughput.csv'))
    args = parser.parse_args(argv)
    if args.cnn_width is None:
        args.cnn_width = DEFAULT_CNN_WIDTH.get(args.architecture, SMALL_CNN_WIDTH)
    if args.devices is None:
        args.devices = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
    return args


def device_label(device):
    """The GPU's name, or the CPU's with its number of logical cores."""
    name = device_name(device)
    return name if device.type == 'cuda' else f'{name}, {os.cpu_count()} logical cores'


def median_seconds(call, device, repeats):
    """Median wall time of `call()` after one untimed warm-up call (which pays for memory
    allocation and one-time kernel setup)."""
    def timed():
        start = time.perf_counter()
        call()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)  # kernels run asynchronously; wait for them to finish
        return time.perf_counter() - start

    timed()
    return statistics.median(timed() for _ in range(repeats))


def stage_calls(generator, cnn, batch_size, device, seed):
    """The three timed calls for one batch size, keyed by stage."""
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(batch_size, generator.z_dim, generator=rng).to(device)
    label = torch.randn(batch_size, generator.label_dim, generator=rng).to(device)

    def generate():
        return generator(z, label)['image']

    images = generate()
    return {
        'generator': generate,
        'property_cnn': lambda: score_images(cnn, images, batch_size=batch_size),
        'generator+cnn': lambda: score_images(cnn, generate(), batch_size=batch_size),
    }


def benchmark_device(args, device):
    """One row per (stage, batch size) on `device`."""
    torch.manual_seed(args.seed)
    generator = stylegan.Generator(stylegan.architecture(args.architecture)).eval().to(device)
    cnn = PropertyScoreCNN(width=args.cnn_width).eval().to(device)
    context = dict(architecture=args.architecture, resolution=generator.config['resolution'],
                   cnn_width=args.cnn_width, device=device.type, device_name=device_label(device),
                   torch_threads=torch.get_num_threads(), torch_version=torch.__version__,
                   repeats=args.repeats, date=date.today().isoformat())
    rows = []
    with torch.inference_mode():
        for batch_size in args.batch_sizes:
            calls = stage_calls(generator, cnn, batch_size, device, args.seed)
            for stage in STAGES:
                seconds = median_seconds(calls[stage], device, args.repeats)
                rows.append(dict(context, stage=stage, batch_size=batch_size,
                                 median_ms_per_batch=round(1000 * seconds, 2),
                                 images_per_s=round(batch_size / seconds, 2)))
                print(f'{device.type} {stage:>13} batch {batch_size:>3}:'
                      f' {rows[-1]["images_per_s"]:9.2f} images/s', flush=True)
    return rows


def markdown_tables(results):
    """One table per device: a row per batch size, a column of images/s per stage."""
    blocks = []
    for device, rows in results.groupby('device', sort=False):
        first = rows.iloc[0]
        wide = rows.pivot(index='batch_size', columns='stage', values='images_per_s')[list(STAGES)]
        lines = [f'{first.preset} ({first.resolution} px), CNN width {first.cnn_width};'
                 f' {device}: {first.device_name}, {first.torch_threads} torch threads,'
                 f' torch {first.torch_version}, median of {first.repeats}',
                 '',
                 '| batch | ' + ' | '.join(f'{stage} (images/s)' for stage in STAGES) + ' |',
                 '| ---: |' + ' ---: |' * len(STAGES)]
        lines += [f'| {batch} | ' + ' | '.join(f'{value:.2f}' for value in row) + ' |'
                  for batch, row in wide.iterrows()]
        blocks.append('\n'.join(lines))
    return '\n\n'.join(blocks)


def main(argv=None):
    args = parse_args(argv)
    results = pd.DataFrame([row for name in args.devices
                            for row in benchmark_device(args, torch.device(name))])
    with atomic_write(args.out) as tmp:
        results.to_csv(tmp, index=False)
    print()
    print(markdown_tables(results))
    print(f'\nwritten to {args.out}')


if __name__ == '__main__':
    main()
