"""The inspection notebooks execute headless, without a cell error, on tiny runs, and are
committed without outputs."""
import shutil
import time

import nbformat
import numpy as np
import pytest

from common.images import contact_sheet, save_png
from notebooks.export import NOTEBOOKS, execute, notebook_path
from vectorfind.steering import Steering, read_tested_codes

SECONDS = 60  # each notebook, on its tiny run


def figures(notebook):
    return sum('image/png' in output.get('data', {}) for cell in notebook.cells
               for output in cell.get('outputs', []))


@pytest.mark.parametrize('name', sorted(NOTEBOOKS))
def test_committed_without_outputs(name):
    notebook = nbformat.read(notebook_path(name), as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == 'code']
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    tagged = [cell for cell in code if 'parameters' in cell.metadata.get('tags', [])]
    assert len(tagged) == 1 and NOTEBOOKS[name][0] in tagged[0].source


@pytest.fixture
def vectorfind_run(tiny_vectorfind_runs, tmp_path):
    """The tiny grouped run, with stand-ins for what a run of random models does not make in
    seconds (a passing grid, a t-SNE plot), so that the cells showing them run too."""
    run_dir = shutil.copytree(tiny_vectorfind_runs['grouped'], tmp_path / 'run', ignore=shutil.ignore_patterns('samples'))
    steering = Steering.from_run(run_dir)
    faces = steering.strip(read_tested_codes(run_dir, steering.code_dim)[1][0], 'mouth', np.linspace(-2.4, 2.4, 10))
    save_png(contact_sheet(faces, columns=10), run_dir / 'image_generation_report' / 'passed_case_0000.png')
    save_png(contact_sheet(faces, columns=5), run_dir / 'tsne' / 'tsne_eyes_hhh.png')
    return run_dir


def test_vectorfind_notebook_runs(vectorfind_run):
    started = time.time()
    notebook = execute('inspect_vectorfind', vectorfind_run, timeout=SECONDS)
    assert time.time() - started < SECONDS
    assert figures(notebook) >= 5  # correlations, leakage or none, the grid, t-SNE, strips, faces


def test_finetune_notebook_runs(tiny_finetune_run):
    started = time.time()
    notebook = execute('inspect_finetune_v5', tiny_finetune_run, timeout=SECONDS)
    assert time.time() - started < SECONDS
    assert figures(notebook) >= 3  # curves, the sample grid, faces


def test_characters_notebook_runs(tiny_vectorfind_runs, tmp_path):
    """On a copy of the tiny run in w: it picks two characters itself, then asks and animates."""
    run_dir = shutil.copytree(tiny_vectorfind_runs['w'], tmp_path / 'run', ignore=shutil.ignore_patterns('samples'))
    started = time.time()
    notebook = execute('characters', run_dir, timeout=SECONDS)
    assert time.time() - started < SECONDS
    assert (run_dir / 'characters' / 'character_00.npz').exists()
    assert figures(notebook) >= 4  # contact sheet, reach, requested faces, timeline, frames sheet
