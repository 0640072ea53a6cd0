"""Steer a face with the directions of a finished VectorFind-v6 run.

    steering = Steering.from_run('outputs/vectorfind_v6')
    results, codes = read_tested_codes('outputs/vectorfind_v6', steering.code_dim)  # [N, 515]
    face = steering.render(codes[0], eyes=1.2, mouth=-1.2, pose=0.6)    # [H, W, 3] uint8
    strip = steering.strip(codes[0], 'mouth', [-2.4, 0.0, 2.4])         # [3, H, W, 3] uint8

A code is z followed by the generator's extra dims ([515] for every Oh-LoRA v6 generator). It
is moved by (eyes, mouth, pose) weights along the directions of its group, in the space the run
found them in (z: `code + weights @ directions`; w: the code's w plus the move, on the synthesis
layers each direction reaches), and rendered as the run's image generation test renders it
(`vectorfind.spaces.CodeEditor`: truncation off, fixed noise, the run's precision): a face here
is the test's face of that edit, bit for bit. A run made with
`--local-hold` fits each code's directions to it (`vectorfind/local_hold.py`); so does its
steering, with the run's CNN. Faces are rendered one at
a time, because a batched convolution rounds a few pixels differently depending on what else is
in the batch; one at a time, a face depends on its own code alone.
"""
import os

import numpy as np
import pandas as pd

from common.images import to_uint8
from scores.properties import CORE_PROPERTIES
from property_score_cnn import load_property_score_cnn
from stylegan import load_generator
from stylegan.latent_codes import read_latent_codes
from vectorfind.directions import load_direction, vector_path
from vectorfind.groups import ALL_SAMPLES, GROUP_NAMES, ScoreGroups, medians_from_table
from vectorfind.generation_testing import GRID_RANGES
from vectorfind.local_hold import LocalHold
from vectorfind.settings import config_path, run_record
from vectorfind.latents import inference_precision
from vectorfind.spaces import CodeEditor, LatentSpace, parse_layers

GENERATOR_FILE = 'stylegan_gen_vector_find_v6.pth'
REPORT_DIR = 'image_generation_report'


def existing(path, out_dir):
    """`path`, a file that the run in `out_dir` must hold; a missing one fails naming it."""
    if not os.path.exists(path):
        raise FileNotFoundError(f'{path} not found: the VectorFind-v6 run folder {out_dir} lacks'
                                f' {os.path.relpath(path, out_dir)}, which `python'
                                f' run_stylegan_vectorfind_v6.py --out-dir {out_dir}` writes')
    return path


def in_run(out_dir, *parts):
    return existing(os.path.join(out_dir, *parts), out_dir)


def read_tested_codes(out_dir, code_dim):
    """(test_result table, codes [N, code_dim] float32) of the run's image generation test: row i
    of both is test case i."""
    results = pd.read_csv(in_run(out_dir, REPORT_DIR, 'test_result.csv'))
    codes = read_latent_codes(in_run(out_dir, REPORT_DIR, 'latent_codes_all.csv'), code_dim)
    n = min(len(results), len(codes))  # a run killed between its two writes holds one code more
    return results.iloc[:n].reset_index(drop=True), codes[:n]


def as_code(code, code_dim):
    """A latent code as float32 [code_dim], or a ValueError saying what was expected."""
    array = np.asarray(code, dtype=np.float32)
    if array.shape != (code_dim,):
        raise ValueError(f'expected one latent code of shape [{code_dim}] (z_dim + label_dim),'
                         f' got shape {list(array.shape)}')
    if not np.isfinite(array).all():
        raise ValueError('the latent code holds NaN or infinite values')
    return array


def as_weights(weights, what, ndim):
    """Finite weights as float32 with `ndim` dims, or a ValueError naming `what` was wrong."""
    try:
        array = np.asarray(weights, dtype=np.float32)
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim != ndim or array.size == 0 or not np.isfinite(array).all():
        raise ValueError(f'{what}: expected finite numbers, got {weights!r}')
    return array


