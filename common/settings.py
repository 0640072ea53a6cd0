"""A run's settings: a dataclass of plain values, each declared once, filled from a named preset
and the flags given.

Every job works the same way (VectorFind, FineTune-v5, the base generator's, the Property Score
CNN's and the world reader's training): its settings are a dataclass whose fields are declared
with `setting(...)`: the default, the help of its flag, the check of its value, its choices, the
stage of the run it belongs to and the value that a run recorded before the setting existed
implies. From that one declaration come the command line (`parse_settings`: a flag per field,
its type from the annotation), the checks (`check_settings`, from the class's `__post_init__`),
what a re-run must agree on (`differing`) and the reading of a finished run's config.json
(`recorded`). Presets are plain dicts of some fields; a flag given on the command line wins over
the preset, which wins over the defaults. A benchmark, a test or a notebook builds the same
dataclass directly, without argparse.
"""
import argparse
import dataclasses
import json
import os
import typing

import torch

from common.cli import add_debug_flag
from common.validation import check_choice, check_device, check_not_negative

# A setting that names a file or folder: two runs agree on it when both name the same place.
Path = typing.NewType('Path', str)


def setting(default=dataclasses.MISSING, *, help=None, check=None, choices=None, stage=None,
            earlier=dataclasses.MISSING, switch=False):
    """A dataclass field declared once. `check(value, flag)` refuses a bad value (None passes:
    it means "not given"); `stage` names the part of a run's outputs the setting decides (a re-run
    that changes it must redo that part); `earlier` is the value a run whose config.json lacks
    the setting was made with; `switch`: a flag that only turns the setting on (no --no- form)."""
    return dataclasses.field(default=default, metadata=dict(
        help=help, check=check, choices=choices, stage=stage, earlier=earlier, switch=switch))


def flag_of(name):
    return '--' + name.replace('_', '-')


def check_settings(settings):
    """Every field's choices and check, in declaration order (a bad value is a usage error of
    the command that made `settings`, naming its flag)."""
    for field in dataclasses.fields(settings):
        value, flag = getattr(settings, field.name), flag_of(field.name)
        if value is None:
            continue
        if field.metadata.get('choices') is not None:
            check_choice(value, flag, field.metadata['choices'])
        if field.metadata.get('check') is not None:
            field.metadata['check'](value, flag)


def add_flags(parser, settings_class):
    """A flag per field of `settings_class`: `--out-dir` for `out_dir`, its type read off the
    annotation, its help and choices off the declaration, the default named in the help. Absent
    from the parsed namespace unless given (`new_parser`), so only what the user typed overrides
    the preset."""
    for field in dataclasses.fields(settings_class):
        meta, kind = field.metadata, _value_type(field.type)
        names = [flag_of(field.name)] + (['--out'] if field.name == 'out_dir' else [])  # --out is still read
        help_text = meta.get('help') or ''
        if field.default not in (dataclasses.MISSING, None) and kind is not bool:
            help_text += f' (default {field.default})' if help_text else f'default {field.default}'
        options = dict(dest=field.name, help=help_text or None)
        if kind is bool:
            options['action'] = 'store_true' if meta.get('switch') else argparse.BooleanOptionalAction
        else:
            options.update(type=kind, required=field.default is dataclasses.MISSING)
            if meta.get('choices') is not None:  # shown, and checked by check_settings with its one message
                options['metavar'] = '{' + ','.join(map(str, meta['choices'])) + '}'
        parser.add_argument(*names, **options)


def _value_type(annotation):
    """int, float, str or bool of an annotation (Optional[X] is X, a Path is a str)."""
    arguments = [a for a in typing.get_args(annotation) if a is not type(None)]
    if arguments:
        return _value_type(arguments[0])
    return str if annotation is Path else annotation


def _is_path(annotation):
    return annotation is Path or Path in typing.get_args(annotation)


