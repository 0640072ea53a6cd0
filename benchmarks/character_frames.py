"""What a live character costs: frames per second of her per-frame path, and seconds to pick and
cache her.

    python -m benchmarks.character_frames --run outputs/vectorfind_v6      # 64 px, the default run
    python -m benchmarks.character_frames --published                      # 256 px stand-ins (a GPU)

With --run: the run's character 0 (`python -m characters.cast` first) plays the timeline
(characters/talk.json by default) at each --batch-size, frames from her cache alone
(`Character.frames`: the lattice's interpolation, then one synthesis a frame), median of
--repeats after one warm-up; and one character is built afresh from the run's first tested code
(`characters.character.build`: directions, curves, reach and lattice), timed.

With --published: the same per-frame path on the published v6 generator's shapes (256 px, w 512),
its weights the deterministic stand-ins of `common/parity_weights.py`, directions and lattice
random: what a frame costs there, not what it looks like. Appends one row per measurement to
--out (CSV).
"""
import argparse
import os
import time
from datetime import date

import numpy as np
import pandas as pd
import torch

from characters.cast import Cast
from characters.character import LATTICE, STEERED, SWEEP_POINTS, UNKNOWNS, UNSTEERED, Character, CharacterFile
from characters.timeline import read_timeline
from common.machine import device_name
from common.parity_weights import parity_state_dict
from common.paths import in_repo
from property_score_cnn import PropertyScoreCNN
from scores.properties import CORE_PROPERTIES, PROPERTY_NAMES
from stylegan import convert_v1_to_v6, load_generator
from vectorfind.spaces import LatentSpace
from vectorfind.steering import ALL_SAMPLES, Steering, read_tested_codes


def frames_per_second(character, values, batch_size, repeats):
    character.frames(values[:batch_size], batch_size)  # warm-up: allocations, oneDNN's kernels
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        character.frames(values, batch_size)
        if character.cast.device.startswith('cuda'):
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - started)
    return len(values) / float(np.median(seconds))


def published_character(device):
    """A character on the published v6 generator's shapes with stand-in weights and random
    directions, corrections and lattice."""
    generator = convert_v1_to_v6(load_generator(parity_state_dict('stylegan_gen_fine_tuned_v1.pth'), 'v1'))
    space, rng = LatentSpace('w', {'pose': (0, 6)}), np.random.default_rng(0)
    dim = space.dim(generator)

    def unit(n):
        vectors = rng.standard_normal((n, dim))
        return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    directions = dict(zip(((prop, ALL_SAMPLES) for prop in CORE_PROPERTIES), unit(STEERED)))
    cast = Cast(Steering(generator, directions, space, device=device), PropertyScoreCNN(), np.ones(len(PROPERTY_NAMES)), None)
    code = rng.standard_normal(generator.z_dim + generator.label_dim).astype(np.float32)
    stored = CharacterFile(code, np.zeros(dim, np.float32), ALL_SAMPLES, -1, unit(STEERED), unit(len(UNSTEERED)),
                           np.linspace(-1, 1, SWEEP_POINTS),
                           np.cumsum(np.ones((STEERED, SWEEP_POINTS, len(PROPERTY_NAMES))), axis=1),
                           np.array([[-1.0, 1.0]] * STEERED),
                           rng.uniform(-1, 1, (LATTICE,) * STEERED + (UNKNOWNS,)))
    return Character(stored, cast)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--run', help='a VectorFind-v6 run folder with characters')
    parser.add_argument('--published', action='store_true', help='the published 256 px shapes, stand-in weights')
    parser.add_argument('--timeline', default=in_repo('characters', 'talk.json'))
    parser.add_argument('--frames', type=int, help='the first this many frames of the timeline (default: all)')
    parser.add_argument('--batch-size', type=int, nargs='+', default=[1, 8, 16, 32])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--out', default=in_repo('outputs', 'benchmarks', 'character_frames.csv'))
    args = parser.parse_args(argv)
    if bool(args.run) == args.published:
        parser.error('name a --run, or ask for --published')
    torch.set_grad_enabled(False)
    values = read_timeline(args.timeline).values()[:args.frames]
    base = {'date': date.today().isoformat(), 'device': args.device, 'machine': device_name(args.device),
            'threads': torch.get_num_threads(), 'frames': len(values)}
    rows = []
    if args.run:
        cast = Cast.from_run(args.run, args.device)
        character, shape = cast.character(0), f'run {args.run}'
        code = read_tested_codes(args.run, cast.steering.code_dim)[1][0]
        started = time.perf_counter()
        with torch.enable_grad():
            cast.build(code)
        rows.append({**base, 'shape': shape, 'measure': 'pick and cache one character (s)',
                     'value': round(time.perf_counter() - started, 2)})
    else:
        character, shape = published_character(args.device), 'published v6 (256 px), stand-in weights'
    for batch_size in args.batch_size:
        rows.append({**base, 'shape': shape, 'measure': f'frames per second, batch {batch_size}',
                     'value': round(frames_per_second(character, values, batch_size, args.repeats), 1)})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    table.to_csv(args.out, mode='a', header=not os.path.exists(args.out), index=False)


if __name__ == '__main__':
    main()
