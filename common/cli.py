"""One way for every command to fail.

A command's `main(argv)` parses its arguments, checks them before any work, and runs the work
through `run_command`:

    def main(argv=None):
        parser = argparse.ArgumentParser(...)
        ...
        add_debug_flag(parser)
        args = parse_checked(parser, argv, check=check_arguments)   # a bad value: usage error, exit 2
        return run_command(lambda: work(args), argv)                 # a bad file: one line, exit 1

A job whose settings come from `common.settings.parse_settings` does the same with
`return run_command(lambda: train(parse_args(argv)), argv)` (`settings_from` ignores `--debug`).

* An argument that does not fit (`--num 0`, `--device foo`, `--trunc-psi nan`, an `--out-dir`
  that is a file) is a usage error, as argparse reports its own: the usage line, then
  `<prog>: error: <message>`, exit status 2, before anything is read or rendered.
* An expected error of the work (a missing or damaged file, a table with a bad cell, a model
  file of another kind: ValueError and its subclasses `InputError` and `CheckpointError`, a
  KeyError with a message, OSError and FileNotFoundError) ends the command with one line on
  stderr, `error: <message>`, and exit status 1.
* Anything else is a bug: one line naming the exception and asking for `--debug`, exit status 1.
* `--debug` shows the full traceback instead.
* Ctrl-C prints `interrupted` (and what to do, where the command says) and exits with 130.

Called in-process (tests, notebooks), the exits are `SystemExit`s whose `code` is the message.
"""
import os
import sys

from common.files import remove_stale_temp_files
from common.validation import InputError, check_writable_dir, check_writable_file

__all__ = ['InputError', 'add_debug_flag', 'debug_requested', 'error_message', 'parse_checked',
           'prepare_output_dir', 'prepare_output_file', 'run_command']

EXPECTED_ERRORS = (ValueError, KeyError, OSError)


def add_debug_flag(parser):
    """`--debug`: on an error, the full traceback instead of one line."""
    parser.add_argument('--debug', action='store_true', default=False,
                        help='on an error, show the full traceback instead of one line')
    return parser


def debug_requested(argv=None):
    """Whether `--debug` is among the arguments (sys.argv's when `argv` is None)."""
    return '--debug' in [str(arg) for arg in (sys.argv[1:] if argv is None else argv)]


def parse_checked(parser, argv=None, check=None):
    """`parser.parse_args(argv)`, then `check(args)`: a ValueError it raises is a usage error
    (argparse's format, exit status 2) before any work is done."""
    args = parser.parse_args(argv)
    if check is not None:
        try:
            check(args)
        except ValueError as error:
            parser.error(one_line(str(error)))
    return args


def run_command(work, argv=None, *, debug=None, interrupted=None):
    """Run `work()` and return its result; end an error in one line on stderr (see the module).

    `argv` is the command line (sys.argv's by default), read only for `--debug`; `debug` overrides
    it. `interrupted`: what to tell the user after Ctrl-C (e.g. how to resume).
    """
    if debug is None:
        debug = debug_requested(argv)
    try:
        return work()
    except KeyboardInterrupt:
        if debug:
            raise
        print('interrupted' + (f'; {interrupted}' if interrupted else ''), file=sys.stderr)
        raise SystemExit(130) from None
    except Exception as error:  # noqa: BLE001 - every error ends in one line unless --debug
        if debug:
            raise
        raise SystemExit(f'error: {error_message(error)}') from None


def error_message(error):
    """One line saying what went wrong: the message of an expected error, else the exception's
    type and message with a pointer to `--debug`."""
    if is_expected(error):
        if isinstance(error, OSError) and error.filename is not None and error.strerror:
            where = os.fspath(error.filename)
            if error.filename2 is not None:
                where += f' -> {os.fspath(error.filename2)}'
            return one_line(f'{where}: {error.strerror}')
        if isinstance(error, KeyError):
            return one_line(error.args[0])
        message = one_line(str(error))
        if message:
            return message
    text = one_line(str(error) if not isinstance(error, KeyError) else repr(error.args[0] if error.args else ''))
    return (f'unexpected {type(error).__name__}{": " + text if text else ""}'
            f' (run again with --debug for the traceback, and report it)')


def is_expected(error):
    """An error whose message is meant for the user (not a bug's)."""
    if isinstance(error, KeyError):
        # KeyError('resolution') from a dict lookup is a bug; a KeyError raised with a sentence
        # (an unknown preset or variant) is a message.
        return bool(error.args) and isinstance(error.args[0], str) and ' ' in error.args[0]
    return isinstance(error, EXPECTED_ERRORS)


def one_line(message):
    """A message on one line: its lines joined ('; ' unless a line ends in punctuation)."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    joined = ''
    for line in lines:
        joined += line if not joined else (' ' if joined[-1] in ';:,.' else '; ') + line
    return joined


def prepare_output_dir(path, flag):
    """Check that the folder `path` (given as `flag`) can be written, and remove the temporary
    files a killed run left in it. Creates nothing."""
    check_writable_dir(path, flag)
    if os.path.isdir(path):
        remove_stale_temp_files(path)
    return path


def prepare_output_file(path, flag):
    """Check that the file `path` (given as `flag`) can be written, and remove the temporary files
    a killed run left beside it. Creates nothing."""
    check_writable_file(path, flag)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(folder):
        remove_stale_temp_files(folder)
    return path
