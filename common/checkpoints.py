"""Reading, checking and writing model files.

Two kinds of file are read:

* a published Oh-LoRA checkpoint: a raw `state_dict` saved with `torch.save`;
* a file written by this repository: `{'format': FORMAT, 'config': {...}, 'state_dict': {...}}`,
  so that a small preset loads without being told its widths.

Everything is read with `torch.load(..., weights_only=True)`: a file from the internet can hold
tensors and plain containers, never code.
"""
import os
import pickle

import torch

from common.files import atomic_write
from common.paths import MODELS_DIR

FORMAT = 'ohlora-repro-checkpoint-1'

_REPO_V1 = 'daebakgazua/250408_OhLoRA_StyleGAN_FineTuned'
_REPO_V2 = 'daebakgazua/250502_OhLoRA_StyleGAN_FineTuned'

# Where each published file can be downloaded (by the user, never by this code).
PUBLISHED_FILES = {
    'stylegan_gen_fine_tuned_v1.pth': _REPO_V1,
    'stylegan_dis_fine_tuned_v1.pth': _REPO_V1,
    'stylegan_gen_vector_find_v6.pth': _REPO_V2,
    'stylegan_gen_vector_find_v7.pth': _REPO_V2,
    'stylegan_gen_fine_tuned_v5.pth': _REPO_V2,
    'stylegan_dis_fine_tuned_v5.pth': _REPO_V2,
    'stylegan_gen_fine_tuned_v2_cnn.pth': _REPO_V2,
}


class CheckpointError(ValueError):
    """A model file is missing, unsafe, or does not fit the model it is loaded into."""


def missing_file_message(path):
    name = os.path.basename(path)
    message = f'model file not found: {path}'
    if name in PUBLISHED_FILES:
        message += (f'\n{name} is published on HuggingFace at {PUBLISHED_FILES[name]};'
                    f' download it yourself and put it at {os.path.join(MODELS_DIR, name)}')
    return message


def read_checkpoint(source):
    """Return `(state_dict, config)` from a path or an in-memory state dict.

    `config` is the model configuration stored by this repository's own files, or None for a raw
    (published) state dict.
    """
    if isinstance(source, dict):
        obj, where = source, 'the given state dict'
    else:
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise CheckpointError(missing_file_message(path))
        try:
            obj = torch.load(path, map_location='cpu', weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as error:
            raise CheckpointError(
                f'{path}: refused. It is not a plain state dict of tensors that can be read with'
                f' weights_only=True (loading it would need pickled code, or it is not a torch'
                f' file). Original error: {str(error).splitlines()[0]}') from None
        where = path
    if not isinstance(obj, dict):
        raise CheckpointError(f'{where}: expected a state dict (a dict of tensors),'
                              f' found {type(obj).__name__}')
    if obj.get('format') == FORMAT:
        state_dict, config = obj['state_dict'], dict(obj['config'])
    else:
        state_dict, config = obj, None
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f'{where}: key {key!r} holds a {type(value).__name__},'
                                  f' expected a tensor')
    return state_dict, config


def load_into(module, state_dict, where, variant):
    """Load `state_dict` into `module`, or say which key does not fit, with both shapes."""
    expected = module.state_dict()
    for key, tensor in expected.items():
        if key not in state_dict:
            raise CheckpointError(f'{where}: not a {variant} checkpoint: key {key!r}'
                                  f' (shape {list(tensor.shape)}) is missing')
        found = state_dict[key]
        if tuple(found.shape) != tuple(tensor.shape):
            raise CheckpointError(f'{where}: not a {variant} checkpoint: key {key!r} has shape'
                                  f' {list(found.shape)}, expected {list(tensor.shape)}')
    for key in state_dict:
        if key not in expected:
            raise CheckpointError(f'{where}: not a {variant} checkpoint: unexpected key {key!r}')
    module.load_state_dict(state_dict)
    return module


def describe(source):
    return 'the given state dict' if isinstance(source, dict) else os.fspath(source)


def save_checkpoint(path, state_dict, config):
    """Write a self-describing checkpoint atomically."""
    payload = {'format': FORMAT, 'config': dict(config),
               'state_dict': {k: v.detach().cpu() for k, v in state_dict.items()}}
    with atomic_write(path) as tmp:
        torch.save(payload, tmp)
