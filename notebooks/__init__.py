"""Notebooks that inspect the jobs' outputs, and `export`, which executes one on a run."""