class Steering:
    """The edit rule of a run: how a code is moved. A v6 generator, one unit direction per
    (property, group) in a latent space, the rule that gives a code its group, and optionally the
    local hold that fits each code's directions to it. The image generation test, this steering
    API, retest and the leakage matrix all move codes through one of these.

    `directions`: {(property, group): vector [space.dim(generator)]}; an ungrouped run has the
    one group 'all'. `group_of`: code -> group name, needed only with several groups (`from_run`
    supplies the pipeline's rule). `precision`: 'float32' or 'bfloat16', the one the run was made
    in. `space`: where the directions live (`vectorfind.spaces.LatentSpace`: z, the default, or w
    with the synthesis layers each direction reaches); codes are z and the extra dims either way.
    `hold`: a `vectorfind.local_hold.LocalHold` holding each code's other scores, as a run with
    --local-hold does; None moves codes along the directions as they are.
    """

    def __init__(self, generator, directions, space=LatentSpace(), hold=None, group_of=None, device='cpu',
                 precision='float32'):
        self.editor = CodeEditor(generator.to(device).eval(), space, device)
        self.hold = hold
        if hold is not None:
            hold.cnn.to(device).eval()
        self.directions, self.precision = directions, precision
        self.code_dim = generator.z_dim + generator.label_dim
        self.groups = sorted({group for _, group in directions})
        self._group_of = group_of
        self._directions_of = {}
        missing = [(p, g) for g in self.groups for p in CORE_PROPERTIES if (p, g) not in directions]
        if missing:
            raise ValueError(f'no direction for {missing}: every group needs eyes, mouth and pose')
        space.check(generator)

    generator = property(lambda self: self.editor.generator)
    space = property(lambda self: self.editor.space)
    device = property(lambda self: self.editor.device)

    @classmethod
    def from_run(cls, out_dir, device='cpu'):
        """The generator, directions, space and groups of the run in `out_dir`, the folder that
        `run_stylegan_vectorfind_v6.py --out-dir` wrote (default outputs/vectorfind_v6); its
        settings are in `.record` (`vectorfind.settings.run_record`)."""
        if not os.path.isdir(out_dir):
            raise FileNotFoundError(f'{out_dir} is not a folder: expected the output folder of'
                                    f' run_stylegan_vectorfind_v6.py (outputs/vectorfind_v6 by default)')
        existing(config_path(out_dir), out_dir)
        config = run_record(out_dir)
        generator = load_generator(in_run(out_dir, GENERATOR_FILE), 'v6').to(device)
        space = LatentSpace(config['space'], parse_layers(config['layers']))
        precision = config['precision']
        groups = GROUP_NAMES if config['grouping'] else (ALL_SAMPLES,)
        directions = {}
        for prop in CORE_PROPERTIES:
            for group in groups:
                path = existing(vector_path(out_dir, prop, group, space.name), out_dir)
                # vector_no 0, the one the run tested
                directions[prop, group] = load_direction(path, space.dim(generator))[0]
        group_of = RunGroups(out_dir, config, generator, device, precision) if config['grouping'] else None
        hold = LocalHold(load_property_score_cnn(config['cnn']), config['hold_reach']) if config['local_hold'] else None
        steering = cls(generator, directions, space, hold, group_of, device, precision)
        steering.record = config  # the run's settings, for the tools that test it again
        return steering

    def group_of(self, code):
        """The group whose directions move `code` [code_dim]."""
        code = as_code(code, self.code_dim)
        if self.groups == [ALL_SAMPLES]:
            return ALL_SAMPLES
        if self._group_of is None:
            raise ValueError(f'directions of the groups {self.groups} need a group_of rule')
        return self._group_of(code)

    def render(self, code, eyes=0.0, mouth=0.0, pose=0.0):
        """The face [H, W, 3] uint8 of `code` [code_dim] moved by these weights along the eyes,
        mouth and pose directions of its group."""
        weights = as_weights([eyes, mouth, pose], 'eyes, mouth and pose weights', ndim=1)
        return self._faces(code, weights[None])[0]

    def strip(self, code, prop, weights):
        """Faces [len(weights), H, W, 3] uint8 of `code` [code_dim] moved along the direction of
        `prop` ('eyes', 'mouth' or 'pose') by each of `weights` [N]."""
        if prop not in CORE_PROPERTIES:
            raise ValueError(f'property {prop!r}: expected one of {CORE_PROPERTIES}')
        steps = as_weights(weights, f'{prop} strip weights [N]', ndim=1)
        grid = np.zeros((len(steps), len(CORE_PROPERTIES)), dtype=np.float32)
        grid[:, CORE_PROPERTIES.index(prop)] = steps
        return self._faces(code, grid)

    def code_directions(self, code, group=None):
        """[3, dim]: the eyes, mouth and pose directions that move `code` [code_dim]: those of
        `group` (default: the code's own), held to the code when the steering holds the other
        scores, over the test grid's range of each property."""
        code = as_code(code, self.code_dim)
        group = self.group_of(code) if group is None else group
        key = (code.tobytes(), group)
        if key not in self._directions_of:  # held, seconds per code: a strip per property reuses them
            fitted = np.stack([self.directions[prop, group] for prop in CORE_PROPERTIES])
            with inference_precision(self.device, self.precision):
                self._directions_of[key] = (fitted if self.hold is None else
                                            self.hold.directions(self.editor, code, fitted, GRID_RANGES))
        return self._directions_of[key]

    def _faces(self, code, weights):
        """Faces [N, H, W, 3] uint8 of `code` [code_dim] edited by each row of `weights` [N, 3]
        (eyes, mouth, pose), as the run's test edits and renders it, one face at a time."""
        code = as_code(code, self.code_dim)
        directions = self.code_directions(code)
        with inference_precision(self.device, self.precision):
            return to_uint8(self.editor.render(code, weights, directions, batch_size=1))


class RunGroups:
    """The group of a code [code_dim] in a grouped run: the one the run's test recorded for it
    (test_result.csv), else the pipeline's rule (`vectorfind.groups.ScoreGroups` with the run's
    CNN and score table)."""

    def __init__(self, out_dir, config, generator, device, precision):
        self.out_dir, self.config = out_dir, config
        self.generator, self.device, self.precision = generator, device, precision
        self.recorded = {}
        if os.path.exists(os.path.join(out_dir, REPORT_DIR, 'latent_codes_all.csv')):
            results, codes = read_tested_codes(out_dir, generator.z_dim + generator.label_dim)
            self.recorded = {code.tobytes(): str(group) for code, group in zip(codes, results.group_name)}
        self._by_scores = None  # made for the first code the run did not test

    def __call__(self, code):
        if code.tobytes() in self.recorded:
            return self.recorded[code.tobytes()]
        if self._by_scores is None:
            cnn = load_property_score_cnn(self._file('cnn')).to(self.device).eval()
            self._by_scores = ScoreGroups(self.generator, cnn, medians_from_table(self._file('scores_table')),
                                          self.device)
        with inference_precision(self.device, self.precision):
            return self._by_scores(code)

    def _file(self, name):
        path = self.config.get(name)
        if not path or not os.path.exists(path):
            raise FileNotFoundError(f'{path}: the {name} file named in {self.out_dir}/config.json is'
                                    f' not there; a grouped run needs it for the group of a code it'
                                    f' did not test')
        return path
