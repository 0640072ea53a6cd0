"""What every part of the repository shares: how files are written and read (atomically; model
files with `weights_only=True`), the training log, image helpers, the property names, the
repository's paths, the one way a run's preset and flags become its settings, the checks of a
command's arguments (`validation.py`) and the one way a command fails (`cli.py`)."""
