"""Execute an inspection notebook on a run folder, headless, and write it as one HTML page for
readers who will not run it (figures and grids embedded).

    python -m notebooks.export                                   # outputs/vectorfind_v6 -> docs/inspect_vectorfind.html
    python -m notebooks.export --run /tmp/vf_default             # another VectorFind-v6 run folder
    python -m notebooks.export --notebook inspect_finetune_v5 --out docs/inspect_finetune_v5.html

The notebook reads its run folder from an environment variable (its parameter cell's default is
the job's default output folder); the kernel is this interpreter's `python3` kernel, started in
the repository root. The committed notebooks stay without outputs.
"""
import argparse
import os
import sys
import time

import nbformat
from nbclient import NotebookClient

from common.files import atomic_write
from common.paths import REPO, in_repo

# Per notebook: the environment variable its parameter cell reads, and its default run folder.
NOTEBOOKS = {
    'inspect_vectorfind': ('VECTORFIND_RUN', in_repo('outputs', 'vectorfind_v6')),
    'inspect_finetune_v5': ('FINETUNE_RUN', in_repo('outputs', 'finetune_v5', 'improved')),
    'characters': ('CHARACTERS_RUN', in_repo('outputs', 'vectorfind_v6')),
}


def notebook_path(name):
    if name not in NOTEBOOKS:
        raise ValueError(f'notebook {name!r}: expected one of {sorted(NOTEBOOKS)}')
    return in_repo('notebooks', f'{name}.ipynb')


def execute(name, run_dir=None, timeout=600):
    """The notebook `name` executed on `run_dir` (default: its job's default output folder);
    raises nbclient's CellExecutionError, with the cell and its traceback, when a cell fails."""
    notebook = nbformat.read(notebook_path(name), as_version=4)
    variable, default = NOTEBOOKS[name]
    client = NotebookClient(notebook, kernel_name='python3', timeout=timeout,
                            resources={'metadata': {'path': REPO}})
    client.execute(env={**os.environ, variable: os.path.abspath(run_dir or default)})
    return notebook


def export_html(name, run_dir, out_path):
    """Execute the notebook on `run_dir` and write it to `out_path` as HTML; returns its size."""
    from nbconvert import HTMLExporter  # the export alone needs nbconvert
    body, _ = HTMLExporter().from_notebook_node(execute(name, run_dir))
    with atomic_write(out_path) as tmp, open(tmp, 'w', encoding='utf-8') as f:
        f.write(body)
    return os.path.getsize(out_path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--notebook', default='inspect_vectorfind', choices=sorted(NOTEBOOKS))
    parser.add_argument('--run', help="the run folder (default: the job's default output folder)")
    parser.add_argument('--out', help='the HTML file (default: docs/<notebook>.html)')
    args = parser.parse_args(argv)
    run_dir = args.run or NOTEBOOKS[args.notebook][1]
    if not os.path.isdir(run_dir):
        sys.exit(f'error: {run_dir} is not a run folder; run the job first or name one with --run')
    out_path = args.out or in_repo('docs', f'{args.notebook}.html')
    started = time.time()
    size = export_html(args.notebook, run_dir, out_path)
    print(f'{out_path}: {size / 1e6:.2f} MB, {args.notebook} executed on {run_dir}'
          f' in {time.time() - started:.0f} s')


if __name__ == '__main__':
    main()
