"""Image generation test: does moving a latent code along the three directions move the three
measured scores, each by itself?

For one code, 50 images: the code plus eyes_w * eyes_dir + mouth_w * mouth_dir + pose_w * pose_dir
over the weight grid below; the Property Score CNN scores them, and per property the correlation
between intended weight and measured score is taken. A code passes when |corr| reaches the
threshold for all three properties (SPEC). Beside it, each property's leakage into the other
six scores (`scores/leakage.py`) is recorded, and with `max_leakage` a code must also keep every
leakage at or under it to pass.
"""
import io
import os

import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageDraw
from tqdm import tqdm

from common import distributed
from common.files import atomic_write
from common.images import to_uint8
from scores.leakage import leakage
from scores.properties import CORE_COLUMNS, CORE_PROPERTIES, PROPERTY_NAMES
from vectorfind.groups import group_names
from vectorfind.latents import TESTING, draw_codes, render_and_score
from vectorfind.local_hold import REACH, held_locally
from vectorfind.spaces import LatentSpace

EYES_WEIGHTS = (-1.2, 1.8)
MOUTH_WEIGHTS = (-2.4, -1.2, 0.0, 1.2, 2.4)
POSE_WEIGHTS = (-1.8, -1.2, -0.6, 0.0, 0.6)
GRID_RANGES = tuple((min(w), max(w)) for w in (EYES_WEIGHTS, MOUTH_WEIGHTS, POSE_WEIGHTS))
THRESHOLDS = {'eyes': 0.75, 'mouth': 0.77, 'pose': 0.80}
SAVE_EVERY = 25
RESULT_COLUMNS = ('case', 'vector_no', 'passed', 'group_name', 'eyes_corr', 'mouth_corr',
                  'pose_corr', 'sum_abs_corr', 'eyes_leakage', 'mouth_leakage', 'pose_leakage')


def weight_grid():
    """[50, 3] (eyes, mouth, pose) weights, in the original's order: mouth, then eyes, then pose."""
    return np.array([(e, m, p) for m in MOUTH_WEIGHTS for e in EYES_WEIGHTS for p in POSE_WEIGHTS],
                    dtype=np.float32)


def correlations(scores):
    """Per property, Pearson r between intended weights and measured scores [50, 3] (eyes, mouth,
    pose; 0 when a score does not vary at all, so it fails rather than propagating NaN)."""
    grid = weight_grid()
    out = {}
    for k, prop in enumerate(CORE_PROPERTIES):
        measured = scores[:, k]
        out[prop] = float(np.corrcoef(grid[:, k], measured)[0, 1]) if measured.std() > 0 else 0.0
    return out


def passes_by_corr(corr):
    """The SPEC's criterion: |corr| at least the threshold of each property."""
    return all(abs(corr[prop]) >= THRESHOLDS[prop] for prop in CORE_PROPERTIES)


def passes(corr, leaks, max_leakage=None):
    """The SPEC's criterion, and with `max_leakage` every property's leakage at most that too."""
    return passes_by_corr(corr) and (max_leakage is None
                                     or all(leaks[prop] <= max_leakage for prop in CORE_PROPERTIES))


@torch.inference_mode()
def score_code_edits(generator, cnn, code, directions, device, batch_size=10, space=LatentSpace()):
    """Scores [50, 7] (all of the CNN's) and the correlations of eyes, mouth and pose with their
    intended weights, for one code's test: the code edited over the grid along `directions`
    [3, dim] in `space`, rendered and scored straight from the generator's float output."""
    edited = space.edit(generator, code, weight_grid(), directions, device)
    scores = torch.cat([cnn.score(space.render(generator, edited[i:i + batch_size], device),
                                  PROPERTY_NAMES).float().cpu()
                        for i in range(0, len(edited), batch_size)]).numpy()
    return scores, correlations(scores[:, CORE_COLUMNS])


def code_directions(generator, directions, group, code, space, device, hold_with=None, reach=REACH):
    """[3, dim]: the eyes, mouth and pose directions of `group` in `directions` {(property,
    group): vector}, held to `code` [code_dim] with the CNN `hold_with` when given, turned by
    `reach` toward each score's rise (`vectorfind/local_hold.py`)."""
    stacked = np.stack([directions[prop, group] for prop in CORE_PROPERTIES])
    if hold_with is None:
        return stacked
    return held_locally(generator, hold_with, code, stacked, GRID_RANGES, space, device, reach)


