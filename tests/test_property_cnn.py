import os

import numpy as np
import pytest
import torch

from common.checkpoints import CheckpointError
from common.parity_weights import parity_state_dict
from scores.properties import PROPERTY_NAMES
from property_score_cnn import (PropertyScoreCNN, load_property_score_cnn, save_property_score_cnn,
                                score_images)
from finetune_v5.property_discriminator import (PropertyDiscriminator, init_from_property_score_cnn,
                                             load_property_discriminator)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures')

CNN_FILE = 'stylegan_gen_fine_tuned_v2_cnn.pth'
DISCRIMINATOR_FILE = 'stylegan_dis_fine_tuned_v5.pth'


@pytest.fixture(scope='module')
def parity():
    return np.load(os.path.join(FIXTURES, 'generator_parity_seed1.npz'))


def relative_error(actual, expected):
    return np.linalg.norm(actual - expected) / np.linalg.norm(expected)


def test_property_cnn_matches_the_original(parity):
    cnn = load_property_score_cnn(parity_state_dict(CNN_FILE))
    scores = score_images(cnn, parity['image_in'])
    assert relative_error(scores, parity['property_cnn_scores']) < 1e-4


def test_v5_discriminator_matches_the_original(parity):
    discriminator = load_property_discriminator(parity_state_dict(DISCRIMINATOR_FILE))
    with torch.no_grad():
        logits = discriminator(torch.from_numpy(parity['image_in']),
                               torch.from_numpy(parity['label3'])).numpy()
    assert relative_error(logits, parity['v5_discriminator_scores']) < 1e-4


def test_discriminator_starts_from_the_cnn():
    cnn, discriminator = PropertyScoreCNN(width=0.25), PropertyDiscriminator(width=0.25)
    init_from_property_score_cnn(discriminator, cnn)
    for key, value in discriminator.state_dict().items():
        if not key.startswith('fc'):
            assert torch.equal(value, cnn.state_dict()[key]), key


def test_wrong_shape_names_the_first_bad_key_and_both_shapes():
    state_dict = parity_state_dict(CNN_FILE)
    state_dict['eyes_score_cnn.conv2.0.weight'] = torch.zeros(64, 32, 5, 5)
    state_dict['pose_score_cnn.fc1.0.weight'] = torch.zeros(256, 10)
    with pytest.raises(CheckpointError) as error:
        load_property_score_cnn(state_dict)
    message = str(error.value)
    assert "'eyes_score_cnn.conv2.0.weight'" in message and 'pose' not in message
    assert '[64, 32, 5, 5]' in message and '[64, 32, 3, 3]' in message


def test_missing_published_file_says_where_to_get_it(tmp_path):
    with pytest.raises(CheckpointError) as error:
        load_property_score_cnn(tmp_path / CNN_FILE)
    message = str(error.value)
    assert 'daebakgazua/250502_OhLoRA_StyleGAN_FineTuned' in message
    assert os.path.join('models', CNN_FILE) in message


class _CreatesMarker:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, 'w')


def test_pickled_code_is_refused(tmp_path):
    marker, path = tmp_path / 'marker', tmp_path / CNN_FILE
    torch.save({'eyes_score_cnn.conv1.0.weight': _CreatesMarker(str(marker))}, path)
    with pytest.raises(CheckpointError, match='refused'):
        load_property_score_cnn(path)
    assert not marker.exists()


def test_uint8_and_small_inputs():
    cnn = PropertyScoreCNN(width=0.25).eval()
    generator = np.random.default_rng(0)
    pixels = generator.integers(0, 256, size=(3, 64, 64, 3), dtype=np.uint8)
    from_uint8 = score_images(cnn, pixels, batch_size=2)
    as_float = pixels.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1
    assert from_uint8.shape == (3, len(PROPERTY_NAMES)) and from_uint8.dtype == np.float32
    np.testing.assert_allclose(from_uint8, score_images(cnn, as_float), rtol=1e-5, atol=1e-5)


def test_wrong_layout_is_explained():
    with pytest.raises(ValueError, match=r'\[N, 3, H, W\]'):
        score_images(PropertyScoreCNN(width=0.25), np.zeros((2, 64, 64, 3), np.float32))


def test_save_and_load_keep_the_width(tmp_path):
    cnn = PropertyScoreCNN(width=0.25)
    eyes = cnn.eyes_score_cnn
    assert eyes.conv4[0].out_channels == 32 and eyes.fc1[0].out_features == 64
    save_property_score_cnn(cnn, tmp_path / 'cnn.pth')
    loaded = load_property_score_cnn(tmp_path / 'cnn.pth')
    assert loaded.width == 0.25 and not loaded.training
    for key, value in cnn.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key


def test_coupling_of_label_map_and_cnn_scores_on_the_same_faces(tmp_path):
    from property_score_cnn.evaluate import coupling
    save_property_score_cnn(PropertyScoreCNN(width=0.125), tmp_path / 'cnn.pth')
    tables = coupling(tmp_path / 'cnn.pth', 24, 5, 64)
    assert set(tables) == {'label_maps', 'cnn'}
    for table in tables.values():
        assert list(table.columns) == list(PROPERTY_NAMES) and 'abs_head_turn' in table.index
    assert tables['label_maps'].loc['mouth_openness', 'mouth'] > 0.8
