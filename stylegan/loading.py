"""Loading, saving and converting generators.

A published Oh-LoRA generator is a raw state dict: its variant (v1, v5 or v6) says its shape. A
file saved here carries its configuration, so a small architecture loads without being told its widths.
The conversions are the ones the original scripts make before VectorFind-v6 and FineTune-v5.
"""
import torch

from common.checkpoints import (GENERATOR, CheckpointError, describe, load_into, read_checkpoint,
                                save_checkpoint)
from stylegan.generator import Generator
from stylegan.architectures import ARCHITECTURES, VARIANTS, as_variant, architecture


def _config_for(stored_config, variant, where):
    if stored_config is None:
        if variant not in ARCHITECTURES:
            raise KeyError(f'unknown variant or architecture {variant!r};'
                           f' expected one of {VARIANTS} or {sorted(set(ARCHITECTURES) - set(VARIANTS))}')
        return architecture(variant)
    missing = sorted(set(ARCHITECTURES['v1']) - {'label_mode', 'label_dim', 'conditional_truncation'}
                     - set(stored_config))
    if missing:
        raise CheckpointError(f'{where}: not a {GENERATOR} checkpoint: its stored configuration'
                              f' lacks {missing}')
    # The repository's own files know their body; a variant only says how the label enters.
    return as_variant(stored_config, variant) if variant in VARIANTS else stored_config


def load_generator(source, variant):
    """A generator in eval mode from a file path or a state dict.

    `variant` is "v1", "v5", "v6" or an architecture name. A published raw state dict is read as that
    variant of the 256 px Oh-LoRA StyleGAN; a checkpoint that does not fit fails naming the first
    key that differs and both shapes.
    """
    state_dict, stored_config = read_checkpoint(source, GENERATOR)
    generator = Generator(_config_for(stored_config, variant, describe(source)))
    load_into(generator, state_dict, describe(source), f'{variant} generator')
    return generator.eval()


def save_generator(generator, path):
    save_checkpoint(path, generator.state_dict(), generator.config, GENERATOR)


def _convert(generator, variant, reinitialise, seed):
    """A copy of `generator` with the label entering as `variant` does; the keys in
    `reinitialise` are drawn anew from N(0, 1) with `seed` (then scaled as genforce initialises)."""
    converted = Generator(as_variant(generator.config, variant))
    target = converted.state_dict()
    kept = generator.state_dict()
    source = {key: kept[key] for key in target if key not in reinitialise}
    rng = torch.Generator().manual_seed(seed)
    for key in reinitialise:
        scale = 1.0 / generator.config['mapping_lr_mul'] if key.startswith('mapping.dense') else 1.0
        source[key] = torch.randn(target[key].shape, generator=rng) * scale
    converted.load_state_dict(source)
    return converted.eval()


def convert_v1_to_v6(generator, seed=0):
    """VectorFind-v6: the 7-dim label embedding [7, 16] is dropped and a 3-dim one [3, 16] drawn
    from a seeded N(0, 1); everything else is kept."""
    return _convert(generator, 'v6', ['mapping.label_weight'], seed)


def convert_v1_to_v5(generator, seed=0):
    """FineTune-v5: no label embedding; the 3-dim label is concatenated to z, so the first mapping
    layer's weight is re-initialised for its z_dim + 3 inputs (its bias is kept)."""
    return _convert(generator, 'v5', ['mapping.dense0.weight'], seed)
