"""Checks of a command's arguments, made before any work: a bad value fails at once, naming its
flag, what was expected and what to do, instead of a traceback after an hour or a silent wrong
result.

Plain values in, the value (possibly normalised) out, an `InputError` (a ValueError) with a one-line
message when it does not fit. The settings dataclasses call them in `__post_init__`; the commands
call the ones that look at the file system (`check_writable_dir`, `check_writable_file`) at the
start of their work, so that building settings never touches the disk.
"""
import math
import numbers
import os


class InputError(ValueError):
    """An input the user can fix; the message names it and says what is expected."""


def check_count(value, flag, minimum=1):
    """An integer of at least `minimum` (a number of images, steps, a batch size)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f'{flag} must be a whole number, got {value!r}')
    if value < minimum:
        raise InputError(f'{flag} must be at least {minimum}, got {value}')
    return int(value)


def check_finite(value, flag, low=None, high=None):
    """A finite number in [low, high] (either bound may be None)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f'{flag} must be a number, got {value!r}')
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f'{flag} must be a finite number, got {value}')
    if (low is not None and value < low) or (high is not None and value > high):
        raise InputError(f'{flag} must be {_range(low, high)}, got {value:g}')
    return value


def check_positive(value, flag, high=None):
    """A finite number above 0 (a learning rate, a width, a half-life), at most `high` if given."""
    value = check_finite(value, flag, high=high)
    if value <= 0:
        raise InputError(f'{flag} must be above 0, got {value:g}')
    return value


def check_not_negative(value, flag):
    """A finite number of at least 0 (minutes, a loss weight, a reach)."""
    return check_finite(value, flag, low=0.0)


def check_share(value, flag):
    """A share in [0, 1], both ends included (a probability, a decay)."""
    return check_fraction(value, flag, include_one=True)


def check_fraction(value, flag, include_one=False):
    """A share in [0, 1) (or [0, 1] with `include_one`)."""
    value = check_finite(value, flag, 0.0, 1.0)
    if value == 1.0 and not include_one:
        raise InputError(f'{flag} must be at least 0 and below 1, got {value:g}')
    return value


def check_choice(value, flag, choices):
    """One of `choices`; the message lists them."""
    if value not in choices:
        raise InputError(f'{flag} {value!r} is unknown; expected one of {", ".join(map(str, choices))}')
    return value


def check_device(name, flag='--device'):
    """A torch device this machine has: 'cpu', 'cuda' or 'cuda:N' where CUDA is available, 'mps'
    where it is. Returns the name as given."""
    import torch  # here, so that commands without torch start without it

    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise InputError(f'{flag} {name!r} is not a device; expected cpu, cuda, cuda:N or mps') from None
    if device.type == 'cpu':
        return name
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise InputError(f'{flag} {name}: CUDA is not available on this machine'
                             f' (torch.cuda.is_available() is false); use --device cpu')
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(f'{flag} {name}: this machine has {torch.cuda.device_count()} CUDA'
                             f' device(s), numbered from 0')
        return name
    if device.type == 'mps':
        if not torch.backends.mps.is_available():
            raise InputError(f'{flag} {name}: MPS is not available on this machine; use --device cpu')
        return name
    raise InputError(f'{flag} {name!r}: device type {device.type!r} is not supported here;'
                     f' expected cpu, cuda, cuda:N or mps')


def check_writable_dir(path, flag):
    """A folder that exists and can be written to, or that can be created (its nearest existing
    parent is a writable folder). Creates nothing."""
    path = os.fspath(path)
    if not path:
        raise InputError(f'{flag} is empty; expected a folder')
    if os.path.exists(path) and not os.path.isdir(path):
        raise InputError(f'{flag} {path} is a file, not a folder; give a folder (it is created'
                         f' when missing)')
    problem = _folder_problem(path)
    if problem:
        raise InputError(f'{flag} {path}: {problem}')
    return path


def check_writable_file(path, flag):
    """A file path whose folder exists and is writable or can be created, and that is not itself
    a folder (an existing file is replaced)."""
    path = os.fspath(path)
    if not path:
        raise InputError(f'{flag} is empty; expected a file path')
    if os.path.isdir(path):
        raise InputError(f'{flag} {path} is a folder; expected a file path')
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise InputError(f'{flag} {path}: the file exists and is not writable')
    problem = _folder_problem(os.path.dirname(os.path.abspath(path)))
    if problem:
        raise InputError(f'{flag} {path}: cannot write it, {problem}')
    return path


def _folder_problem(folder):
    """Why files cannot be written in `folder` (created if missing), or None."""
    if os.path.isdir(folder):
        if not os.access(folder, os.W_OK | os.X_OK):
            return f'the folder {folder} is not writable; give another or change its permissions'
        return None
    if os.path.exists(folder):
        return f'{folder} is a file, not a folder'
    parent = os.path.dirname(os.path.abspath(folder))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return f'{parent} is a file, not a folder'
    if not os.access(parent, os.W_OK | os.X_OK):
        return f'the folder {parent} is not writable, so {folder} cannot be created there'
    return None


def check_file(path, flag, what='file'):
    """An existing file (not a folder)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f'{flag} {path}: {what} not found')
    if os.path.isdir(path):
        raise InputError(f'{flag} {path} is a folder; expected a {what}')
    return path


def check_dir(path, flag, what='folder'):
    """An existing folder."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f'{flag} {path}: {what} not found')
    if not os.path.isdir(path):
        raise InputError(f'{flag} {path} is a file; expected a {what}')
    return path


def _range(low, high):
    if low is not None and high is not None:
        return f'between {low:g} and {high:g}'
    return f'at least {low:g}' if low is not None else f'at most {high:g}'
