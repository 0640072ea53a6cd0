"""VectorFind-v6 speed against the original's loop structure, on the same models and machine.

    python -m benchmarks.vectorfind_speed            # the committed default models, CPU

(a) sampling plus scoring, images per second: this repository (`vectorfind.latents.render_and_score`,
    batched, scores straight from the generator output) against the original's structure (generate
    20 at a time, convert to uint8, score one image at a time), and against the bare
    generator-plus-CNN forward pass at its best batch size;
(b) one latent's image generation test (50 images): this repository (`generation_testing.score_code_edits`)
    against the original's structure (generate each image, save it as JPEG, read it back, score it
    alone), and against the test's 50 generator passes alone at their best batch size, a floor no
    test structure can go below;
(c) peak memory of the sampling stage at two sizes of --n, each in a fresh process, to show that
    streaming chunks to disk keeps it flat.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import torch
from PIL import Image

from common.files import atomic_write
from common.images import to_uint8
from common.machine import cpu_name
from common.paths import in_repo
from property_score_cnn import load_property_score_cnn
from property_score_cnn.model import as_model_input
from stylegan import convert_v1_to_v6, load_generator
from vectorfind.generation_testing import score_code_edits, weight_grid
from vectorfind.latents import PRECISIONS, draw_codes, images, inference_precision, render_and_score
from vectorfind.sampling import sample_and_score
from vectorfind.spaces import CodeEditor

ORIGINAL_GENERATION_BATCH = 20


def timed(function, *args):
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


@torch.inference_mode()
def original_sampling(generator, cnn, codes):
    """The original's structure: generate 20 at a time, to uint8, then one CNN call per image."""
    for start in range(0, len(codes), ORIGINAL_GENERATION_BATCH):
        images = to_uint8(images(generator, codes[start:start + ORIGINAL_GENERATION_BATCH], 'cpu'))
        for image in images:
            cnn(as_model_input(image[None]))


@torch.inference_mode()
def original_generation_test(editor, cnn, code, directions, folder):
    """The original's structure: per image, generate it, save a JPEG, read it back, score it."""
    for i, edited in enumerate(editor.edited(code, weight_grid(), directions)):
        image = to_uint8(editor.images(edited[None]))[0]
        path = os.path.join(folder, f'{i:03d}.jpg')
        Image.fromarray(image).save(path)
        cnn(as_model_input(np.asarray(Image.open(path).convert('RGB'))[None]))


@torch.inference_mode()
def bare_forward(generator, cnn, codes, batch_size):
    for start in range(0, len(codes), batch_size):
        cnn(images(generator, codes[start:start + batch_size], 'cpu'))


@torch.inference_mode()
def bare_generation(generator, codes, batch_size):
    """The generator alone: the floor of a test, which must at least draw its 50 images."""
    for start in range(0, len(codes), batch_size):
        images(generator, codes[start:start + batch_size], 'cpu')


def peak_memory_of_sampling(args, n):
    """Peak resident memory (MiB) of a fresh process sampling n codes into a temporary folder."""
    with tempfile.TemporaryDirectory() as out_dir:
        command = [sys.executable, '-m', 'benchmarks.vectorfind_speed', '--sample-only', str(n),
                   '--sample-dir', out_dir, '--generator', args.generator, '--cnn', args.cnn,
                   '--batch-size', str(args.batch_size), '--precision', args.precision]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return float(output.split()[-1])


def load_models(args):
    generator = convert_v1_to_v6(load_generator(args.generator, 'v1'), seed=0)
    return generator, load_property_score_cnn(args.cnn)