def new_parser(doc):
    """A parser whose flags are absent from the parsed namespace unless given, so that only what
    the user typed overrides the preset."""
    return argparse.ArgumentParser(description=doc, argument_default=argparse.SUPPRESS,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def parse_settings(settings_class, argv, presets=None, doc=None):
    """`settings_class` from the command line `argv`, with a flag per setting and `--debug`; a bad
    value is a usage error."""
    parser = new_parser(doc)
    add_flags(parser, settings_class)
    add_debug_flag(parser)
    try:
        return settings_from(settings_class, parser.parse_args(argv), presets)
    except ValueError as error:
        parser.error(str(error))


def default_device():
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def settings_from(settings_class, given, presets=None):
    """A `settings_class` from the flags in `given` (a namespace or dict of what the user gave),
    over the preset it names (or the class's default preset), over the class's defaults."""
    given = dict(vars(given) if isinstance(given, argparse.Namespace) else given)
    given.pop('debug', None)  # common.cli's --debug says how to fail, not what to run
    values = {}
    if presets is not None:
        name = given.get('preset', _default(settings_class, 'preset'))
        if name not in presets:
            raise ValueError(f'unknown preset {name!r}; expected one of {sorted(presets)}')
        values.update(presets[name])
    values.update(given)
    return settings_class(**values)


def as_record(settings):
    """The settings as a plain dict, as written to a run's config.json."""
    return dataclasses.asdict(settings)


def recorded(config_path, settings_class):
    """What a finished run's config.json says, as a dict: each setting it lacks, because the run
    was made before the setting existed, at the value declared as `earlier`."""
    with open(config_path) as f:
        record = json.load(f)
    for field in dataclasses.fields(settings_class):
        if field.name not in record and field.metadata.get('earlier', dataclasses.MISSING) is not dataclasses.MISSING:
            record[field.name] = field.metadata['earlier']
    return record


def stage_settings(settings_class, stage):
    """The names of the settings that decide `stage` of a run's outputs."""
    return [field.name for field in dataclasses.fields(settings_class) if field.metadata.get('stage') == stage]


def differing(settings, record, names):
    """Which of `names` the `settings` give another value than the `record` of an earlier run
    (a setting the record does not hold is not compared; places are compared as places)."""
    types = {field.name: field.type for field in dataclasses.fields(settings)}
    now = as_record(settings)

    def same(name):
        if _is_path(types[name]) and now[name] and record[name]:
            return os.path.abspath(now[name]) == os.path.abspath(record[name])
        return now[name] == record[name]
    return [name for name in names if name in record and not same(name)]


def _default(settings_class, name):
    field = {f.name: f for f in dataclasses.fields(settings_class)}[name]
    return field.default


def preset_value(settings_class, presets, preset, name):
    """What the preset `preset` sets `name` to, without any flag."""
    return presets[preset].get(name, _default(settings_class, name))


# The settings every run or training shares, declared here once.
def seed_setting(stage=None):
    return setting(0, stage=stage, help='every random draw of the run follows from it')


def device_setting():
    """The device (None: cuda where available, else cpu; `resolved_device` makes it a name)."""
    return setting(None, check=check_device, help='cuda where available, else cpu')


def resolved_device(device):
    return device or default_device()


def checkpoint_minutes_setting(otherwise):
    """How often a training checkpoints by the clock; `otherwise` says when it checkpoints besides."""
    return setting(3.0, check=check_not_negative,
                   help=f'a checkpoint at least this often (and {otherwise}), so that a killed run loses'
                        f' at most these minutes; 0 = {otherwise} only')


# The stage of a training's settings that its weights depend on: a checkpoint resumes only under
# the same values of these (the others, such as the device or the time limit, may change).
TRAINING = 'training'


def training_record(settings):
    """{name: value} of the settings a training checkpoint must agree with (stage `TRAINING`)."""
    return {name: getattr(settings, name) for name in stage_settings(type(settings), TRAINING)}
