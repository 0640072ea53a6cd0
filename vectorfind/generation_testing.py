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
from vectorfind.latents import TESTING, draw_codes

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
def score_code_edits(editor, cnn, code, directions, batch_size=10):
    """Scores [50, 7] (all of the CNN's) and the correlations of eyes, mouth and pose with their
    intended weights, for one code's test: the code edited over the grid along `directions`
    [3, dim] by `editor` (`vectorfind.spaces.CodeEditor`), rendered and scored straight from the
    generator's float output."""
    images = editor.render(code, weight_grid(), directions, batch_size)
    scores = torch.cat([cnn.score(images[i:i + batch_size], PROPERTY_NAMES).float().cpu()
                        for i in range(0, len(images), batch_size)]).numpy()
    return scores, correlations(scores[:, CORE_COLUMNS])


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
    """Tests codes one after another, moved by the edit rule `steering` (`vectorfind.steering.
    Steering`: its generator, directions, space, local hold and group rule) and scored by the
    Property Score CNN `cnn`, resuming from `test_result.csv` in `report_dir` (`start_afresh`
    drops earlier results, for directions fitted anew). `score_std` [7] is the spread of each CNN
    score over random samples of the generator, leakage's unit."""

    def __init__(self, steering, cnn, score_std, report_dir, seed, batch_size, max_leakage=None):
        self.steering, self.cnn, self.score_std, self.report_dir = steering, cnn, score_std, report_dir
        self.seed, self.batch_size, self.max_leakage = seed, batch_size, max_leakage
        os.makedirs(report_dir, exist_ok=True)
        self.results, self.codes = self._load_previous()

    def start_afresh(self):
        """Forget every earlier result (the directions they were made with are gone)."""
        if distributed.is_main():
            for name in os.listdir(self.report_dir):
                if name.startswith('passed_case_'):
                    os.remove(self._path(name))
        self.results, self.codes = [], []
        return self

    def _path(self, name):
        return os.path.join(self.report_dir, name)

    def _load_previous(self):
        if not os.path.exists(self._path('test_result.csv')):
            return [], []
        results = pd.read_csv(self._path('test_result.csv')).to_dict('records')
        codes = list(pd.read_csv(self._path('latent_codes_all.csv')).to_numpy(np.float32))
        return results[:len(codes)], codes[:len(results)]

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
            code = (codes[case] if codes is not None
                    else draw_codes(1, self.steering.code_dim, self.seed, TESTING, case)[0])
            group = given_groups[case] if given_groups is not None else self.steering.group_of(code)
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
        directions = self.steering.code_directions(code, group)
        scores, corr = score_code_edits(self.steering.editor, self.cnn, code, directions, self.batch_size)
        leaks = {prop: worst for prop, (worst, _) in
                 leakage(weight_grid(), scores, self.score_std).items()}
        passed = passes(corr, leaks, self.max_leakage)
        grid = None
        if passed:
            images = to_uint8(self.steering.editor.render(code, weight_grid(), directions, len(weight_grid())))
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
        z_dim = self.steering.generator.z_dim
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
