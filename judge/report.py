"""Judged figures of a finished run, VectorFind or FineTune-v5: its edits read by the world
reader, which no fitting, holding, training or choice of the run ever saw.

    python -m judge.report outputs/vectorfind_v6 --codes 30
    python -m judge.report outputs/finetune_v5/improved             # 20 fixed z

The kind of run is told by its config.json (FineTune-v5 records `batches_per_epoch`). The figures
and their units are `judge/figures.py`'s, the same for both kinds.

A VectorFind run: for the first --codes tested codes, each moved by the run's own edit rule
(`Steering.from_run`: its directions, space, local hold), the report reads two sets of faces:

* the SPEC's 50-image weight grid, the very faces the run's test scored with the Property Score
  CNN: per property, the judged factor's correlation with the intended weight, own change,
  leakage, attribute dependency and identity drift, and the re-scoring matrix; the CNN's
  correlation and leakage of the same codes (the run's test_result.csv) stand beside them.
* each property alone swept over its grid range (`SWEEP` weights, 0 among them): attribute
  dependency (mean and largest change of the other judged properties from the unedited face, in
  spreads) and identity drift against edit strength, as curves.

A FineTune-v5 run: `judge/finetune_report.py` (each property's label swept for fixed z, before and
after fine-tuning, the CNN's figures of the same faces beside the judge's).

Two references, by the same instrument: clean single-factor edits of world faces over each
property factor's whole range (the renderer's own, identity untouched: the floor of drift and
dependency), and realism, the Frechet distance between the reader's features of faces and of
world renders, for edited faces beside unedited generated ones (the same number of each).

Writes RUN/judged/: codes.csv (per code and property), summary.csv (per property, with the
floor), rescoring_matrix.csv, curves.csv and curves.png, realism.csv.
"""
import argparse
import json
import os

import numpy as np
import torch
from tqdm import tqdm

from common.cli import add_debug_flag, parse_checked, run_command
from common.images import to_uint8
from common.validation import check_count, check_device
# READER, Judge and readable_identity are this module's too, for those who judge faces themselves.
from judge.figures import (CLEAN_FACES, READER, SWEEP, WORLD_FACES, WORLD_SEED, Judge,  # noqa: F401
                           clean_world_edits, judged_edit, matrix_rows, readable_identity, realism_rows,
                           sweep_curve, world_features, write_report)
from judge import finetune_report
from judge.reader import load_world_reader
from scores.properties import CORE_PROPERTIES
from vectorfind.generation_testing import GRID_RANGES, weight_grid
from vectorfind.latents import TESTING, draw_codes, images, inference_precision
from vectorfind.steering import Steering, read_tested_codes

VECTORFIND, FINETUNE = 'VectorFind', 'FineTune-v5'
DEFAULT_CODES = {VECTORFIND: 30, FINETUNE: finetune_report.FIXED_Z}


def run_kind(out_dir):
    """VECTORFIND or FINETUNE, from the run's config.json; a folder that is not a run fails naming
    what it lacks."""
    if not os.path.isdir(out_dir):
        raise FileNotFoundError(f'{out_dir} is not a folder: expected the output folder of a VectorFind run'
                                f' (outputs/vectorfind_v6) or a FineTune-v5 run (outputs/finetune_v5/<preset>)')
    path = os.path.join(out_dir, 'config.json')
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path} not found: {out_dir} is not the output folder of a VectorFind or'
                                f' FineTune-v5 run, which holds the config.json it was made with')
    with open(path) as f:
        config = json.load(f)
    if not isinstance(config, dict):
        raise ValueError(f'{path}: expected the settings of a run (a JSON object)')
    return FINETUNE if 'batches_per_epoch' in config else VECTORFIND


def sweep_weights(k):
    return np.union1d(np.linspace(*GRID_RANGES[k], SWEEP), [0.0])


