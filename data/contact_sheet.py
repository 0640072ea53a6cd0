"""A contact sheet of rendered faces beside their label maps.

    python -m data.contact_sheet --n 32 --seed 0 --out docs/face_world.png
"""
import argparse

import numpy as np
from PIL import Image

from common.cli import add_debug_flag, parse_checked, prepare_output_file, run_command
from common.images import contact_sheet, save_png
from common.paths import in_repo
from common.validation import check_count, check_writable_file
from data.face_world import IMAGE_SIZE, render_faces

# One colour per class: background, skin, brows, eyes, nose, lips, inner mouth, hair.
CLASS_COLOURS = np.array([
    [0, 0, 0], [224, 180, 150], [120, 60, 20], [160, 90, 40], [40, 120, 255], [0, 200, 255],
    [240, 120, 200], [220, 40, 60], [120, 0, 30], [255, 110, 110], [250, 220, 60]], np.uint8)


def faces_and_label_maps(n, seed, columns=8):
    """An RGB uint8 grid: each cell is a face and its colourised label map, side by side."""
    images, label_maps, _ = render_faces(n, seed)
    cells = np.stack([np.concatenate([image, _colourised(labels)], axis=1)
                      for image, labels in zip(images, label_maps)])
    return contact_sheet(cells, columns, fill=0)


def _colourised(labels):
    rgb = Image.fromarray(CLASS_COLOURS[labels])
    return np.asarray(rgb.resize((IMAGE_SIZE, IMAGE_SIZE), Image.NEAREST))


def check_arguments(args):
    """The arguments, checked before any face is drawn (a usage error if not)."""
    check_count(args.n, '--n')
    check_count(args.seed, '--seed', minimum=0)
    check_count(args.columns, '--columns')
    check_writable_file(args.out, '--out')


def run(args):
    prepare_output_file(args.out, '--out')
    sheet = faces_and_label_maps(args.n, args.seed, args.columns)
    save_png(sheet, args.out)
    print(f'wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--n', type=int, default=32, help='faces (at least 1)')
    parser.add_argument('--seed', type=int, default=0, help='world seed (0 or more)')
    parser.add_argument('--columns', type=int, default=4, help='faces per row')
    parser.add_argument('--out', default=in_repo('docs', 'face_world.png'))
    add_debug_flag(parser)
    args = parse_checked(parser, argv, check_arguments)
    run_command(lambda: run(args), argv)


if __name__ == '__main__':
    main()
