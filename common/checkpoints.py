"""Reading, checking and writing model files.

Two kinds of file are read:

* a published Oh-LoRA checkpoint: a raw `state_dict` saved with `torch.save`;
* a file written by this repository: `{'format': FORMAT, 'config': {...}, 'state_dict': {...},
  'kind': ...}`, so that a small preset loads without being told its widths, and a file given
  in the place of another (a CNN as the generator) is refused saying what it holds. (`kind`
  is newer than the format; older files are recognised by their keys.)

Everything is read with `torch.load(..., weights_only=True)`: a file from the internet can hold
tensors and plain containers, never code.
"""
import os
import pickle
import time

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


# What a file holds, in words: the `kind` argument of `read_checkpoint` and `save_checkpoint`.
GENERATOR = 'StyleGAN generator'
DISCRIMINATOR = 'StyleGAN discriminator'
PROPERTY_SCORE_CNN = 'Property Score CNN'
V5_DISCRIMINATOR = 'FineTune-v5 discriminator'
KINDS = (GENERATOR, DISCRIMINATOR, PROPERTY_SCORE_CNN, V5_DISCRIMINATOR)
_TRAINING_STATES = {
    ('G', 'D', 'G_ema'): 'training checkpoint of base_training.train (the generator is the'
                         ' generator.pth beside it)',
    ('model', 'optimizer', 'best_weights'): 'training checkpoint of property_score_cnn.train (the'
                                            ' CNN is the file given as its --out)',
}


def first_line(error):
    """The first line (first sentence, if long) of an exception's message, after its type."""
    lines = str(error).strip().splitlines()
    line = lines[0] if lines else ''
    if len(line) > 120 and '. ' in line:
        line = line[:line.index('. ') + 1]
    return f'{type(error).__name__}: {line}' if line else type(error).__name__


def file_kind(state_dict):
    """Which of `KINDS` a state dict's keys are those of (published or this repository's), a
    description of a training state, or None when its keys say nothing."""
    keys = set(state_dict)
    for marks, description in _TRAINING_STATES.items():
        if set(marks) <= keys:
            return description
    prefixes = {str(key).split('.')[0] for key in keys}
    if {'mapping', 'synthesis'} <= prefixes:
        return GENERATOR
    if 'input0' in prefixes and 'layer0' in prefixes:
        return DISCRIMINATOR
    if 'eyes_score_cnn' in prefixes:
        return PROPERTY_SCORE_CNN if 'hair_color_score_cnn' in prefixes else V5_DISCRIMINATOR
    return None


def read_state(path, map_location='cpu', remedy='replace it with a complete file'):
    """`torch.load(path, weights_only=True)` of any file this repository writes (a model or a
    training state); a missing, empty, truncated or unsafe file is a `CheckpointError` naming it
    and saying what to do (`remedy`)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(missing_file_message(path) if not os.path.isdir(path)
                              else f'{path} is a folder; expected a model file (.pth)')
    if os.path.getsize(path) == 0:
        raise CheckpointError(f'{path}: the file is empty (0 bytes), not a torch checkpoint (an'
                              f' interrupted download or copy?); {remedy}')
    with open(path, 'rb') as file:
        head = file.read(8)
    if not (head.startswith(b'PK') or head.startswith(b'\x80')):
        raise CheckpointError(f'{path}: not a torch checkpoint (torch.save writes a zip archive,'
                              f' or a pickle; this file begins {head!r}); {remedy}')
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f'{path}: refused. It is not a plain state dict of tensors that can be read with'
            f' weights_only=True (loading it would need pickled code, or it is not a torch'
            f' file). Original error: {first_line(error)}') from None
    except (RuntimeError, EOFError, ValueError, OSError, IndexError, KeyError) as error:
        raise CheckpointError(
            f'{path}: not a readable torch checkpoint (truncated, damaged or another kind of'
            f' file; {os.path.getsize(path)} bytes); {remedy}. Original error: {first_line(error)}') from None


def read_checkpoint(source, kind=None):
    """Return `(state_dict, config)` from a path or an in-memory state dict.

    `config` is the model configuration stored by this repository's own files, or None for a raw
    (published) state dict. `kind` (one of `KINDS`): the model the caller expects; a file that
    holds another (by the kind it stores, else by its keys) is refused saying what it holds.
    """
    if isinstance(source, dict):
        obj, where = source, 'the given state dict'
    else:
        obj = read_state(source)
        where = os.fspath(source)
    if not isinstance(obj, dict):
        raise CheckpointError(f'{where}: expected a state dict (a dict of tensors),'
                              f' found {type(obj).__name__}')
    if obj.get('format') == FORMAT:
        if not isinstance(obj.get('state_dict'), dict) or not isinstance(obj.get('config'), dict):
            raise CheckpointError(f'{where}: a damaged checkpoint of this repository (no state'
                                  f' dict or no config)')
        state_dict, config = obj['state_dict'], dict(obj['config'])
        found = obj.get('kind') or file_kind(state_dict)
    else:
        state_dict, config = obj, None
        found = file_kind(state_dict)
    if kind is not None and found is not None and found != kind:
        raise CheckpointError(f'{where}: not a {kind} checkpoint: the file holds a {found};'
                              f' give a {kind} file')
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


def save_checkpoint(path, state_dict, config, kind=None):
    """Write a self-describing checkpoint atomically; `kind` (one of `KINDS`) says what it holds
    (files written before it was stored are recognised by their keys)."""
    payload = {'format': FORMAT, 'config': dict(config),
               'state_dict': {k: v.detach().cpu() for k, v in state_dict.items()}}
    if kind is not None:
        payload['kind'] = kind
    with atomic_write(path) as tmp:
        torch.save(payload, tmp)


class CheckpointClock:
    """When a few minutes of training are at stake since the last checkpoint: `minutes` of wall
    time (0 = never by time; the trainer's own epoch or step checkpoints still happen)."""

    def __init__(self, minutes):
        self.minutes = minutes
        self.saved = time.time()

    def due(self):
        return bool(self.minutes) and time.time() - self.saved > self.minutes * 60

    def reset(self):
        self.saved = time.time()
