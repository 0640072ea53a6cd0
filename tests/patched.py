"""Run a command with one of the torchrun tests' patches, in one process or under torchrun:

    python tests/patched.py PATCHES COMMAND_MODULE [ARGS...]
    python -m torch.distributed.run --nproc_per_node 2 --standalone tests/patched.py PATCHES COMMAND_MODULE [ARGS...]

runs `COMMAND_MODULE.main(ARGS)` after applying PATCHES (names joined by commas):

* `fixed-noise`: the generator adds its stored noise instead of drawing it, and dropout is off.
  These are what each rank draws for itself under torchrun (`common/distributed.py`), so with them
  off a run on several processes must follow a one-process run to float tolerance.
* `mouth-decides`: the generation test passes a code on the mouth's correlation alone (the eyes'
  and pose's thresholds 0), so that some codes of the tiny random models pass and the stop rule
  has passing codes to count.
* `one-sample-set`: FineTune-v5 renders its final sample set at psi 0.5 alone (of five), since
  each costs as much as a tiny run's training.
"""
import importlib
import os
import sys


def fixed_noise(set_attribute=setattr):
    import torch
    from stylegan.generator import NoiseInjection

    stored = NoiseInjection.forward
    set_attribute(NoiseInjection, 'forward', lambda self, x, randomize_noise: stored(self, x, False))
    for dropout in (torch.nn.Dropout, torch.nn.Dropout2d):
        set_attribute(dropout, 'forward', lambda self, x: x)


def mouth_decides(set_attribute=setattr):
    from vectorfind import generation_testing

    set_attribute(generation_testing, 'THRESHOLDS', {**generation_testing.THRESHOLDS, 'eyes': 0.0, 'pose': 0.0})


def one_sample_set(set_attribute=setattr):
    import finetune_v5.pipeline

    set_attribute(finetune_v5.pipeline, 'SAMPLE_PSIS', (0.5,))


PATCHES = {'fixed-noise': fixed_noise, 'mouth-decides': mouth_decides, 'one-sample-set': one_sample_set}


if __name__ == '__main__':
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    patches, command, *argv = sys.argv[1:]
    for name in patches.split(','):
        PATCHES[name]()
    importlib.import_module(command).main(argv)
