"""Score the label maps of any face parser and write an all_scores table.

    python -m segmentation.score_label_maps --images DIR --label-maps DIR --out all_scores_v2.csv

Each label map (PNG, one class index per pixel) is paired with the image of the same file stem
(.png, .jpg or .jpeg). Maps must be 224x224 in the 11 classes of this repository, or, with
--classes celebamask19, in the 19 classes of CelebAMask-HQ that common face-parsing networks
output; images of any size are resized to 224x224. `img_path` in the table is relative to the
folder of --out; `img_no` is the stem when it is a number, else the running index.
"""
import argparse
import os
import sys

import cv2
import numpy as np
from tqdm import tqdm

from common.cli import add_debug_flag, parse_checked, prepare_output_file, run_command
from common.files import atomic_write
from scores.properties import PROPERTY_NAMES
from common.validation import check_choice, check_dir, check_writable_file
from segmentation.property_scores import MAP_SIZE, image_at_map_size, raw_property_scores
from scores.table import all_scores_table, write_score_table

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg')

# CelebAMask-HQ order: background, skin, l_brow, r_brow, l_eye, r_eye, eye_g, l_ear, r_ear, ear_r,
# nose, mouth, u_lip, l_lip, neck, neck_l, cloth, hair, hat. Parts without a counterpart among the
# 11 (glasses, ears, earrings, neck, necklace, hat) become skin, so that they count neither as hair
# nor as background; cloth lies below the scored top half and becomes background.
CELEBAMASK19_TO_11 = np.array([0, 1, 2, 3, 4, 5, 1, 1, 1, 1, 6, 8, 7, 9, 1, 1, 0, 10, 1], np.uint8)
CLASS_MAPS = {'11': None, 'celebamask19': CELEBAMASK19_TO_11}
MAX_WARNINGS = 5  # single-class maps named one by one; the rest are counted


def paired_files(images_dir, label_maps_dir):
    """(stem, image path, label map path) for every label map, sorted; fails on a missing image."""
    check_dir(images_dir, '--images', 'folder of images')
    check_dir(label_maps_dir, '--label-maps', 'folder of label maps')
    images = {os.path.splitext(name)[0]: os.path.join(images_dir, name)
              for name in os.listdir(images_dir) if name.lower().endswith(IMAGE_EXTENSIONS)}
    pairs = []
    for name in sorted(os.listdir(label_maps_dir)):
        stem, ext = os.path.splitext(name)
        if ext.lower() != '.png':
            continue
        if stem not in images:
            raise FileNotFoundError(f'no image named {stem}.png/.jpg/.jpeg in {images_dir} (--images)'
                                    f' for label map {os.path.join(label_maps_dir, name)}')
        pairs.append((stem, images[stem], os.path.join(label_maps_dir, name)))
    if not pairs:
        raise FileNotFoundError(f'no PNG label maps in {label_maps_dir} (--label-maps); expected one'
                                f' PNG of class indices per image, named as its image')
    return pairs


def read_label_map(path, class_map=None):
    labels = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if labels is None:
        raise ValueError(f'{path}: not a readable PNG image; expected a single-channel PNG of'
                         f' class indices')
    if labels.ndim != 2:
        raise ValueError(f'{path}: an image of {labels.shape[2]} channels (colour?); expected a'
                         f' single-channel PNG of class indices, as a face parser writes them')
    if labels.shape != (MAP_SIZE, MAP_SIZE):
        raise ValueError(f'{path}: label maps must be {MAP_SIZE}x{MAP_SIZE}, got {labels.shape[1]}x{labels.shape[0]}')
    n_classes = 11 if class_map is None else len(class_map)
    if labels.max() >= n_classes:
        raise ValueError(f'{path}: class {labels.max()} found, but only {n_classes} classes are expected '
                         f'(use --classes celebamask19 for CelebAMask-HQ maps)')
    return labels if class_map is None else class_map[labels]


