"""Pick a run's characters: the tested codes that steer best, cached for live use.

    python -m characters.cast outputs/vectorfind_v6 --n 4

Of the run's first `--candidates` tested codes, each is made a character
(`characters.character.build`: her directions, score curves, reach and lattice, seconds each),
and `--n` are kept: those that passed the run's test first, then by how many of eyes, mouth and
pose reach from the world's 10th to its 90th percentile, then by the narrowest of the three
reaches (as a share of that percentile range), then, where `python -m judge.report` has judged
the run, by the least identity drift. Writes RUN/characters/:

* character_00.npz, ...: one file per character, in rank order (`CharacterFile`); read back on
  any machine that has the run (`Cast.from_run(RUN).character(k)`);
* characters.csv: case, group, reach per property, the ranking's figures, judged drift;
* contact_sheet.png: per character, her own face, then each property at the world's 10th and
  90th percentile (or as near as her reach allows), the others at her own values;
* candidates/: every candidate built so far, so that a killed pick resumes where it stopped;
* config.json: the settings of the pick.
"""
import argparse
import glob
import os

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from characters.character import Character, CharacterFile, build
from common.cli import add_debug_flag, parse_checked, prepare_output_dir, run_command
from common.files import write_csv, write_json
from common.images import contact_sheet, save_png, to_uint8
from common.validation import check_count, check_device
from property_score_cnn import load_property_score_cnn
from scores.leakage import stored_spread
from scores.properties import CORE_COLUMNS, CORE_PROPERTIES, PROPERTY_NAMES
from scores.table import read_score_table
from vectorfind.latents import inference_precision, mapped
from vectorfind.steering import Steering, read_tested_codes

FOLDER = 'characters'
PERCENTILES = (10, 50, 90)


def character_path(out_dir, k):
    return os.path.join(out_dir, FOLDER, f'character_{k:02d}.npz')


class Cast:
    """A run's models as its characters use them: the run's edit rule (`Steering.from_run`), its
    Property Score CNN, its score spread (the unit of every tolerance) and its score table (the
    world's percentiles)."""

    def __init__(self, steering, cnn, spread, table_path, out_dir=None):
        self.steering, self.cnn, self.spread, self.out_dir = steering, cnn.eval(), np.asarray(spread), out_dir
        self.table_path = table_path
        self._percentiles = None

    editor = property(lambda self: self.steering.editor)
    device = property(lambda self: self.steering.device)
    precision = property(lambda self: self.steering.precision)

    @classmethod
    def from_run(cls, out_dir, device='cpu'):
        steering = Steering.from_run(out_dir, device)
        cnn = load_property_score_cnn(steering.record['cnn']).to(device)
        return cls(steering, cnn, stored_spread(out_dir), steering.record['scores_table'], out_dir)

    def percentiles(self):
        """[3 percentiles, 3 properties]: the world's 10th, 50th and 90th percentile of eyes, mouth
        and pose, z-scores of the run's score table."""
        if self._percentiles is None:
            table = read_score_table(self.table_path, check_images=False)
            self._percentiles = np.percentile(
                table[[f'{prop}_score' for prop in CORE_PROPERTIES]].to_numpy(), PERCENTILES, axis=0)
        return self._percentiles

    @torch.inference_mode()
    def scored(self, character, unknowns, batch_size, score=True):
        """(faces [N, H, W, 3] uint8, CNN scores [N, 7] or None) of `character` moved by the
        weights and correction amounts of each row of `unknowns` [N, 7]."""
        stored, unknowns = character.stored, np.asarray(unknowns)
        with inference_precision(self.device, self.precision):
            images = self.editor.render(stored.code, unknowns[:, :len(CORE_PROPERTIES)], stored.basis, batch_size,
                                        character.shifts(unknowns))
            if not score:
                return to_uint8(images), None
            scores = torch.cat([self.cnn.score(images[i:i + batch_size], PROPERTY_NAMES).float().cpu()
                                for i in range(0, len(images), batch_size)])
        return to_uint8(images), scores.numpy().astype(np.float64)

    def build(self, code, case=-1, group=None):
        """A new character of `code` [code_dim] (`characters.character.build`)."""
        return build(self, code, case, group)

    def character(self, k):
        """The run's character k, as `python -m characters.cast` picked it."""
        count = len(glob.glob(os.path.join(self.out_dir or '', FOLDER, 'character_*.npz')))
        if not count:
            raise FileNotFoundError(f'{self.out_dir} has no characters: pick them first with'
                                    f' `python -m characters.cast {self.out_dir}`')
        if not 0 <= k < count:
            raise ValueError(f'character {k} does not exist: {self.out_dir}/{FOLDER} holds'
                             f' characters 0 to {count - 1}')
        return self.bound(CharacterFile.load(character_path(self.out_dir, k)), character_path(self.out_dir, k))

    def bound(self, stored, source):
        """`stored` bound to these models, refused when this run's generator maps her code elsewhere."""
        with torch.inference_mode():
            w = mapped(self.steering.generator, stored.code[None], self.device)[0].float().cpu().numpy()
        if w.shape != stored.w.shape or not np.allclose(w, stored.w, atol=1e-3):
            raise ValueError(f'{source}: this character was made with another generator than'
                             f' {self.out_dir}\'s (her code maps elsewhere)')
        return Character(stored, self)


