"""VectorFind-v6 on tiny models: the whole pipeline, its resumption, its files and SPEC's numbers."""
import os

import numpy as np
import torch
import pandas as pd
import pytest

import vectorfind.generation_testing
import vectorfind.sampling
from linear_scores import LinearScores
from tiny_models import write_tiny_models
from stylegan import Generator, convert_v1_to_v6, architecture
from vectorfind import pipeline as v6
from vectorfind.directions import load_direction, save_direction
from vectorfind.generation_testing import THRESHOLDS, weight_grid
from vectorfind.latents import draw_codes, images
from vectorfind.least_squares import conditional_moves, fit_property_directions
from vectorfind.spaces import CodeEditor, LatentSpace


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    return write_tiny_models(tmp_path_factory.mktemp('models'), 64)


def args_for(models, out_dir, *extra):
    return v6.parse_args(['--generator', str(models / 'generator.pth'), '--cnn', str(models / 'cnn.pth'),
                          '--scores-table', str(models / 'all_scores_v2_cnn.csv'), '--n', '80',
                          '--chunk-size', '20', '--ratio', '0.25', '--batch-size', '20',
                          '--max-tries', '3', '--device', 'cpu', '--out-dir', str(out_dir),
                          '--directions', 'svm', '--grouping', '--space', 'z', '--layers', '',
                          '--hold', 'core', '--no-local-hold', *extra])


def test_presets_choose_their_direction_method():
    default, ohlora = v6.parse_args([]), v6.parse_args(['--preset', 'ohlora'])
    assert (default.directions, default.grouping, default.space, default.hold, default.local_hold) == (
        'least-squares', False, 'w', 'all', True)
    assert (ohlora.directions, ohlora.grouping, ohlora.space) == ('svm', True, 'z')
    assert (v6.parse_args(['--preset', 'ohlora_v7']).space, v6.parse_args(['--preset', 'ohlora_v7']).ratio) == ('w', 0.2)
    chosen = v6.parse_args(['--directions', 'svm', '--grouping'])
    assert (chosen.directions, chosen.grouping) == ('svm', True)


def test_weight_grid_and_thresholds_are_specs():
    grid = weight_grid()
    assert grid.shape == (50, 3)
    assert sorted(set(grid[:, 0])) == pytest.approx([-1.2, 1.8])
    assert sorted(set(grid[:, 1])) == pytest.approx([-2.4, -1.2, 0.0, 1.2, 2.4])
    assert sorted(set(grid[:, 2])) == pytest.approx([-1.8, -1.2, -0.6, 0.0, 0.6])
    assert len({tuple(row) for row in grid}) == 50
    assert THRESHOLDS == {'eyes': 0.75, 'mouth': 0.77, 'pose': 0.80}


def test_direction_files_read_back_the_same_vectors(tmp_path):
    vectors = np.random.default_rng(0).standard_normal((2, 515)).astype(np.float32)
    save_direction(vectors, tmp_path / 'eyes_change_z_vector_hhl.csv')
    table = pd.read_csv(tmp_path / 'eyes_change_z_vector_hhl.csv', index_col=0)
    assert table.shape == (2, 515)
    np.testing.assert_array_equal(load_direction(tmp_path / 'eyes_change_z_vector_hhl.csv', 515), vectors)
    with pytest.raises(ValueError, match='expected rows of 512 values'):
        load_direction(tmp_path / 'eyes_change_z_vector_hhl.csv', 512)


