"""The generator against the original implementation's outputs, and its loading contract."""
import os

import numpy as np
import pytest
import torch

from common.checkpoints import CheckpointError
from common.parity_weights import parity_state_dict
from stylegan import (Generator, convert_v1_to_v5, convert_v1_to_v6, load_generator, architecture,
                      save_generator)
from stylegan.generator import W_AVG_SAMPLES, W_AVG_SEED

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures')

PUBLISHED = {'v1': 'stylegan_gen_fine_tuned_v1.pth',
             'v6': 'stylegan_gen_vector_find_v6.pth',
             'v5': 'stylegan_gen_fine_tuned_v5.pth'}


@pytest.fixture(scope='module')
def reference():
    return dict(np.load(f'{FIXTURES}/generator_parity_seed1.npz'))


@pytest.fixture(scope='module')
def parity_generators():
    return {v: load_generator(parity_state_dict(f), v) for v, f in PUBLISHED.items()}


def relative_error(actual, expected):
    return np.linalg.norm(actual - expected) / np.linalg.norm(expected)


@pytest.mark.parametrize('variant, label_key, image_key', [
    ('v1', 'label7', 'v1_image'), ('v6', 'label3', 'v6_image'), ('v5', 'label3', 'v5_image_psi1')])
def test_forward_pass_matches_original(reference, parity_generators, variant, label_key, image_key):
    z, label = torch.from_numpy(reference['z']), torch.from_numpy(reference[label_key])
    with torch.no_grad():
        out = parity_generators[variant](z, label, trunc_psi=float(reference['trunc_psi']),
                                         trunc_layers=int(reference['trunc_layers']))
    assert relative_error(out['w'].numpy(), reference[f'{variant}_w']) < 1e-4
    assert relative_error(out['image'].numpy(), reference[image_key]) < 1e-4


def test_truncation_pulls_first_layers_towards_w_avg(reference, parity_generators):
    G = parity_generators['v6']
    z, label = torch.from_numpy(reference['z']), torch.from_numpy(reference['label3'])
    w_avg = torch.linspace(-1, 1, 512)
    G.truncation.w_avg.copy_(w_avg)
    psi, layers = 0.7, 8
    with torch.no_grad():
        out = G(z, label, trunc_psi=psi, trunc_layers=layers)
        w = torch.from_numpy(reference['v6_w'])
        expected = w.unsqueeze(1).repeat(1, 14, 1)
        expected[:, :layers] = w_avg + psi * (w.unsqueeze(1) - w_avg)
        image = G.synthesis(expected)
    assert torch.allclose(out['wp'], expected, rtol=1e-5, atol=1e-5)
    assert torch.allclose(out['wp'][:, layers:], w.unsqueeze(1).expand(-1, 14 - layers, -1), atol=1e-5)
    assert relative_error(out['image'].numpy(), image.numpy()) < 1e-5
    assert relative_error(out['image'].numpy(), reference['v6_image']) > 1e-3


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return Generator(architecture('tiny')).eval()


def test_conditional_truncation_uses_each_labels_own_w_avg(tiny):
    G = convert_v1_to_v5(tiny)
    z = torch.randn(3, 512)
    labels = torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5], [1.0, 0.0, -1.0]])
    fixed_z = torch.randn(W_AVG_SAMPLES, 512, generator=torch.Generator().manual_seed(W_AVG_SEED))
    with torch.no_grad():
        w_avg = torch.stack([G.mapping(fixed_z, row.expand(W_AVG_SAMPLES, 3)).mean(0) for row in labels])
        w = G.mapping(z, labels)
        out = G(z, labels, trunc_psi=0.5, trunc_layers=0)
    expected = (w_avg + 0.5 * (w - w_avg)).unsqueeze(1).expand(-1, G.num_layers, -1)
    assert torch.allclose(out['wp'], expected, atol=1e-5)


def test_conditional_w_avg_cache_follows_weight_updates(tiny):
    G = convert_v1_to_v5(tiny)
    label = torch.zeros(1, 3)
    first = G.conditional_w_avg(label)
    assert torch.equal(G.conditional_w_avg(label), first)
    with torch.no_grad():
        G.mapping.dense1.bias.add_(1.0)
    assert not torch.allclose(G.conditional_w_avg(label), first)