def sample_only(args):
    generator, cnn = load_models(args)
    with inference_precision('cpu', args.precision):
        sample_and_score(generator, cnn, args.sample_only, 0, args.sample_dir, args.batch_size, chunk_size=500)
    # The child's own peak (Linux reports KiB), read back by `peak_memory_of_sampling`.
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def run(args):
    generator, cnn = load_models(args)
    code_dim = generator.z_dim + generator.label_dim
    codes = draw_codes(args.n, code_dim, seed=0, purpose=0, block=0)
    rows = []
    warm = codes[:20]
    original_sampling(generator, cnn, warm)
    # The original's structure runs in float32, as the original does; this repository's code and
    # the bare forward pass it is held against run in --precision.
    with inference_precision('cpu', args.precision):
        render_and_score(generator, cnn, warm, 'cpu', 20)
        ours = timed(render_and_score, generator, cnn, codes, 'cpu', args.batch_size)
        bare = {b: timed(bare_forward, generator, cnn, codes, b) for b in args.bare_batch_sizes}
    original = timed(original_sampling, generator, cnn, codes)
    best_batch = min(bare, key=bare.get)
    rows += [{'measure': 'sampling+scoring, this repository', 'images_per_s': args.n / ours},
             {'measure': 'sampling+scoring, original structure', 'images_per_s': args.n / original},
             {'measure': f'bare generator+CNN forward, best batch ({best_batch})',
              'images_per_s': args.n / bare[best_batch]}]

    rng = np.random.default_rng(1)
    directions = rng.standard_normal((3, code_dim)).astype(np.float32)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    code, editor = codes[0], CodeEditor(generator)
    with inference_precision('cpu', args.precision):
        score_code_edits(editor, cnn, code, directions, args.batch_size)
        ours_test = np.median([timed(score_code_edits, editor, cnn, code, directions, args.batch_size)
                              for _ in range(3)])
        edited = editor.edited(code, weight_grid(), directions)
        floor = {b: np.median([timed(bare_generation, generator, edited, b) for _ in range(3)])
                 for b in args.bare_batch_sizes if b <= len(edited)}
    floor_batch = min(floor, key=floor.get)
    with tempfile.TemporaryDirectory() as folder:
        original_test = timed(original_generation_test, editor, cnn, code, directions, folder)
    rows += [{'measure': 'one latent test (50 images), this repository', 'seconds': ours_test},
             {'measure': 'one latent test (50 images), original structure', 'seconds': original_test},
             {'measure': f'one latent test, its 50 generator passes alone, best batch ({floor_batch})',
              'seconds': floor[floor_batch]}]

    for n in args.memory_sizes:
        rows.append({'measure': f'sampling stage peak memory, n={n}',
                     'peak_rss_mib': peak_memory_of_sampling(args, n)})
    table = pd.DataFrame(rows)
    table['precision'] = np.where(table.measure.str.contains('original'), 'float32', args.precision)
    table['machine'] = f'{cpu_name()}, {torch.get_num_threads()} threads'
    return table.round(3), {'sampling_speedup': original / ours, 'test_speedup': original_test / ours_test,
                            'share_of_bare_forward': bare[best_batch] / ours,
                            'sampling_ceiling': original / bare[best_batch],
                            'test_ceiling': original_test / floor[floor_batch]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--generator', default='models/default/base_generator.pth')
    parser.add_argument('--cnn', default='models/default/property_score_cnn.pth')
    parser.add_argument('--n', type=int, default=400, help='codes timed in (a)')
    parser.add_argument('--batch-size', type=int, default=10)
    parser.add_argument('--bare-batch-sizes', type=int, nargs='+', default=[10, 25, 50, 100])
    parser.add_argument('--memory-sizes', type=int, nargs='+', default=[1000, 4000])
    parser.add_argument('--precision', choices=PRECISIONS, default='float32',
                        help="this repository's arithmetic (the original structure stays float32)")
    parser.add_argument('--out', default=in_repo('outputs', 'benchmarks', 'vectorfind_speed.csv'))
    parser.add_argument('--sample-only', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--sample-dir', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sample_only:
        return sample_only(args)
    table, ratios = run(args)
    with atomic_write(args.out) as tmp:
        table.to_csv(tmp, index=False)
    print(table.to_string(index=False))
    print(f"(a) {ratios['sampling_speedup']:.1f}x the original structure, "
          f"{ratios['share_of_bare_forward']:.0%} of the bare forward pass at its best batch size;"
          f" no loop around that forward pass can beat {ratios['sampling_ceiling']:.1f}x")
    print(f"(b) {ratios['test_speedup']:.1f}x the original structure; the generator alone,"
          f" without any scoring, would be {ratios['test_ceiling']:.1f}x")


if __name__ == '__main__':
    main()
