"""Tiny finished runs of the two jobs, made once per session for the tests that read a run folder
(the steering API and the notebooks)."""
import shutil

import pytest

import finetune_v5.pipeline
from finetune_v5.pipeline import parse_args as finetune_args, train
from tiny_models import write_finetune_inputs, write_tiny_models
from vectorfind.pipeline import VectorFindSettings, run


@pytest.fixture(scope='session')
def tiny_vectorfind_runs(tmp_path_factory):
    """{'grouped': a run with the SPEC's grouped SVMs in z, two codes tested; 'w': one SVM
    direction per property over all samples in w (v7), the eyes edit on the first two synthesis
    layers only, each code's directions held to it (the local hold), one code tested}: 80 samples of a tiny 16 px generator scored by a narrow random
    CNN, no t-SNE, seconds each. The CNN-derived table scores the generator's own faces, so that
    the median split gives every group members."""
    root = write_tiny_models(tmp_path_factory.mktemp('vectorfind_runs'), 16)
    variants = {'grouped': dict(grouping=True, max_tries=2, space='z', layers=None, hold='core',
                                local_hold=False),
                'w': dict(grouping=False, max_tries=1, space='w', layers='eyes=0-2')}
    for name, options in variants.items():
        if name != 'grouped':  # the first run's samples, which a re-run would reuse
            shutil.copytree(root / 'grouped' / 'samples', root / name / 'samples')
        run(VectorFindSettings(generator=str(root / 'generator.pth'), cnn=str(root / 'cnn.pth'),
                               scores_table=str(root / 'all_scores_v2_cnn.csv'), n=80, chunk_size=40,
                               ratio=0.25, batch_size=10, num_pass=3, directions='svm', no_tsne=True,
                               device='cpu', out_dir=str(root / name), **options))
    return {name: root / name for name in variants}


@pytest.fixture(scope='session')
def tiny_finetune_run(tmp_path_factory):
    """A FineTune-v5 run of one batch (faithful preset) of a tiny generator on 24 random 256 px
    images, with every output the real run writes; its sample set at psi 0.5 alone (of five) and
    leakage's unit from 16 faces (of 1,000), since each costs as much as the training."""
    root = write_finetune_inputs(tmp_path_factory.mktemp('finetune_run'))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(finetune_v5.pipeline, 'SAMPLE_PSIS', (0.5,))
        train(finetune_args(['--preset', 'faithful', '--generator', str(root / 'base.pth'),
                             '--property-cnn', str(root / 'cnn.pth'), '--scores', str(root / 'scores.csv'),
                             '--out-dir', str(root / 'run'), '--steps', '1', '--batch-size', '4',
                             '--max-minutes', '0', '--spread-samples', '16', '--device', 'cpu']))
    return root / 'run'