def test_wrong_variant_names_first_bad_key_and_both_shapes():
    with pytest.raises(CheckpointError, match=r"mapping\.label_weight.*\[7, 16\].*\[3, 16\]"):
        load_generator(parity_state_dict(PUBLISHED['v1']), 'v6')
    with pytest.raises(CheckpointError, match=r"mapping\.dense0\.weight.*\[512, 515\].*\[512, 528\]"):
        state = parity_state_dict(PUBLISHED['v5'])
        state['mapping.label_weight'] = torch.zeros(7, 16)
        load_generator(state, 'v1')
    with pytest.raises(CheckpointError, match=r"label_weight.*missing"):
        load_generator(parity_state_dict(PUBLISHED['v5']), 'v1')


def test_missing_published_file_says_where_to_get_it(tmp_path):
    with pytest.raises(CheckpointError) as error:
        load_generator(tmp_path / 'stylegan_gen_fine_tuned_v1.pth', 'v1')
    message = str(error.value)
    assert 'daebakgazua/250408_OhLoRA_StyleGAN_FineTuned' in message
    assert 'models/stylegan_gen_fine_tuned_v1.pth' in message
    with pytest.raises(CheckpointError, match='daebakgazua/250502_OhLoRA_StyleGAN_FineTuned'):
        load_generator(tmp_path / 'stylegan_gen_vector_find_v6.pth', 'v6')


def test_v1_to_v6_redraws_only_the_label_embedding(tiny):
    v6 = convert_v1_to_v6(tiny, seed=3)
    before, after = tiny.state_dict(), v6.state_dict()
    assert after['mapping.label_weight'].shape == (3, 16)
    assert torch.equal(after['mapping.label_weight'], convert_v1_to_v6(tiny, seed=3).mapping.label_weight)
    assert not torch.equal(after['mapping.label_weight'], convert_v1_to_v6(tiny, seed=4).mapping.label_weight)
    assert set(after) == set(before)
    for key in after:
        if key != 'mapping.label_weight':
            assert torch.equal(after[key], before[key]), key


def test_v1_to_v5_reinitialises_first_mapping_weight(tiny):
    v5 = convert_v1_to_v5(tiny)
    state = v5.state_dict()
    assert 'mapping.label_weight' not in state
    assert state['mapping.dense0.weight'].shape == (32, 515)
    assert torch.equal(state['mapping.dense0.bias'], tiny.state_dict()['mapping.dense0.bias'])
    # genforce initialises a mapping weight as N(0, 1) / lr_mul
    assert 50 < state['mapping.dense0.weight'].std() < 200


def test_own_files_carry_their_configuration(tiny, tmp_path):
    path = tmp_path / 'g.pth'
    save_generator(convert_v1_to_v6(tiny), path)
    loaded = load_generator(path, 'v6')
    assert loaded.config['resolution'] == 16 and loaded.label_dim == 3
    z, label = torch.randn(2, 512), torch.randn(2, 3)
    with torch.no_grad():
        assert torch.equal(loaded(z, label)['image'], convert_v1_to_v6(tiny)(z, label)['image'])
    with pytest.raises(CheckpointError, match='label_weight'):
        load_generator(path, 'v1')


def test_random_noise_and_lod(tiny):
    z, label = torch.randn(2, 512), torch.randn(2, 7)
    with torch.no_grad():
        fixed = tiny(z, label)['image']
        assert torch.equal(fixed, tiny(z, label)['image'])
        coarse = tiny(z, label, lod=1)['image']
    assert coarse.shape == fixed.shape == (2, 3, 16, 16)
    # at lod 1 the 16 px image is the 8 px output, nearest-upsampled
    assert torch.equal(coarse[:, :, ::2, ::2], coarse[:, :, 1::2, 1::2])


def test_bad_inputs_say_what_shape_was_expected(tiny):
    with pytest.raises(ValueError, match=r'z must have shape \[batch, 512\]'):
        tiny(torch.randn(2, 100), torch.randn(2, 7))
    with pytest.raises(ValueError, match=r'label must have shape \[2, 7\]'):
        tiny(torch.randn(2, 512), torch.randn(2, 3))


@pytest.mark.parametrize('variant', ['v1', 'v6', 'v5'])
def test_state_dict_keys_come_in_the_published_order(variant):
    # The order decides which key a shape-mismatch message names first.
    assert list(Generator(architecture(variant)).state_dict()) == list(parity_state_dict(PUBLISHED[variant]))
