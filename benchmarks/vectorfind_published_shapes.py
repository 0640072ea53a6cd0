"""VectorFind-v6 on the published checkpoints' shapes, end to end, with stand-in weights.

    python -m benchmarks.vectorfind_published_shapes                       # a GPU: n 20,000
    python -m benchmarks.vectorfind_published_shapes --device cpu --n 40 --max-tries 1

The published files cannot be downloaded here, so this writes raw state dicts of exactly their
keys and shapes (`stylegan_gen_fine_tuned_v1.pth`, `stylegan_gen_fine_tuned_v2_cnn.pth`), filled
with the deterministic stand-in weights of `common/parity_weights.py`, into --out-dir/models, scores a small
face world with that CNN for the group medians, and runs `run_stylegan_vectorfind_v6.py
--preset ohlora` on them unchanged (smaller n). The weights make no faces: what it shows is that
every stage runs at 256 px on the device, and how long each takes.
"""
import argparse
import os
import time

import torch

from common.parity_weights import parity_state_dict
from common.paths import in_repo
from data.build_default_world import build_world
from property_score_cnn import load_property_score_cnn
from property_score_cnn.scoring import cnn_score_table
from vectorfind import pipeline as vectorfind_v6
from vectorfind.latents import PRECISIONS

PUBLISHED = ('stylegan_gen_fine_tuned_v1.pth', 'stylegan_gen_fine_tuned_v2_cnn.pth')


def write_stand_ins(models_dir):
    os.makedirs(models_dir, exist_ok=True)
    for name in PUBLISHED:
        torch.save(parity_state_dict(name), os.path.join(models_dir, name))


def timed(label, function, *args):
    started = time.perf_counter()
    result = function(*args)
    print(f'[{label}] {time.perf_counter() - started:.1f} s', flush=True)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out-dir', default=in_repo('outputs', 'vectorfind_published_shapes'))
    parser.add_argument('--n', type=int, default=20000, help='VectorFind-v6 samples')
    parser.add_argument('--max-tries', type=int, default=40, help='VectorFind-v6 codes tested')
    parser.add_argument('--world', type=int, default=256, help='faces scored for the medians')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--precision', choices=PRECISIONS, default='float32',
                        help='VectorFind-v6 --precision')
    args = parser.parse_args(argv)
    models = os.path.join(args.out_dir, 'models')
    world = os.path.join(args.out_dir, 'world')
    write_stand_ins(models)
    print(f'device: {torch.cuda.get_device_name() if args.device == "cuda" else args.device}')

    timed('world build', build_world, args.world, 0, world, min(16, os.cpu_count() or 1))
    cnn_path = os.path.join(models, PUBLISHED[1])
    table = os.path.join(world, 'all_scores_v2_cnn.csv')
    cnn = load_property_score_cnn(cnn_path).to(args.device)
    timed('CNN-derived table', cnn_score_table, cnn, os.path.join(world, 'all_scores_v2.csv'), table, 0)

    timed('VectorFind-v6', vectorfind_v6.main, [
        '--preset', 'ohlora', '--generator', os.path.join(models, PUBLISHED[0]), '--cnn', cnn_path,
        '--scores-table', table, '--n', str(args.n), '--chunk-size', '5000',
        '--max-tries', str(args.max_tries), '--device', args.device, '--precision', args.precision,
        '--out-dir', os.path.join(args.out_dir, 'vectorfind_v6')])


if __name__ == '__main__':
    main()
