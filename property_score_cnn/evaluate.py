"""How well a trained Property Score CNN measures the algorithm-v2 scores, on faces it never saw.

    python -m property_score_cnn.evaluate --cnn models/default/property_score_cnn.pth

Renders --n fresh faces of the face world with --seed (the default world is seed 0, so the default
999 shares no face with it), computes the raw algorithm-v2 scores of their exact label maps, and
scores the images with the CNN, seen at --resolution as in training (`scoring.cnn_view`). Reports
the Pearson r between CNN output and raw score per property: r does not change under the
normalisation, so the CNN's z-scores compare with raw values directly. Exit status 0 whether the
targets are met or not; the table says which are.
"""
import argparse
import os

import pandas as pd

from common.cli import add_debug_flag, parse_checked, prepare_output_file, run_command
from common.files import write_json
from scores.properties import PROPERTY_NAMES
from common.validation import InputError, check_count, check_writable_file
from data.face_world import render_faces
from data.factor_scores import factor_coupling, raw_scores_of_faces
from property_score_cnn.model import load_property_score_cnn, score_images
from property_score_cnn.scoring import check_resolution, cnn_view, pearson_per_column

# The core properties steer the generator and need the tighter agreement.
TARGET_R = {'eyes': 0.95, 'mouth': 0.95, 'pose': 0.95, 'hair_color': 0.9, 'hair_length': 0.9,
            'background_mean': 0.9, 'background_std': 0.9}


def evaluate(cnn_path, n, seed, resolution, batch_size=64):
    """Per property: Pearson r of CNN output vs raw score, its target and whether it is met."""
    if n < 3:
        raise ValueError(f'--n must be at least 3 for a correlation, got {n}')
    model = load_property_score_cnn(cnn_path)
    images, label_maps, _ = render_faces(n, seed)
    raw = raw_scores_of_faces(images, label_maps).loc[:, list(PROPERTY_NAMES)].to_numpy()
    predicted = score_images(model, cnn_view(images, resolution), batch_size=batch_size)
    correlations = pearson_per_column(predicted, raw)
    return [{'property': name, 'pearson_r': round(float(r), 4), 'target': TARGET_R[name],
             'passed': bool(r >= TARGET_R[name])} for name, r in zip(PROPERTY_NAMES, correlations)]


def coupling(cnn_path, n, seed, resolution, batch_size=64):
    """{'label_maps': ..., 'cnn': ...}: `data.factor_scores.factor_coupling` of the exact label-map
    scores and of the CNN's scores of the same n fresh faces: whether the world, or the CNN's
    measurement of it, ties one property to another's factor."""
    model = load_property_score_cnn(cnn_path)
    images, label_maps, factors = render_faces(n, seed)
    raw = raw_scores_of_faces(images, label_maps).loc[:, list(PROPERTY_NAMES)]
    measured = pd.DataFrame(score_images(model, cnn_view(images, resolution), batch_size=batch_size),
                            columns=list(PROPERTY_NAMES))
    return {'label_maps': factor_coupling(factors, raw), 'cnn': factor_coupling(factors, measured)}


def print_table(rows):
    print(f'{"property":16s} {"pearson r":>9s} {"target":>7s}  result')
    for row in rows:
        print(f'{row["property"]:16s} {row["pearson_r"]:9.4f} {row["target"]:7.2f}'
              f'  {"pass" if row["passed"] else "FAIL"}')
    print(f'{sum(row["passed"] for row in rows)} of {len(rows)} properties meet their target')


def check_arguments(args):
    """The arguments that can be checked before the CNN is read (a usage error if not)."""
    check_count(args.n, '--n', minimum=3)
    check_count(args.seed, '--seed', minimum=0)
    check_count(args.resolution, '--resolution', minimum=0)
    try:
        check_resolution(args.resolution)
    except ValueError as error:
        raise InputError(f'--{error}') from None
    check_count(args.batch_size, '--batch-size')
    check_writable_file(output_path(args), '--out')


def output_path(args):
    return args.out or f'{os.path.splitext(args.cnn)[0]}_evaluation.json'


def run(args):
    out = prepare_output_file(output_path(args), '--out')
    rows = evaluate(args.cnn, args.n, args.seed, args.resolution, args.batch_size)
    print_table(rows)
    record = {'cnn': args.cnn, 'n': args.n, 'seed': args.seed, 'resolution': args.resolution,
              'properties': rows}
    if args.coupling:
        tables = coupling(args.cnn, args.n, args.seed, args.resolution, args.batch_size)
        for name, table in tables.items():
            print(f'\nstandardised coefficients of each score ({name}) on the factors:')
            print(table.round(3).to_string())
        record['coupling'] = {name: table.round(4).to_dict() for name, table in tables.items()}
    write_json(out, record)
    print(f'wrote {out}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--cnn', required=True, help='a Property Score CNN file')
    parser.add_argument('--n', type=int, default=1000, help='fresh faces to render (at least 3)')
    parser.add_argument('--seed', type=int, default=999, help='world seed of the fresh faces')
    parser.add_argument('--resolution', type=int, default=64,
                        help='resolution the CNN sees the faces at (as in training); 0 = off')
    parser.add_argument('--batch-size', type=int, default=64, help='faces scored at once')
    parser.add_argument('--out', default=None,
                        help='result JSON; default <cnn stem>_evaluation.json next to the CNN')
    parser.add_argument('--coupling', action='store_true',
                        help='also fit every score on every factor of the faces (label maps and'
                             ' CNN): does one property follow another\'s factor?')
    add_debug_flag(parser)
    args = parse_checked(parser, argv, check_arguments)
    run_command(lambda: run(args), argv)


if __name__ == '__main__':
    main()