def test_whole_pipeline_writes_every_output(models, tmp_path):
    statistics = v6.run(args_for(models, tmp_path, '--no-tsne'))
    for prop in ('eyes', 'mouth', 'pose'):
        for group in ('hhh', 'hhl', 'hlh', 'hll', 'lhh', 'lhl', 'llh', 'lll'):
            vector = load_direction(tmp_path / 'property_score_vectors' / f'{prop}_change_z_vector_{group}.csv', 515)
            assert vector.shape == (1, 515) and np.linalg.norm(vector) == pytest.approx(1, abs=1e-5)
    report = tmp_path / 'image_generation_report'
    results = pd.read_csv(report / 'test_result.csv')
    # The original's columns, then each property's leakage.
    assert list(results.columns) == ['case', 'vector_no', 'passed', 'group_name', 'eyes_corr',
                                     'mouth_corr', 'pose_corr', 'sum_abs_corr', 'eyes_leakage',
                                     'mouth_leakage', 'pose_leakage']
    assert (results[['eyes_leakage', 'mouth_leakage', 'pose_leakage']] >= 0).all().all()
    assert {'eyes_leakage_median', 'passed_by_corr'} <= set(statistics.columns)
    assert len(results) == 3 and int(statistics.tested[0]) == 3
    assert pd.read_csv(report / 'latent_codes_all.csv').shape == (3, 515)
    report_table = pd.read_csv(tmp_path / 'svm_report.csv')
    assert set(report_table.property) == {'eyes', 'mouth', 'pose'}
    assert set(report_table.group) <= {'hhh', 'hhl', 'hlh', 'hll', 'lhh', 'lhl', 'llh', 'lll', 'all'}
    assert report_table.valid_accuracy.between(0, 1).all()
    assert os.path.exists(tmp_path / 'stylegan_gen_vector_find_v6.pth')
    assert os.path.exists(tmp_path / 'config.json')


def interrupt_after(monkeypatch, module, calls, name='render_and_score'):
    """Make `module.<name>` fail after `calls` calls, as a killed run would stop."""
    real, count = getattr(module, name), {'n': 0}

    def failing(*args, **kwargs):
        count['n'] += 1
        if count['n'] > calls:
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(module, name, failing)


def test_interrupted_stages_resume_to_the_same_result(models, tmp_path, monkeypatch):
    v6.run(args_for(models, tmp_path / 'straight', '--no-tsne'))
    resumed = tmp_path / 'resumed'
    with monkeypatch.context() as patch:
        interrupt_after(patch, vectorfind.sampling, 2)  # killed while sampling the third chunk
        with pytest.raises(KeyboardInterrupt):
            v6.run(args_for(models, resumed, '--no-tsne'))
    assert sorted(os.listdir(resumed / 'samples')) == ['chunk_00000.npz', 'chunk_00001.npz']
    with monkeypatch.context() as patch:
        interrupt_after(patch, vectorfind.generation_testing, 1, 'score_code_edits')  # during the second code
        with pytest.raises(KeyboardInterrupt):
            v6.run(args_for(models, resumed, '--no-tsne'))
    assert len(pd.read_csv(resumed / 'image_generation_report' / 'test_result.csv')) == 1
    v6.run(args_for(models, resumed, '--no-tsne'))
    for name in ('test_result.csv', 'latent_codes_all.csv'):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / 'straight' / 'image_generation_report' / name),
                                      pd.read_csv(resumed / 'image_generation_report' / name))
    for prop in ('eyes', 'pose'):
        name = f'property_score_vectors/{prop}_change_z_vector_lhl.csv'
        np.testing.assert_array_equal(load_direction(tmp_path / 'straight' / name, 515),
                                      load_direction(resumed / name, 515))


def test_stored_directions_are_reused_unless_retrain(models, tmp_path):
    v6.run(args_for(models, tmp_path, '--no-tsne', '--no-grouping', '--max-tries', '1'))
    path = tmp_path / 'property_score_vectors' / 'eyes_change_z_vector_all.csv'
    save_direction(np.ones((1, 515), np.float32) / np.sqrt(515), path)
    v6.run(args_for(models, tmp_path, '--no-tsne', '--no-grouping', '--max-tries', '1'))
    assert load_direction(path, 515)[0, 0] == pytest.approx(1 / np.sqrt(515))
    v6.run(args_for(models, tmp_path, '--no-grouping', '--max-tries', '1', '--retrain'))
    assert load_direction(path, 515)[0, 0] != pytest.approx(1 / np.sqrt(515))
    assert os.path.exists(tmp_path / 'tsne' / 'tsne_eyes_all.png')


