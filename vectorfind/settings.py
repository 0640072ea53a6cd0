"""What a VectorFind run depends on, each setting declared once (`common.settings.setting`), its
presets, and the one reader of a finished run's settings (`run_record`)."""
import os
from dataclasses import dataclass
from typing import Optional

from common.paths import in_repo
from common.settings import (Path, check_settings, device_setting, recorded, resolved_device, seed_setting,
                             setting)
from common.validation import check_count, check_not_negative, check_positive
from vectorfind.latents import PRECISIONS
from vectorfind.least_squares import HOLDS
from vectorfind.local_hold import REACH
from vectorfind.spaces import SPACES, LatentSpace, parse_layers

REPORTS = {'svm': 'svm_report.csv', 'least-squares': 'least_squares_report.csv'}
# The parts of a run's outputs a setting decides: its samples (never to be mixed with another's),
# and its directions and tested codes (made again with --retrain).
SAMPLES, FIT = 'samples', 'fit'


# What each preset changes in the defaults. `ohlora`: the published checkpoints and numbers of
# v6 (SPEC), for a GPU; `ohlora_v7`: the published v7, its directions in w (n 80,000, the top and
# bottom 20% of each group, the share its README found best).
PRESETS = {
    'default': {},
    'ohlora': dict(generator=in_repo('models', 'stylegan_gen_fine_tuned_v1.pth'),
                   cnn=in_repo('models', 'stylegan_gen_fine_tuned_v2_cnn.pth'),
                   scores_table=in_repo('models', 'all_scores_v2_cnn.csv'),
                   n=500_000, max_tries=2400, batch_size=250, chunk_size=20_000,
                   directions='svm', grouping=True, space='z', layers=None, hold='core',
                   local_hold=False),
}
PRESETS['ohlora_v7'] = dict(PRESETS['ohlora'], space='w', n=80_000, ratio=0.2)


def _share(value, flag):
    if not 0 < value <= 0.5:
        raise ValueError(f'{flag} must be in (0, 0.5], got {value}')


@dataclass
class VectorFindSettings:
    """Everything a run depends on. The defaults are the `default` preset: the committed models of
    the synthetic face world, sized for a 2-core CPU (at most 600 codes tested where the SPEC
    tries 2,400; batches of the size that runs fastest there), and the directions that measured
    best there, leakage first (docs/vectorfind.md): least squares over all samples in w, each
    holding all six other scores, the pose edit on layers 0-5 (4 to 16 px) only, and each tested
    code's directions held to it, aimed halfway toward its own scores' rise
    (`vectorfind/local_hold.py`)."""
    preset: str = setting('default', choices=tuple(PRESETS),
                          help='default (the embedded world), ohlora (the published checkpoints in models/,'
                               ' v6 in z) or ohlora_v7 (the same, v7 in w)')
    generator: Path = setting(in_repo('models', 'default', 'base_generator.pth'), stage=SAMPLES,
                              help='v1 generator file (a v6 file beside it is preferred)')
    cnn: Path = setting(in_repo('models', 'default', 'property_score_cnn.pth'), stage=SAMPLES,
                        help='Property Score CNN file')
    scores_table: Path = setting(in_repo('models', 'default', 'all_scores_v2_cnn.csv'), stage=FIT,
                                 help='CNN-derived all_scores table (group medians)')
    n: int = setting(8000, check=check_count, stage=SAMPLES, help='latent codes sampled for the directions')
    ratio: float = setting(0.15, check=_share, stage=FIT, help='share of highest and lowest scores per group')
    num_pass: int = setting(80, check=check_count, help='stop testing after this many passing codes')
    max_tries: int = setting(600, check=check_count, help='stop testing after this many codes')
    batch_size: int = setting(10, check=check_count)
    chunk_size: int = setting(2000, check=check_count, stage=SAMPLES, help='samples per file on disk')
    latents: Optional[Path] = setting(None, help='CSV of codes to test instead of random ones')
    group_names: Optional[Path] = setting(None, help='CSV with a group_name column, one per --latents row')
    grouping: bool = setting(False, earlier=False,
                             help='one direction per group and property (the ohlora preset), or with'
                                  ' --no-grouping one per property over all samples (the default preset)')
    directions: str = setting('least-squares', choices=tuple(sorted(REPORTS)), stage='directions',
                              help='svm (SPEC: top vs bottom ratio per group; the ohlora preset) or'
                                   ' least-squares (every sample; each direction holds the other'
                                   ' properties; the default preset)')
    no_tsne: bool = setting(False, switch=True, help='skip the t-SNE plots')
    retrain: bool = setting(False, switch=True, help='fit the directions again')
    seed: int = seed_setting(stage=SAMPLES)
    device: Optional[str] = device_setting()
    precision: str = setting('float32', choices=PRECISIONS, stage=SAMPLES, earlier='float32',
                             help='float32 or bfloat16: faster on CPUs with AVX512-BF16 or AMX'
                                  ' (docs/performance.md), scores a few hundredths of a z unit off')
    max_leakage: Optional[float] = setting(None, check=check_positive, stage=FIT,
                                           help='a code passes only when, beside the SPEC\'s correlations,'
                                                ' each property\'s leakage into the other six scores is at'
                                                ' most this (off by default; scores/leakage.py defines it)')
    space: str = setting('w', choices=SPACES, earlier='z',
                         help='z (v6: the 515-dim code; the ohlora preset) or w (v7: the mapping output;'
                              ' the default preset)')
    layers: Optional[str] = setting('pose=0-6', stage=FIT, earlier=None,
                                    help='in w, the synthesis layers each direction is added to, e.g.'
                                         ' eyes=2-6,pose=0-4 (layers 2..5 and 0..3; unnamed: every'
                                         ' layer; "" for every layer)')
    hold: str = setting('all', choices=HOLDS, stage=FIT,
                        help='least squares: each direction holds the other two steered properties'
                             ' (core) or all six other CNN scores (all)')
    local_hold: bool = setting(True, stage=FIT, earlier=False,
                               help='the test moves each code along its directions projected to hold the'
                                    ' other six CNN scores along that code\'s own edits (the default'
                                    ' preset; vectorfind/local_hold.py), or with --no-local-hold along'
                                    ' the directions as fitted (the ohlora presets)')
    # Runs held before the reach existed held the fitted directions themselves: reach 0.
    hold_reach: float = setting(REACH, check=check_not_negative, stage=FIT, earlier=0.0,
                                help='with the local hold, how far each code\'s direction turns from the'
                                     ' fitted one toward that code\'s steepest rise of its own score'
                                     ' before the projection: 0 holds the fitted direction itself,'
                                     ' 1 aims halfway; more keeps more of the own change')
    out_dir: Path = setting(in_repo('outputs', 'vectorfind_v6'), help='where everything lands')

    def __post_init__(self):
        self.device = resolved_device(self.device)
        check_settings(self)
        LatentSpace(self.space, parse_layers(self.layers))  # refuses a bad space or layer range


def config_path(out_dir):
    return os.path.join(out_dir, 'config.json')


def run_record(out_dir):
    """The settings a finished run in `out_dir` was made with (its config.json), a dict: a setting
    the run predates at the value it was made with then."""
    return recorded(config_path(out_dir), VectorFindSettings)