def code_parts(judge, steering, code, case):
    """One tested code's rows: judged figures on the SPEC grid, re-scoring rows, sweep curves, and
    its grid faces."""
    with inference_precision(steering.device, steering.precision):
        faces = to_uint8(steering.editor.render(code, weight_grid(), steering.code_directions(code),
                                                batch_size=len(weight_grid())))
    figures, changes = judged_edit(judge, weight_grid(), judge.encodings(faces))
    curves = [row for k, prop in enumerate(CORE_PROPERTIES)
              for row in sweep_curve(judge, prop, sweep_weights(k),
                                     judge.encodings(steering.strip(code, prop, sweep_weights(k))), case=case)]
    return figures, matrix_rows(changes, case=case), curves, faces


def drawn(faces, n):
    """`n` of `faces`, drawn without replacement with WORLD_SEED."""
    return faces[np.random.default_rng(WORLD_SEED).choice(len(faces), n, replace=False)]


def unedited_faces(steering, n):
    """Faces of `n` fresh random codes (WORLD_SEED, the testing block), truncation off."""
    codes = draw_codes(n, steering.code_dim, WORLD_SEED, TESTING, 0)
    with torch.inference_mode(), inference_precision(steering.device, steering.precision):
        return np.concatenate([to_uint8(images(steering.generator, codes[i:i + 50], steering.device))
                               for i in range(0, n, 50)])


def vectorfind_report(out_dir, judge, codes, device, references):
    """The judged tables of the VectorFind run in `out_dir` (module docstring); `references`:
    (world faces for realism, world faces per factor of the floor) -> the summary DataFrame."""
    steering = Steering.from_run(out_dir, device)
    results, tested = read_tested_codes(out_dir, steering.code_dim)
    if not len(tested):
        raise ValueError(f'{out_dir}: no tested codes to judge')
    parts = {'codes': [], 'matrix': [], 'curves': []}
    edited = []
    for case, code in enumerate(tqdm(tested[:codes], desc='judging codes', unit='code')):
        figures, matrix, curves, faces = code_parts(judge, steering, code, case)
        cnn = results.iloc[case]
        parts['codes'] += [{'case': case, 'property': prop, **figures[prop], 'cnn_corr': cnn[f'{prop}_corr'],
                            'cnn_leakage': cnn[f'{prop}_leakage']} for prop in CORE_PROPERTIES]
        parts['matrix'] += matrix
        parts['curves'] += curves
        edited.append(faces)
    edited = np.concatenate(edited)
    n = min(references[0], len(edited))
    parts['realism'] = realism_rows(judge, world_features(judge, n), [
        ({'faces': 'unedited generated'}, unedited_faces(steering, n)),
        ({'faces': 'edited (SPEC grid)'}, drawn(edited, n))])
    return write_report(os.path.join(out_dir, 'judged'), parts, clean_world_edits(judge, references[1]))


def report(out_dir, codes=None, reader_path=READER, device='cpu'):
    """Every judged table of the run in `out_dir`, a VectorFind or a FineTune-v5 one (module
    docstring) -> the summary DataFrame. `codes`: tested codes (VectorFind) or fixed z
    (FineTune-v5), by default DEFAULT_CODES of the kind."""
    kind = run_kind(out_dir)
    codes = DEFAULT_CODES[kind] if codes is None else check_count(codes, 'codes')
    judge = Judge(load_world_reader(reader_path, device), readable_identity(reader_path))
    references = (WORLD_FACES, CLEAN_FACES)
    if kind == FINETUNE:
        return finetune_report.report(out_dir, judge, codes, device, references)
    return vectorfind_report(out_dir, judge, codes, device, references)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('run', help='a VectorFind or FineTune-v5 run folder')
    parser.add_argument('--codes', type=int, default=None,
                        help=f'how many of a VectorFind run\'s tested codes (default {DEFAULT_CODES[VECTORFIND]}),'
                             f' or fixed z of a FineTune-v5 run (default {DEFAULT_CODES[FINETUNE]})')
    parser.add_argument('--reader', default=READER, help='the world reader (default: the committed one)')
    parser.add_argument('--device', default='cpu')
    add_debug_flag(parser)
    args = parse_checked(parser, argv, lambda a: (a.codes is None or check_count(a.codes, '--codes'),
                                                  check_device(a.device)))

    def work():
        summary = report(args.run, args.codes, args.reader, args.device)
        print(summary.round(3).to_string(index=False))
    run_command(work, argv)


if __name__ == '__main__':
    main()