def annotated_grid(images, scores, columns=10, tile=96):
    """5 x 10 tiles, each captioned with intended weights and measured scores [50, 3] (e/m/p)."""
    grid = weight_grid()
    caption_h = 26
    sheet = Image.new('RGB', (columns * tile, (len(images) // columns) * (tile + caption_h)), 'white')
    draw = ImageDraw.Draw(sheet)
    for i, image in enumerate(images):
        row, col = divmod(i, columns)
        x, y = col * tile, row * (tile + caption_h)
        sheet.paste(Image.fromarray(image).resize((tile, tile), Image.BILINEAR), (x, y))
        draw.text((x + 2, y + tile), 'w ' + ' '.join(f'{v:+.1f}' for v in grid[i]), fill='black')
        draw.text((x + 2, y + tile + 12), 's ' + ' '.join(f'{v:+.1f}' for v in scores[i]), fill='gray')
    return np.asarray(sheet)


class GenerationTest:
    """Tests codes one after another, resuming from `test_result.csv` in `report_dir` unless the
    directions are `fresh` (fitted anew, so that earlier results no longer hold). `score_std` [7]
    is the spread of each CNN score over random samples of the generator, leakage's unit.
    `local_hold`: each code is moved along its group's directions held to it with the test's CNN
    (`vectorfind/local_hold.py`, turned by `hold_reach`) instead of the directions as fitted."""

    def __init__(self, generator, cnn, directions, medians, report_dir, device, seed, batch_size,
                 score_std, fresh=False, max_leakage=None, space=LatentSpace(), local_hold=False,
                 hold_reach=REACH):
        self.generator, self.cnn, self.device, self.seed = generator, cnn, device, seed
        self.space, self.local_hold, self.hold_reach = space, local_hold, hold_reach
        self.batch_size, self.score_std, self.max_leakage = batch_size, score_std, max_leakage
        self.directions, self.medians, self.report_dir = directions, medians, report_dir
        self.code_dim = generator.z_dim + generator.label_dim
        os.makedirs(report_dir, exist_ok=True)
        if fresh and distributed.is_main():
            for name in os.listdir(report_dir):
                if name.startswith('passed_case_'):
                    os.remove(self._path(name))
        self.results, self.codes = ([], []) if fresh else self._load_previous()

    def _path(self, name):
        return os.path.join(self.report_dir, name)

    def _load_previous(self):
        if not os.path.exists(self._path('test_result.csv')):
            return [], []
        results = pd.read_csv(self._path('test_result.csv')).to_dict('records')
        codes = list(pd.read_csv(self._path('latent_codes_all.csv')).to_numpy(np.float32))
        return results[:len(codes)], codes[:len(results)]

    def group_of(self, code):
        scores = render_and_score(self.generator, self.cnn, code[None], self.device, batch_size=1)
        return str(group_names(scores, self.medians)[0])

    def run(self, num_pass, max_tries, codes=None, given_groups=None):
        """Test random codes until `num_pass` passed or `max_tries` were tried, or every given code.

        Under torchrun, each rank tests one of the next codes at a time, and every rank takes the
        results in code order up to where a single process would have stopped, so the results
        are a single process's; a code tested beyond that point is dropped. Rank 0 writes them.

        The reports are rewritten every SAVE_EVERY codes (rewriting them after each code would cost
        more than the tests as they grow), at the end, and when interrupted; a run killed outright
        redoes at most the codes since the last save, which give the same results again.
        """
        total = len(codes) if codes is not None else max_tries
        here = distributed.world()

        def more():
            return len(self.results) < total and (codes is not None or self.passed() < num_pass)

        def test_case(case):
            code = codes[case] if codes is not None else draw_codes(1, self.code_dim, self.seed, TESTING, case)[0]
            group = given_groups[case] if given_groups is not None else self.group_of(code)
            return self.test(case, code, group)

        progress = tqdm(total=total, initial=len(self.results), desc='generation test', unit='code',
                        disable=not here.main)
        try:
            while more():
                cases = range(len(self.results), min(len(self.results) + here.size, total))
                outcomes = distributed.together(
                    lambda: test_case(cases[here.rank]) if here.rank < len(cases) else None, gather=True)
                for outcome in outcomes[:len(cases)]:
                    if not more():
                        break
                    self.take(*outcome)
                    progress.update(1)
                    progress.set_postfix(passed=self.passed())
                    if len(self.results) % SAVE_EVERY == 0:
                        self.save()
        finally:
            progress.close()
            if self.results:
                self.save()
        return self.statistics()

    def test(self, case, code, group):
        """(result row, code, the passing grid as PNG bytes or None) of one code's test."""
        directions = code_directions(self.generator, self.directions, group, code, self.space, self.device,
                                     self.cnn if self.local_hold else None, self.hold_reach)
        scores, corr = score_code_edits(self.generator, self.cnn, code, directions, self.device,
                                        self.batch_size, self.space)
        leaks = {prop: worst for prop, (worst, _) in
                 leakage(weight_grid(), scores, self.score_std).items()}
        passed = passes(corr, leaks, self.max_leakage)
        grid = None
        if passed:
            edited = self.space.edit(self.generator, code, weight_grid(), directions, self.device)
            images = to_uint8(self.space.render(self.generator, edited, self.device))
            grid = io.BytesIO()
            Image.fromarray(annotated_grid(images, scores[:, CORE_COLUMNS])).save(grid, format='PNG')
            grid = grid.getvalue()
        row = {'case': case, 'vector_no': 0, 'passed': 'O' if passed else 'X',
               'group_name': group, **{f'{p}_corr': round(corr[p], 4) for p in CORE_PROPERTIES},
               'sum_abs_corr': round(sum(abs(corr[p]) for p in CORE_PROPERTIES), 4),
               **{f'{p}_leakage': round(leaks[p], 4) for p in CORE_PROPERTIES}}
        return row, code, grid

    def take(self, row, code, grid):
        """One tested code into the results, its grid written when it passed."""
        if grid is not None and distributed.is_main():
            path = self._path(f'passed_case_{row["case"]:04d}.png')
            with atomic_write(path) as tmp, open(tmp, 'wb') as file:
                file.write(grid)
        self.results.append(row)
        self.codes.append(code)

    def passed(self):
        return sum(row['passed'] == 'O' for row in self.results)

    def save(self):
        if not distributed.is_main():
            return
        codes = np.stack(self.codes)
        z_dim = self.generator.z_dim
        tables = {'test_result.csv': pd.DataFrame(self.results, columns=RESULT_COLUMNS),
                  'latent_codes_all.csv': pd.DataFrame(codes),
                  'latent_codes_part1.csv': pd.DataFrame(codes[:, :z_dim]),
                  'latent_codes_part2.csv': pd.DataFrame(codes[:, z_dim:]),
                  'test_statistics.csv': self.statistics()}
        # Codes first: a result row is only trusted on resume when its code was saved too.
        for name in ('latent_codes_all.csv', 'latent_codes_part1.csv', 'latent_codes_part2.csv',
                     'test_result.csv', 'test_statistics.csv'):
            with atomic_write(self._path(name)) as tmp:
                tables[name].to_csv(tmp, index=False)

    def statistics(self):
        results = pd.DataFrame(self.results, columns=RESULT_COLUMNS)
        row = {f'{p}_corr_mean': results[f'{p}_corr'].mean() for p in CORE_PROPERTIES}
        row.update({f'{p}_abs_corr_mean': results[f'{p}_corr'].abs().mean() for p in CORE_PROPERTIES})
        row.update({'tested': len(results), 'passed': self.passed(),
                    'passed_ratio': self.passed() / len(results) if len(results) else float('nan')})
        # After the SPEC's columns: leakage, and how many passed by correlation alone.
        row.update({f'{p}_leakage_median': results[f'{p}_leakage'].median() for p in CORE_PROPERTIES})
        row['passed_by_corr'] = sum(passes_by_corr({p: result[f'{p}_corr'] for p in CORE_PROPERTIES})
                                    for result in self.results)
        return pd.DataFrame([row]).round(4)
