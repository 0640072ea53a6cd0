"""`python -m stylegan.generate`, called in-process: what it writes, how it refuses bad input."""
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from stylegan import Generator, convert_v1_to_v6, architecture, save_generator
from common.images import contact_sheet, to_uint8
from stylegan.generate import main

CODE_DIM = 515  # VectorFind-v6: z (512) then the 3-dim label


@pytest.fixture(scope='module')
def saved_generator(tmp_path_factory):
    """A small v6 generator and the file it was saved to."""
    torch.manual_seed(0)
    generator = convert_v1_to_v6(Generator(architecture('tiny')))
    path = tmp_path_factory.mktemp('models') / 'generator.pth'
    save_generator(generator, path)
    return generator, path


def write_codes(codes, path):
    """As the original stores latent codes: integer column names 0..514, no index column."""
    pd.DataFrame(codes).to_csv(path, index=False)
    return path


def generate(generator_path, out_dir, *source):
    main(['--generator', str(generator_path), '--variant', 'v6', '--device', 'cpu',
          '--out-dir', str(out_dir), *source])


def read_images(out_dir, count):
    return np.stack([np.asarray(Image.open(out_dir / f'{i:05d}.png')) for i in range(count)])


def test_latent_csv_renders_the_generators_own_images(saved_generator, tmp_path):
    generator, path = saved_generator
    codes = np.random.default_rng(1).standard_normal((5, CODE_DIM)).astype(np.float32)
    generate(path, tmp_path / 'faces', '--latents', str(write_codes(codes, tmp_path / 'codes.csv')))

    with torch.no_grad():
        z, label = torch.from_numpy(codes[:, :512]), torch.from_numpy(codes[:, 512:])
        expected = to_uint8(generator(z, label)['image'])
    written = read_images(tmp_path / 'faces', len(codes))
    np.testing.assert_array_equal(written, expected)
    sheet = np.asarray(Image.open(tmp_path / 'faces' / 'contact_sheet.png'))
    np.testing.assert_array_equal(sheet, contact_sheet(expected))


def test_random_codes_are_reproducible_from_the_seed(saved_generator, tmp_path):
    _, path = saved_generator
    for run in ('first', 'second'):
        generate(path, tmp_path / run, '--num', '3', '--seed', '5')
    first, second = (read_images(tmp_path / run, 3) for run in ('first', 'second'))
    np.testing.assert_array_equal(first, second)
    assert not (tmp_path / 'first' / '00003.png').exists()


def test_latent_csv_with_wrong_number_of_columns_is_refused(saved_generator, tmp_path):
    _, path = saved_generator
    csv = write_codes(np.zeros((2, CODE_DIM - 1)), tmp_path / 'short.csv')
    with pytest.raises(SystemExit) as refusal:
        generate(path, tmp_path / 'faces', '--latents', str(csv))
    assert str(csv) in refusal.value.code
    assert f'expected {CODE_DIM} columns' in refusal.value.code
    assert f'found {CODE_DIM - 1}' in refusal.value.code


def test_latent_csv_with_a_nan_names_its_row_and_column(saved_generator, tmp_path):
    _, path = saved_generator
    codes = np.zeros((3, CODE_DIM))
    codes[1, 7] = np.nan
    csv = write_codes(codes, tmp_path / 'nan.csv')
    with pytest.raises(SystemExit) as refusal:
        generate(path, tmp_path / 'faces', '--latents', str(csv))
    assert str(csv) in refusal.value.code
    assert "row 1, column '7'" in refusal.value.code


def test_missing_generator_file_exits_with_a_message(tmp_path):
    missing = tmp_path / 'no_such_generator.pth'
    with pytest.raises(SystemExit) as refusal:
        generate(missing, tmp_path / 'faces', '--num', '1')
    assert refusal.value.code == f'error: model file not found: {missing}'
    assert not (tmp_path / 'faces').exists()