def test_given_latents_and_group_names_are_tested_as_given(models, tmp_path):
    codes = draw_codes(2, 515, seed=5, purpose=1, block=0)
    pd.DataFrame(codes).to_csv(tmp_path / 'codes.csv', index=False)
    pd.DataFrame({'group_name': ['lll', 'hhh']}).to_csv(tmp_path / 'groups.csv', index=False)
    v6.run(args_for(models, tmp_path / 'out', '--no-tsne', '--latents', str(tmp_path / 'codes.csv'),
                    '--group-names', str(tmp_path / 'groups.csv')))
    report = tmp_path / 'out' / 'image_generation_report'
    assert list(pd.read_csv(report / 'test_result.csv').group_name) == ['lll', 'hhh']
    np.testing.assert_allclose(pd.read_csv(report / 'latent_codes_all.csv').to_numpy(), codes, rtol=1e-6)


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match='stylegan_gen_fine_tuned_v1.pth'):
        v6.main(['--preset', 'ohlora', '--device', 'cpu', '--out-dir', str(tmp_path)])


@pytest.fixture
def linear_cnn(monkeypatch):
    """A random CNN's scores have no linear trend in z to fit; the linear stand-in has one."""
    monkeypatch.setattr(v6, 'load_property_score_cnn', lambda path: LinearScores(3 * 16 * 16))


def test_least_squares_directions_are_the_conditional_moves_of_the_samples(models, tmp_path, linear_cnn):
    """--directions least-squares: streamed over the chunks, each direction is the unit move that
    changes its property and holds the other two, as one fit over the stored samples gives; with
    groups too small for a fit of 515 slopes, every group borrows the fit over all samples."""
    lstsq = ('--no-tsne', '--directions', 'least-squares', '--n', '2000', '--chunk-size', '800',
             '--max-tries', '1')
    v6.run(args_for(models, tmp_path, '--no-grouping', *lstsq))
    assert not os.path.exists(tmp_path / 'svm_report.csv')
    report = pd.read_csv(tmp_path / 'least_squares_report.csv')
    assert list(report.n) == [2000] * 3 and not report.borrowed_from_all.any()
    chunks = list(vectorfind.sampling.iter_chunks(tmp_path, 2000, 800))
    codes, scores = np.concatenate([c for c, _ in chunks]), np.concatenate([s for _, s in chunks])
    slopes, gram, _ = fit_property_directions(codes, scores[:, [0, 3, 4]])  # eyes, mouth, pose
    moves = conditional_moves(slopes, gram, np.eye(3))
    for k, prop in enumerate(('eyes', 'mouth', 'pose')):
        stored = load_direction(tmp_path / 'property_score_vectors' / f'{prop}_change_z_vector_all.csv', 515)
        np.testing.assert_allclose(stored[0], moves[:, k] / np.linalg.norm(moves[:, k]), atol=1e-5)
    v6.run(args_for(models, tmp_path, '--retrain', *lstsq))  # the same samples, grouped
    report = pd.read_csv(tmp_path / 'least_squares_report.csv')
    assert len(report) == 24 and report.borrowed_from_all.all() and (report.n == 2000).all()


def test_directions_of_another_method_are_not_reused(models, tmp_path):
    v6.run(args_for(models, tmp_path, '--no-tsne', '--no-grouping', '--max-tries', '1'))
    with pytest.raises(ValueError, match='--directions least-squares; add --retrain'):
        v6.run(args_for(models, tmp_path, '--no-tsne', '--no-grouping', '--max-tries', '1',
                        '--directions', 'least-squares', '--n', '700'))


def test_retrained_directions_are_tested_afresh(models, tmp_path):
    v6.run(args_for(models, tmp_path, '--no-tsne', '--no-grouping', '--max-tries', '2'))
    v6.run(args_for(models, tmp_path, '--no-tsne', '--no-grouping', '--max-tries', '1', '--retrain'))
    assert len(pd.read_csv(tmp_path / 'image_generation_report' / 'test_result.csv')) == 1


def test_bfloat16_scores_follow_float32_and_a_run_keeps_its_precision(models, tmp_path):
    """--precision bfloat16 runs the models under autocast: its stored scores differ from
    float32's by rounding, not by meaning, and a directory made in one precision is not continued
    in the other (its samples and tested codes would mix the two)."""
    v6.run(args_for(models, tmp_path / 'float32', '--no-tsne', '--max-tries', '1'))
    v6.run(args_for(models, tmp_path / 'bfloat16', '--no-tsne', '--max-tries', '1', '--precision', 'bfloat16'))
    exact, rounded = (np.concatenate([s for _, s in vectorfind.sampling.iter_chunks(tmp_path / name, 80, 20)])
                      for name in ('float32', 'bfloat16'))
    assert not np.array_equal(exact, rounded)
    # bfloat16 keeps 8 significant bits: each score within 2% of its float32 value.
    np.testing.assert_allclose(rounded, exact, rtol=0.02, atol=1e-3 * np.abs(exact).max())
    with pytest.raises(ValueError, match='used --precision bfloat16; continue it with that'):
        v6.run(args_for(models, tmp_path / 'bfloat16', '--no-tsne', '--max-tries', '1'))


