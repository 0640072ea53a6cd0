"""Time of one FineTune-v5 training step: the cached conditional truncation against the
published per-image loop.

    python -m benchmarks.finetune_v5_step                              # world64, CPU
    python -m benchmarks.finetune_v5_step --architecture v5 --device cuda    # the published 256 px shape

The published generator computes, inside every forward pass and for every image of the batch,
the w average of its label from 1,000 fresh z through the mapping network, with gradients. This
repository's generator (`Generator.conditional_w_avg`) maps one fixed set of 1,000 z for each
distinct label in one batched pass, without gradients, and reuses it until the mapping's weights
change. Both variants run the same `FineTuneV5.train_step` on the same models (random weights:
speed does not depend on them), from the same state, on the same batch; one D and one G update
per step, so that the adaptive extra updates do not make the two steps differ in work. One
warm-up step each, then the median of --repeats timed steps.
"""
import argparse
import copy
import statistics
import time

import numpy as np
import pandas as pd
import torch

from common.files import atomic_write
from common.machine import device_name
from common.paths import in_repo
from finetune_v5.pipeline import FineTuneSettings
from finetune_v5.trainer import FineTuneV5
from property_score_cnn import PropertyScoreCNN
from stylegan.generator import W_AVG_SAMPLES, Generator
from stylegan.architectures import as_variant, architecture
from finetune_v5.property_discriminator import PropertyDiscriminator


def original_conditional_w_avg(generator, label, num_samples=W_AVG_SAMPLES):
    """The published loop structure, for this comparison only: per image, `num_samples` fresh z
    with that image's label through the mapping network, gradients kept, averaged."""
    w_avg = torch.zeros(len(label), generator.config['w_dim'], device=label.device)
    for i in range(len(label)):
        z = torch.randn(num_samples, generator.z_dim, device=label.device)
        w_avg[i:i + 1] = generator.mapping(z, label[i:i + 1].repeat(num_samples, 1)).mean(dim=0)
    return w_avg


def make_trainer(args):
    """A FineTuneV5 trainer on random models and a random batch source of 4 batches."""
    torch.manual_seed(0)
    generator = Generator(as_variant(architecture(args.architecture), 'v5'))
    cnn = PropertyScoreCNN(args.cnn_width).eval().requires_grad_(False)
    discriminator = PropertyDiscriminator(args.cnn_width)
    device = torch.device(args.device)
    resolution = generator.config['resolution']
    rng = np.random.default_rng(0)
    views = rng.integers(0, 256, (4 * args.batch_size, resolution, resolution, 3), dtype=np.uint8)
    labels = torch.from_numpy(rng.standard_normal((len(views), 3)).astype(np.float32))
    settings = FineTuneSettings(batch_size=args.batch_size, max_d_updates=1, max_g_updates=1,
                                device=args.device)
    return FineTuneV5(settings, views, labels, (generator.to(device), discriminator.to(device),
                                                cnn.to(device)))


def time_step(trainer, start_state):
    """Seconds of one step from `start_state` (same weights, optimizer, batch and random state)."""
    trainer.load_state(copy.deepcopy(start_state), 'benchmark start')
    trainer.G._w_avg_cache = {}  # the cached variant starts cold, as after any weight update
    if trainer.device.type == 'cuda':
        torch.cuda.synchronize()
    started = time.perf_counter()
    trainer.train_step()
    if trainer.device.type == 'cuda':
        torch.cuda.synchronize()
    return time.perf_counter() - started


def benchmark(args):
    trainer = make_trainer(args)
    start_state = copy.deepcopy(trainer.state())
    cached = trainer.G.conditional_w_avg
    rows = []
    for variant in ('cached (this repository)', 'per-image loop (published)'):
        trainer.G.conditional_w_avg = (cached if variant.startswith('cached') else
                                       lambda label: original_conditional_w_avg(trainer.G, label))
        time_step(trainer, start_state)  # warm-up
        times = [time_step(trainer, start_state) for _ in range(args.repeats)]
        rows.append({'variant': variant, 'architecture': args.architecture, 'batch': args.batch_size,
                     'cnn_width': args.cnn_width, 'median_s': round(statistics.median(times), 4),
                     'min_s': round(min(times), 4), 'repeats': args.repeats,
                     'device': device_name(trainer.device),
                     'torch_threads': torch.get_num_threads(), 'torch': torch.__version__})
    rows[1]['speedup'] = round(rows[1]['median_s'] / rows[0]['median_s'], 1)
    return pd.DataFrame(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--architecture', default='world64', help='generator architecture, converted to v5')
    parser.add_argument('--cnn-width', type=float, default=0.25)
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', default=None,
                        help='CSV; default outputs/benchmarks/finetune_v5_step_<architecture>_<device>.csv')
    args = parser.parse_args(argv)
    table = benchmark(args)
    print(table.to_string(index=False))
    out = args.out or in_repo('outputs', 'benchmarks',
                                   f'finetune_v5_step_{args.architecture}_{args.device}.csv')
    with atomic_write(out) as tmp:
        table.to_csv(tmp, index=False)
    print(f'wrote {out}')


if __name__ == '__main__':
    main()
