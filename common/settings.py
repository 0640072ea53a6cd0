"""A run's settings: a dataclass of plain values, filled from a named preset and the flags given.

Every job works the same way (VectorFind, FineTune-v5, the base generator's and the Property Score
CNN's training): its settings are a dataclass whose defaults are the job's own, its presets are
plain dicts of some of those fields, and a flag given on the command line wins over the preset,
which wins over the defaults. A benchmark, a test or a notebook builds the same dataclass
directly, without argparse.
"""
import argparse
import dataclasses

import torch


def new_parser(doc):
    """A parser whose flags are absent from the parsed namespace unless given, so that only what
    the user typed overrides the preset."""
    return argparse.ArgumentParser(description=doc, argument_default=argparse.SUPPRESS,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def add_out_dir(parser, help_text, default=argparse.SUPPRESS, required=False):
    """`--out-dir`, the one name of every command's output folder (`--out` is still read)."""
    parser.add_argument('--out-dir', '--out', dest='out_dir', default=default, required=required,
                        help=help_text)


def add_seed_and_device(parser):
    """`--seed` and `--device`, which every run takes."""
    parser.add_argument('--seed', type=int, help='every random draw of the run follows from it')
    parser.add_argument('--device', help='cuda where available, else cpu')


def add_checkpoint_minutes(parser, otherwise):
    """`--checkpoint-minutes`, which every training takes; `otherwise` says when it checkpoints
    besides (e.g. 'every epoch end')."""
    parser.add_argument('--checkpoint-minutes', type=float,
                        help=f'a checkpoint at least this often (and {otherwise}), so that a killed'
                             f' run loses at most these minutes; 0 = {otherwise} only (default 3)')


def parse_settings(parser, argv, settings_class, presets=None):
    """`settings_class` from the command line `argv`; a bad value is a usage error."""
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
    if 'debug' not in {f.name for f in dataclasses.fields(settings_class)}:
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


def _default(settings_class, name):
    field = {f.name: f for f in dataclasses.fields(settings_class)}[name]
    return field.default


def preset_value(settings_class, presets, preset, name):
    """What the preset `preset` sets `name` to, without any flag."""
    return presets[preset].get(name, _default(settings_class, name))