def score_label_maps(images_dir, label_maps_dir, out_path, classes='11', raw_out_path=None,
                     warn=None):
    """Score every pair and write the normalised table (and optionally the raw scores).

    A label map of a single class (no face in it) is reported through `warn` (a function of one
    message; by default a line on stderr), and so is a score that does not vary over the maps
    (it is written as 0.0 everywhere); when every map is of a single class nothing is written.
    """
    warn = warn or _warn
    check_choice(classes, '--classes', sorted(CLASS_MAPS))
    class_map = CLASS_MAPS[classes]
    pairs = paired_files(images_dir, label_maps_dir)
    table_dir = os.path.dirname(os.path.abspath(out_path))
    raw, img_nos, img_paths, single_class = [], [], [], []
    for index, (stem, image_path, map_path) in enumerate(tqdm(pairs, unit='map', desc='scoring')):
        image = cv2.imread(image_path, cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f'{image_path}: not a readable image (the image of label map {map_path})')
        labels = read_label_map(map_path, class_map)
        if labels.min() == labels.max():
            single_class.append((map_path, int(labels.min())))
        raw.append(raw_property_scores(labels, image_at_map_size(image)))
        img_nos.append(int(stem) if stem.isdigit() else index)
        img_paths.append(os.path.relpath(os.path.abspath(image_path), table_dir))
    if len(single_class) == len(pairs):
        path, label = single_class[0]
        raise ValueError(f'every label map in {label_maps_dir} is of a single class (e.g. {path}:'
                         f' all class {label}), so there is no face to score; give the face'
                         f' parser\'s label maps in {"the 11 classes" if classes == "11" else classes}')
    for path, label in single_class[:MAX_WARNINGS]:
        warn(f'{path}: every pixel is class {label}: no face in it; its scores are those of an'
             f' empty face')
    if len(single_class) > MAX_WARNINGS:
        warn(f'... and {len(single_class) - MAX_WARNINGS} more label maps of a single class')
    table = all_scores_table(img_nos, img_paths, {name: [r[name] for r in raw] for name in PROPERTY_NAMES})
    if len(raw) == 1:
        warn(f'only one label map in {label_maps_dir}: scores are normalised over the maps, so every'
             f' score is written as 0.0; score more maps together')
    for name in PROPERTY_NAMES:
        if len(raw) > 1 and len({r[name] for r in raw}) == 1:
            warn(f'{name}_score does not vary over the {len(raw)} label maps of {label_maps_dir}'
                 f' (raw value {raw[0][name]:g}); it is written as 0.0 for every image')
    write_score_table(table, out_path)
    if raw_out_path:
        raw_table = table[['img_no', 'img_path']].assign(**{n: [r[n] for r in raw] for n in PROPERTY_NAMES})
        with atomic_write(raw_out_path) as tmp:
            raw_table.to_csv(tmp, index=False)
    return table


def _warn(message):
    print(f'warning: {message}', file=sys.stderr)


def check_arguments(args):
    """The arguments that can be checked before any map is read (a usage error if not)."""
    check_writable_file(args.out, '--out')
    if args.raw_out:
        check_writable_file(args.raw_out, '--raw-out')


def run(args):
    prepare_output_file(args.out, '--out')
    if args.raw_out:
        prepare_output_file(args.raw_out, '--raw-out')
    table = score_label_maps(args.images, args.label_maps, args.out, args.classes, args.raw_out)
    print(f'scored {len(table)} label maps -> {args.out}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--images', required=True, help='folder of images')
    parser.add_argument('--label-maps', required=True, help='folder of PNG label maps, same stems')
    parser.add_argument('--out', required=True, help='all_scores CSV to write')
    parser.add_argument('--classes', choices=sorted(CLASS_MAPS), default='11',
                        help='class scheme of the label maps (default: the 11 classes)')
    parser.add_argument('--raw-out', help='also write the raw, unnormalised scores here')
    add_debug_flag(parser)
    args = parse_checked(parser, argv, check_arguments)
    run_command(lambda: run(args), argv)


if __name__ == '__main__':
    main()
