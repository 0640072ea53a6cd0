"""Base-generator training throughput per batch size: steps and images per second.

    python -m benchmarks.train_base_step                                  # world64, CPU
    python -m benchmarks.train_base_step --device cuda --batch-sizes 32 64 128 256

What a device time budget buys: for a generator this small the batch size may decide how many
images one call trains on (the measurements are in models/default/base_generator.md). Runs `BaseTrainer.train_step` (R1 every 4 steps, as in training) on random
images and labels of the architecture's size (speed does not depend on them): --warmup steps, then
--steps timed ones, a whole number of R1 intervals, synchronised on a GPU.
"""
import argparse
import time

import pandas as pd
import torch

from common.files import write_csv
from common.machine import device_name
from common.paths import in_repo
from stylegan.architectures import architecture
from base_training.train import BaseTrainer, BaseTrainingSettings


def images_per_second(args, batch_size):
    settings = BaseTrainingSettings(data='-', out_dir='-', architecture=args.architecture,
                                    batch_size=batch_size, device=args.device)
    resolution = architecture(args.architecture)['resolution']
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (1024, 3, resolution, resolution), dtype=torch.uint8, generator=generator)
    trainer = BaseTrainer(settings, images, torch.randn(len(images), 7, generator=generator))
    for _ in range(args.warmup):
        trainer.train_step()
    if trainer.device.type == 'cuda':
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(args.steps):
        trainer.train_step()
    if trainer.device.type == 'cuda':
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return {'architecture': args.architecture, 'batch_size': batch_size, 'steps': args.steps,
            'seconds_per_step': round(seconds / args.steps, 4),
            'images_per_s': round(args.steps * batch_size / seconds, 1),
            'device': device_name(trainer.device),
            'torch_threads': torch.get_num_threads(), 'torch': torch.__version__}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--architecture', default='world64')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[16, 32, 64])
    parser.add_argument('--steps', type=int, default=8, help='timed steps (a multiple of 4)')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', default=None,
                        help='CSV; default outputs/benchmarks/train_base_step_<architecture>_<device>.csv')
    args = parser.parse_args(argv)
    if args.steps % 4:
        parser.error(f'--steps must be a multiple of 4 (one R1 step in 4), got {args.steps}')
    table = pd.DataFrame([images_per_second(args, b) for b in args.batch_sizes])
    print(table.to_string(index=False))
    out = args.out or in_repo('outputs', 'benchmarks', f'train_base_step_{args.architecture}_{args.device}.csv')
    write_csv(out, table)
    print(f'wrote {out}')


if __name__ == '__main__':
    main()
