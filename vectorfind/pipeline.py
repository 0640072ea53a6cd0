"""StyleGAN-VectorFind-v6: find latent directions for eyes, mouth and pose, then test them.

    python run_stylegan_vectorfind_v6.py                    # the embedded default world, CPU
    python run_stylegan_vectorfind_v6.py --preset ohlora    # the published checkpoints, GPU

Training phase: sample n codes (z 512 + 3 extra dims), generate and score them with the Property
Score CNN, group them by hair colour, hair length and background mean (high/low against the
medians of the CNN-derived all_scores table), and per group and property fit a direction in
`--space` z (v6: the code) or w (v7: the mapping output): `--directions svm` (SPEC, and the
`ohlora` presets) fits a linear SVM between the top and bottom `ratio` of scores and keeps its
unit normal; `--directions least-squares` fits the scores linearly on every sample and keeps, per
property, the move that changes it and holds the others (`--hold core`: the other two steered
properties; `--hold all`: all six other scores). `--no-grouping` fits one direction per property
over all samples. Image generation test: move codes along the directions over a 50-image weight
grid (in w, optionally only on some synthesis layers, `--layers`) and check that the measured
scores follow (SPEC: "StyleGAN-VectorFind-v6"), and record how far each edit moves the other six
scores (leakage, `scores/leakage.py`).

Everything lands in --out-dir, and a re-run in the same folder reuses what is finished: samples,
directions (unless --retrain), tested codes, and the converted v6 generator.
"""
import os
import time
from dataclasses import replace

import numpy as np
import torch

from common import distributed
from common.cli import run_command
from common.files import read_csv_file, write_csv, write_json
from common.run_lock import in_held_folder
from common.settings import as_record, differing, parse_settings, stage_settings
from property_score_cnn import load_property_score_cnn
from scores.leakage import stored_spread
from scores.properties import CORE_PROPERTIES
from stylegan import convert_v1_to_v6, load_generator, save_generator
from stylegan.latent_codes import read_latent_codes
from vectorfind.directions import (MIN_GROUP, fit_directions, least_squares_directions, load_direction,
                                   save_direction, selections, tsne_plots, vector_path)
from vectorfind.generation_testing import GenerationTest
from vectorfind.groups import (ALL_SAMPLES, GROUP_NAMES, ScoreGroups, borrowing_all_samples, group_names,
                               medians_from_table)
from vectorfind.latents import inference_precision
from vectorfind.local_hold import LocalHold
from vectorfind.sampling import iter_chunks, sample_and_score
from vectorfind.settings import (FIT, PRESETS, REPORTS, SAMPLES, VectorFindSettings, config_path,
                                 run_record)
from vectorfind.spaces import LatentSpace, parse_layers
from vectorfind.steering import Steering

V6_FILE = 'stylegan_gen_vector_find_v6.pth'


def v6_generator(settings):
    """The v6 generator of this run: the one saved in --out-dir by an earlier run, else the
    published v6 file beside the v1 file, else the v1 generator converted (label embedding
    re-drawn with --seed), which `keep_v6_generator` saves to --out-dir as the original does."""
    for path in (os.path.join(settings.out_dir, V6_FILE), published_v6(settings)):
        if os.path.exists(path):
            print(f'v6 generator: {path}')
            return load_generator(path, 'v6')
    print(f'v6 generator: {settings.generator} converted')
    return convert_v1_to_v6(load_generator(settings.generator, 'v1'), seed=settings.seed)


def published_v6(settings):
    return os.path.join(os.path.dirname(settings.generator), V6_FILE)


def keep_v6_generator(generator, settings):
    """A converted generator saved with the run (once config.json says how it was made)."""
    saved = os.path.join(settings.out_dir, V6_FILE)
    if not os.path.exists(saved) and not os.path.exists(published_v6(settings)):
        save_generator(generator, saved)
        print(f'v6 generator saved to {saved}')


def training_phase(generator, cnn, medians, settings):
    """Directions {(property, group): unit vector [dim of the space]}, fitted or read back, and
    whether they were fitted in this run. Under torchrun every rank samples its share of the
    chunks, then rank 0 alone fits and plots and hands the directions to the others."""
    space = latent_space(settings)
    paths = {(p, g): vector_path(settings.out_dir, p, g, space.name)
             for p in CORE_PROPERTIES for g in fitted_groups(settings)}

    def stored_directions():
        if settings.retrain or not all(os.path.exists(path) for path in paths.values()):
            return None
        print('directions: reusing', os.path.dirname(next(iter(paths.values()))))
        return {key: load_direction(path, space.dim(generator))[0] for key, path in paths.items()}

    stored = distributed.together(stored_directions)
    if stored is not None and (settings.no_tsne or os.path.exists(tsne_record(settings))):
        return stored, False

    def sample():
        with inference_precision(settings.device, settings.precision):
            sample_and_score(generator, cnn, settings.n, settings.seed, settings.out_dir, settings.batch_size,
                             settings.chunk_size)
    distributed.together(sample)
    return distributed.on_main(lambda: fit_and_plot(generator, medians, settings, paths, stored))