def judged_drift(out_dir):
    """{case: mean identity drift over eyes, mouth and pose} where `python -m judge.report` has
    judged the run, else {}."""
    path = os.path.join(out_dir, 'judged', 'codes.csv')
    if not os.path.exists(path):
        return {}
    return pd.read_csv(path).groupby('case')['identity_drift'].mean().to_dict()


def ranking(cast, character, drift):
    """A character's figures for the pick: how many properties reach from the world's 10th to
    its 90th percentile, the narrowest reach as a share of that range, the judged identity drift."""
    p = cast.percentiles()
    reach = character.stored.reach
    return {'covered': len(CORE_PROPERTIES) - len(character.outside_reach(p[[0, -1]])),
            'narrowest_share': float(np.min((reach[:, 1] - reach[:, 0]) / (p[-1] - p[0]))),
            'judged_identity_drift': drift}


def pick(cast, n, count):
    """Pick `n` characters of the cast's run from its first `count` tested codes (module
    docstring) -> the characters.csv table."""
    out_dir = cast.out_dir
    results, codes = read_tested_codes(out_dir, cast.steering.code_dim)
    if not len(codes):
        raise ValueError(f'{out_dir}: its test holds no codes to pick from')
    folder, drift = os.path.join(out_dir, FOLDER), judged_drift(out_dir)
    rows, built = [], {}
    for case in tqdm(range(min(count, len(codes))), desc='building characters', unit='character'):
        path = os.path.join(folder, 'candidates', f'case_{case:04d}.npz')
        if os.path.exists(path):  # built before the pick was stopped
            character = cast.bound(CharacterFile.load(path), path)
        else:
            character = cast.build(codes[case], case)
            character.stored.save(path)
        built[case] = character
        rows.append({'case': case, 'group': character.stored.group, 'passed': bool(results.passed[case]),
                     **ranking(cast, character, drift.get(case, np.nan)),
                     **{f'{prop}_{end}': character.stored.reach[k, e] for k, prop in enumerate(CORE_PROPERTIES)
                        for e, end in enumerate(('low', 'high'))}})
    table = pd.DataFrame(rows).sort_values(['passed', 'covered', 'narrowest_share', 'judged_identity_drift'],
                                           ascending=[False, False, False, True], kind='stable').head(n)
    table.insert(0, 'character', range(len(table)))
    for k, case in enumerate(table.case):
        built[case].stored.save(character_path(out_dir, k))
    write_csv(os.path.join(folder, 'characters.csv'), table.round(4))
    save_png(contact_sheet(np.concatenate([sheet_row(cast, built[case]) for case in table.case]),
                           columns=1 + 2 * len(CORE_PROPERTIES)), os.path.join(folder, 'contact_sheet.png'))
    return table


def sheet_row(cast, character):
    """Her own face, then each property at the world's 10th and 90th percentile as near as her
    reach allows, the other two at her own values."""
    neutral = character.neutral[CORE_COLUMNS]
    targets = [neutral]
    for k in range(len(CORE_PROPERTIES)):
        for value in cast.percentiles()[[0, -1], k]:
            target = neutral.copy()
            target[k] = value
            targets.append(target)
    return character.frames(np.array(targets))


def check_arguments(args):
    check_count(args.n, '--n')
    check_count(args.candidates, '--candidates')
    if args.candidates < args.n:
        raise ValueError(f'--candidates {args.candidates} is fewer than --n {args.n}')
    check_device(args.device)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('run', help='a finished VectorFind-v6 run folder (outputs/vectorfind_v6 by default)')
    parser.add_argument('--n', type=int, default=4, help='characters to keep (fewer where fewer are built)')
    parser.add_argument('--candidates', type=int, default=12, help='tested codes to build and rank')
    parser.add_argument('--device', default='cpu')
    add_debug_flag(parser)
    args = parse_checked(parser, argv, check=check_arguments)

    def work():
        cast = Cast.from_run(args.run, args.device)
        prepare_output_dir(os.path.join(args.run, FOLDER), 'run')
        write_json(os.path.join(args.run, FOLDER, 'config.json'), vars(args))
        table = pick(cast, args.n, args.candidates)
        print(table.to_string(index=False))
        print(f'characters written to {os.path.join(args.run, FOLDER)}')
    return run_command(work, argv)


if __name__ == '__main__':
    raise SystemExit(main())