def test_w_directions_are_saved_read_back_and_resumed(models, tmp_path, monkeypatch):
    """--space w: one unit direction of w_dim per property and group, in files named as v7's;
    a run killed during the test resumes to the same results."""
    args = ('--no-tsne', '--space', 'w', '--max-tries', '3')
    v6.run(args_for(models, tmp_path / 'straight', *args))
    for group in ('hhh', 'lll'):
        vector = load_direction(tmp_path / 'straight' / 'property_score_vectors' / f'pose_change_w_vector_{group}.csv', 32)
        assert vector.shape == (1, 32) and np.linalg.norm(vector) == pytest.approx(1, abs=1e-5)
    with monkeypatch.context() as patch:
        interrupt_after(patch, vectorfind.generation_testing, 1, 'score_code_edits')
        with pytest.raises(KeyboardInterrupt):
            v6.run(args_for(models, tmp_path / 'resumed', *args))
    v6.run(args_for(models, tmp_path / 'resumed', *args))
    for name in ('test_result.csv', 'latent_codes_all.csv'):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / 'straight' / 'image_generation_report' / name),
                                      pd.read_csv(tmp_path / 'resumed' / 'image_generation_report' / name))


def test_a_w_edit_renders_through_truncation_psi_1_and_only_on_its_layers():
    generator = convert_v1_to_v6(Generator(architecture('tiny')).eval())
    code = draw_codes(1, 515, seed=3, purpose=1, block=0)[0]
    directions = np.random.default_rng(0).standard_normal((3, 32)).astype(np.float32)
    in_w = CodeEditor(generator, LatentSpace('w'))
    with torch.inference_mode():
        unedited = in_w.edited(code, np.zeros((1, 3)), directions)
        np.testing.assert_array_equal(in_w.images(unedited).numpy(), images(generator, code[None], 'cpu').numpy())
        styles = CodeEditor(generator, LatentSpace('w', {'eyes': (2, 4)})).edited(code, np.array([[1.0, 0.0, 0.0]]),
                                                                                  directions)
    moved = (styles - unedited).abs().amax(dim=2)[0]
    assert (moved[2:4] > 0).all() and (moved[:2] == 0).all() and (moved[4:] == 0).all()
    with pytest.raises(ValueError, match='synthesis layers'):
        LatentSpace('w', {'pose': (0, 99)}).check(generator)
    with pytest.raises(ValueError, match='need --space w'):
        LatentSpace('z', {'pose': (0, 2)})


def test_max_leakage_makes_passing_harder_and_the_report_counts_both(models, tmp_path):
    v6.run(args_for(models, tmp_path, '--no-tsne', '--max-tries', '3', '--max-leakage', '0.000001'))
    statistics = pd.read_csv(tmp_path / 'image_generation_report' / 'test_statistics.csv')
    assert int(statistics.passed[0]) == 0 and 'passed_by_corr' in statistics.columns


def test_a_run_killed_during_its_t_sne_redoes_the_plots_on_resume(models, tmp_path):
    v6.run(args_for(models, tmp_path, '--no-grouping', '--max-tries', '1'))
    plots = sorted(os.listdir(tmp_path / 'tsne'))
    assert 'finished.json' in plots and 'tsne_eyes_all.png' in plots
    os.remove(tmp_path / 'tsne' / 'finished.json')  # as if killed before the last plot
    os.remove(tmp_path / 'tsne' / 'tsne_eyes_all.png')
    before = pd.read_csv(tmp_path / 'image_generation_report' / 'test_result.csv')
    v6.run(args_for(models, tmp_path, '--no-grouping', '--max-tries', '1'))
    assert sorted(os.listdir(tmp_path / 'tsne')) == plots
    pd.testing.assert_frame_equal(before, pd.read_csv(tmp_path / 'image_generation_report' / 'test_result.csv'))