def fit_and_plot(generator, medians, settings, paths, stored):
    """training_phase's work on the finished samples: the directions fitted and saved with their
    report, and the t-SNE plots; with `stored` directions (a run killed during its t-SNE), the
    plots alone."""
    space = latent_space(settings)
    group_list = fitted_groups(settings)
    scores = np.concatenate([s for _, s in iter_chunks(settings.out_dir, settings.n, settings.chunk_size)])
    groups = group_names(scores, medians) if settings.grouping else np.full(len(scores), ALL_SAMPLES)
    chosen, sparse = selections(scores, groups, group_list, settings.ratio)
    if sparse:
        # A group with too few samples borrows the direction fitted over every sample.
        print(f'groups {sparse} have fewer than {MIN_GROUP} samples (raise --n);'
              f' they use the direction fitted over all samples')
        chosen.update(selections(scores, np.full(len(scores), ALL_SAMPLES), [ALL_SAMPLES], settings.ratio)[0])
    needed = np.unique(np.concatenate([np.concatenate(pair) for pair in chosen.values()]))
    kept = space.points(generator, gather_codes(settings, needed), settings.device)

    def points_of(index):
        return kept[np.searchsorted(needed, index)]

    if stored is not None:  # a run killed during its t-SNE: the plots are all that is missing
        plot_tsne(chosen, points_of, settings)
        return stored, False
    if settings.directions == 'svm':
        directions, report = fit_directions(points_of, chosen, settings.seed)
        directions = borrowing_all_samples(directions, sparse)
    else:
        def group_of(chunk_scores):
            return (group_names(chunk_scores, medians) if settings.grouping
                    else np.full(len(chunk_scores), ALL_SAMPLES))
        chunks = ((space.points(generator, codes, settings.device), chunk_scores)
                  for codes, chunk_scores in iter_chunks(settings.out_dir, settings.n, settings.chunk_size))
        directions, report = least_squares_directions(chunks, group_of, group_list, settings.hold)
    for key, path in paths.items():
        save_direction(directions[key], path)
    for method, name in REPORTS.items():  # the report says which method made the directions
        if method != settings.directions and os.path.exists(os.path.join(settings.out_dir, name)):
            os.remove(os.path.join(settings.out_dir, name))
    write_csv(os.path.join(settings.out_dir, REPORTS[settings.directions]), report)
    quality = 'valid_accuracy' if settings.directions == 'svm' else 'r2'
    print(report.pivot(index='group', columns='property', values=quality).to_string())
    if not settings.no_tsne:
        plot_tsne(chosen, points_of, settings)
    elif os.path.exists(tsne_record(settings)):
        os.remove(tsne_record(settings))  # the plots there show directions no longer in use
    return directions, True


def fitted_groups(settings):
    return list(GROUP_NAMES) if settings.grouping else [ALL_SAMPLES]


def tsne_record(settings):
    return os.path.join(settings.out_dir, 'tsne', 'finished.json')


def plot_tsne(chosen, points_of, settings):
    """The t-SNE plots, then a record that they are all there (a killed run redoes them)."""
    tsne_plots(chosen, points_of, settings.out_dir, settings.seed)
    write_json(tsne_record(settings), {'plots': sorted(f'tsne_{p}_{g}.png' for p, g in chosen)})


def latent_space(settings):
    return LatentSpace(settings.space, parse_layers(settings.layers))


def score_spread(settings, refresh):
    """Standard deviation [7] of each CNN score over the run's samples, the unit of leakage;
    stored with the run, and measured anew when the directions were."""
    def measure():
        chunks = iter_chunks(settings.out_dir, settings.n, settings.chunk_size)
        return np.concatenate([scores for _, scores in chunks]).std(axis=0, ddof=1)
    return stored_spread(settings.out_dir, measure, refresh)


def pass_summary(statistics, max_leakage):
    """One line: how many codes passed by correlation (SPEC) and, when asked, by leakage too."""
    line = f'{statistics.passed_by_corr:.0f} of {statistics.tested:.0f} tested codes pass by correlation'
    if max_leakage is not None:
        line += f', {statistics.passed:.0f} of them also keep every leakage <= {max_leakage}'
    return line + ('; median leakage eyes / mouth / pose '
                   + ' / '.join(f'{statistics[f"{p}_leakage_median"]:.2f}' for p in CORE_PROPERTIES))


def gather_codes(settings, wanted):
    """Codes of the sorted sample indices `wanted`, read chunk by chunk."""
    parts, start = [], 0
    for codes, _ in iter_chunks(settings.out_dir, settings.n, settings.chunk_size):
        inside = wanted[(wanted >= start) & (wanted < start + len(codes))]
        parts.append(codes[inside - start])
        start += len(codes)
    return np.concatenate(parts)


