"""Build the default face world on disk: images, exact label maps, factors and score tables.

    python -m data.build_default_world --n 10000 --seed 0 --out-dir outputs/world

Writes, under --out-dir (default: outputs/world in the repository):
    images/NNNNNN.png         256x256 RGB portraits
    label_maps/NNNNNN.png     224x224 label maps in the 11 classes
    factors.csv               every factor each face was drawn from
    raw_scores.csv            the algorithm-v2 raw scores of each label map
    all_scores_v2.csv         the normalised all_scores table (img_path relative to --out-dir)

Faces are built in blocks; a block is finished when its file in blocks/ exists, so an
interrupted build re-run with the same arguments only builds the blocks still missing.
"""
import argparse
import json
import os
from concurrent.futures import ProcessPoolExecutor

import cv2
import pandas as pd
from tqdm import tqdm

from common.cli import add_debug_flag, parse_checked, prepare_output_dir, run_command
from common.files import atomic_write, sync_all
from common.paths import in_repo
from scores.properties import PROPERTY_NAMES
from common.validation import check_count, check_writable_dir
from data.face_world import face_rng, render_face, sample_factors
from segmentation.property_scores import image_at_map_size, raw_property_scores
from scores.table import all_scores_table, write_score_table

BLOCK_SIZE = 250


def image_path(img_no):
    return f'images/{img_no:06d}.png'


def label_map_path(img_no):
    return f'label_maps/{img_no:06d}.png'


def build_block(out, seed, start, stop):
    """Render, save and score faces start .. stop - 1; the block's CSV is written last."""
    rows = []
    for img_no in range(start, stop):
        factors = sample_factors(face_rng(seed, img_no))
        image_rgb, labels = render_face(factors)
        image_bgr = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
        _write_png(os.path.join(out, image_path(img_no)), image_bgr)
        _write_png(os.path.join(out, label_map_path(img_no)), labels)
        scores = raw_property_scores(labels, image_at_map_size(image_bgr))
        rows.append({'img_no': img_no, 'img_path': image_path(img_no), **scores, **factors})
    sync_all()  # the block's images reach the disk before the file that marks the block done
    with atomic_write(_block_path(out, start)) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    return stop - start


def build_world(n, seed, out, workers=2, block_size=BLOCK_SIZE):
    """Build (or finish building) a world of n faces; returns the all_scores table."""
    if n < 2:
        raise ValueError(f'n must be at least 2 (scores are normalised over the world), got {n}')
    _check_manifest(out, seed, block_size)
    blocks = [(start, min(start + block_size, n)) for start in range(0, n, block_size)]
    todo = [b for b in blocks if not os.path.exists(_block_path(out, b[0]))]
    done = n - sum(stop - start for start, stop in todo)
    with tqdm(total=n, initial=done, unit='face', desc='face world') as progress:
        if workers > 1 and len(todo) > 1:
            with ProcessPoolExecutor(workers) as pool:
                for count in pool.map(build_block, *zip(*[(out, seed, a, b) for a, b in todo])):
                    progress.update(count)
        else:
            for start, stop in todo:
                progress.update(build_block(out, seed, start, stop))
    return _write_tables(out, blocks)


def _write_tables(out, blocks):
    world = pd.concat([_read_block(out, start, stop) for start, stop in blocks], ignore_index=True)
    score_and_id = ['img_no', 'img_path', *PROPERTY_NAMES]
    factor_columns = [c for c in world.columns if c not in score_and_id]
    with atomic_write(os.path.join(out, 'factors.csv')) as tmp:
        world[['img_no', *factor_columns]].to_csv(tmp, index=False)
    with atomic_write(os.path.join(out, 'raw_scores.csv')) as tmp:
        world[score_and_id].to_csv(tmp, index=False)
    table = all_scores_table(world.img_no, world.img_path, world[list(PROPERTY_NAMES)])
    write_score_table(table, os.path.join(out, 'all_scores_v2.csv'))
    return table


def _read_block(out, start, stop):
    """A finished block's rows; a damaged block file is named, with what to do."""
    path = _block_path(out, start)
    try:
        block = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ValueError(f'{path}: a damaged block file ({str(error).strip().splitlines()[0]});'
                         f' delete it and re-run the same command to rebuild faces {start}..{stop - 1}') from None
    found = list(block['img_no']) if 'img_no' in block else []
    if found != list(range(start, stop)):
        held = f'faces {found[0]}..{found[-1]}' if found else 'no faces'
        raise ValueError(f'{path}: the block holds {held}, expected {start}..{stop - 1} (damaged, or'
                         f' built with another --n); delete it and re-run the same command to'
                         f' rebuild it')
    return block


def _check_manifest(out, seed, block_size):
    """Refuse to finish a world begun with another seed or block size: the blocks would not match."""
    path = os.path.join(out, 'world.json')
    manifest = {'seed': int(seed), 'block_size': int(block_size)}
    if os.path.exists(path):
        try:
            with open(path) as f:
                found = json.load(f)
        except (ValueError, UnicodeDecodeError) as error:
            raise ValueError(f'{path}: not a readable world manifest ({error}); delete the folder {out}'
                             f' to build the world anew') from None
        if found != manifest:
            raise ValueError(f'{out} holds a world built with {found}, not {manifest}; '
                             f'use another --out or the same arguments')
        return
    with atomic_write(path) as tmp, open(tmp, 'w') as f:
        json.dump(manifest, f)


def _block_path(out, start):
    return os.path.join(out, 'blocks', f'{start:06d}.csv')


def _write_png(path, array):
    with atomic_write(path, durable=False) as tmp:
        if not cv2.imwrite(tmp, array):
            raise OSError(f'could not write {path}')


def check_arguments(args):
    """The arguments, checked before any face is drawn (a usage error if not)."""
    check_count(args.n, '--n', minimum=2)
    check_count(args.seed, '--seed', minimum=0)
    check_count(args.workers, '--workers')
    check_writable_dir(args.out_dir, '--out-dir')


def run(args):
    for folder in ('', 'images', 'label_maps', 'blocks'):
        prepare_output_dir(os.path.join(args.out_dir, folder), '--out-dir')
    table = build_world(args.n, args.seed, args.out_dir, args.workers)
    print(f'wrote {len(table)} faces to {args.out_dir}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--n', type=int, default=10000, help='number of faces (at least 2)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the world (0 or more)')
    parser.add_argument('--out-dir', '--out', default=in_repo('outputs', 'world'), help='output folder')
    parser.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1), help='processes')
    add_debug_flag(parser)
    args = parse_checked(parser, argv, check_arguments)
    run_command(lambda: run(args), argv,
                interrupted='re-run the same command to build only the blocks still missing')


if __name__ == '__main__':
    main()
