"""Run a command that SIGKILLs itself at a chosen point, as an out-of-memory kill or a power cut
would end it there:

    python tests/kill_at.py MODULE:NAME CALL COMMAND_MODULE [ARGS...]

runs `COMMAND_MODULE.main(ARGS)` after wrapping NAME of MODULE (a function, or `Class.method`)
so that its CALL-th call completes and the process then dies by SIGKILL: no exception handler,
`finally` or exit hook runs.
"""
import functools
import importlib
import os
import signal
import sys


def die_after(owner, name, call):
    original = getattr(owner, name)
    calls = []

    @functools.wraps(original)
    def dying(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append(None)
        if len(calls) == call:
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    setattr(owner, name, dying)


def main():
    target, call, command, *argv = sys.argv[1:]
    module_name, name = target.split(':')
    owner = importlib.import_module(module_name)
    *classes, attribute = name.split('.')
    for part in classes:
        owner = getattr(owner, part)
    die_after(owner, attribute, int(call))
    importlib.import_module(command).main(argv)


if __name__ == '__main__':
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main()