def given_codes(settings, code_dim):
    if not settings.latents:
        return None, None
    codes = read_latent_codes(settings.latents, code_dim)
    if not settings.group_names:
        return codes, None
    groups = read_csv_file(settings.group_names, 'group names file',
                           f'a group_name column with one row per code of {settings.latents}')
    if 'group_name' not in groups.columns or len(groups) != len(codes):
        raise ValueError(f'{settings.group_names}: expected a group_name column with one row per code'
                         f' of {settings.latents} ({len(codes)} rows)')
    names = list(groups.group_name.astype(str))
    known = GROUP_NAMES if settings.grouping else (*GROUP_NAMES, ALL_SAMPLES)
    unknown = [(row, name) for row, name in enumerate(names) if name not in known]
    if unknown:
        row, name = unknown[0]
        raise ValueError(f'{settings.group_names}: row {row}, group_name {name!r} is not a group;'
                         f' expected one of {list(known)}')
    return codes, names


def check_earlier_run(settings):
    """A run reuses what an earlier one in --out-dir finished, so it must have been made with the
    same settings: other samples are refused, other fit settings need --retrain."""
    if not os.path.exists(config_path(settings.out_dir)):
        return
    earlier = run_record(settings.out_dir)

    def used(keys):
        named = ' and '.join(f'--{key.replace("_", "-")} {earlier[key]}' for key in keys)
        return (f'{config_path(settings.out_dir)}: the run in {settings.out_dir} used {named};'
                f' continue it with {"that" if len(keys) == 1 else "those"}')

    if differing(settings, earlier, ['directions']) and not settings.retrain:
        raise ValueError(f'the directions in {settings.out_dir} were not fitted with --directions'
                         f' {settings.directions}; add --retrain or use another --out-dir')
    samples = differing(settings, earlier, stage_settings(VectorFindSettings, SAMPLES))
    if samples:
        raise ValueError(used(samples) + ', or use another --out-dir')
    fit = differing(settings, earlier, stage_settings(VectorFindSettings, FIT))
    if fit and not settings.retrain:
        raise ValueError(used(fit) + ', add --retrain to fit and test anew, or use another --out-dir')


def run(settings):
    """The whole job (samples, directions, test) in --out-dir, which this run holds alone; under
    torchrun, shared among the processes (`common/distributed.py`)."""
    with distributed.processes(settings.device) as device:
        settings = replace(settings, device=device)
        return in_held_folder(settings.out_dir, lambda: run_in_folder(settings))


def run_in_folder(settings):
    torch.manual_seed(settings.seed)

    distributed.on_main(lambda: check_earlier_run(settings), share=False)
    started = time.time()
    generator = distributed.together(lambda: v6_generator(settings)).to(settings.device)

    def load():
        latent_space(settings).check(generator)
        cnn = load_property_score_cnn(settings.cnn).to(settings.device).eval()
        medians = medians_from_table(settings.scores_table)
        # Given codes are read before the minutes of sampling, so that a bad file costs none of them.
        return cnn, medians, given_codes(settings, generator.z_dim + generator.label_dim)
    cnn, medians, (codes, groups) = distributed.together(load)

    def claim():  # once every input is checked: a run refused above leaves the folder unclaimed
        write_json(config_path(settings.out_dir), as_record(settings))
        keep_v6_generator(generator, settings)
    distributed.on_main(claim, share=False)
    directions, fitted = training_phase(generator, cnn, medians, settings)
    if not settings.grouping:
        directions = borrowing_all_samples(directions, GROUP_NAMES)
    spread = distributed.on_main(lambda: score_spread(settings, fitted))
    hold = LocalHold(cnn, settings.hold_reach) if settings.local_hold else None
    steering = Steering(generator, directions, latent_space(settings), hold,
                        ScoreGroups(generator, cnn, medians, settings.device), settings.device, settings.precision)

    def test_in_folder():
        test = GenerationTest(steering, cnn, spread, os.path.join(settings.out_dir, 'image_generation_report'),
                              settings.seed, settings.batch_size, settings.max_leakage)
        return test.start_afresh() if fitted else test
    test = distributed.together(test_in_folder)
    with inference_precision(settings.device, settings.precision):
        statistics = test.run(settings.num_pass, settings.max_tries, codes, groups)
    print(statistics.to_string(index=False))
    print(pass_summary(statistics.iloc[0], settings.max_leakage))
    print(f'\ndone in {time.time() - started:.0f} s; everything is in {settings.out_dir}:\n'
          f'  property_score_vectors/  the directions, one CSV per property and group\n'
          f'  {REPORTS[settings.directions]:<24} the fit per group and property\n'
          f'  tsne/                    t-SNE plots of the selected codes\n'
          f'  image_generation_report/ test_result.csv, test_statistics.csv, latent codes,'
          f' grids of passing codes\n'
          f'  {V6_FILE}  the v6 generator used\n'
          f'  score_spread.csv         each CNN score\'s spread over the samples (leakage\'s unit)\n'
          f'  config.json              the settings of this run')
    return statistics


def parse_args(argv=None):
    """The run's settings from the command line (flags over the preset over the defaults)."""
    return parse_settings(VectorFindSettings, argv, PRESETS, __doc__)


def main(argv=None):
    settings = parse_args(argv)
    return run_command(lambda: run(settings), argv,
                       interrupted=f're-run the same command to continue in {settings.out_dir}')


if __name__ == '__main__':
    main()
