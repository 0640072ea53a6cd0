"""Animate a character along a timeline.

    python -m characters.animate outputs/vectorfind_v6 --character 0 \
        --timeline characters/talk.json --out outputs/anim.mp4

Every frame's requested eyes, mouth and pose (`characters.timeline`) are clamped to her reach
and turned into edits by her cached curves (`Character.frames`: no Jacobian, one synthesis a
frame). Writes `--out` (.gif with Pillow; .mp4 with imageio and its bundled ffmpeg, the optional
`pip install imageio imageio-ffmpeg`) and beside it, under the same name:

* _frames.csv: per frame, the requested value of each property, the value used (clamped to her
  reach), the CNN's reading of the frame, whether it lies in a blink, and its pixel change;
* _sheet.png: every `--every`-th frame;
* _config.json: the command's settings and the timeline it played.
"""
import argparse
import importlib.util
import os

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from characters.cast import Cast
from characters.timeline import read_timeline
from common.cli import add_debug_flag, parse_checked, prepare_output_file, run_command
from common.files import atomic_write, write_csv, write_json
from common.images import contact_sheet, save_png
from common.validation import check_count, check_device
from property_score_cnn import score_images
from scores.properties import CORE_COLUMNS, CORE_PROPERTIES

FORMATS = ('.gif', '.mp4')
NEIGHBOURS = 7  # frames around a change that tell a flicker from motion


def render_frames(character, values, batch_size, progress=True):
    """Frames [F, H, W, 3] uint8 of `character` at requested values [F, 3], `batch_size` at a time."""
    starts = range(0, len(values), batch_size)
    return np.concatenate([character.frames(values[i:i + batch_size], batch_size)
                           for i in tqdm(starts, desc='rendering frames', unit='batch', disable=not progress)])


def frame_table(character, timeline, values, frames):
    """Per frame: time, requested, used (clamped) and CNN-read value of each property, whether
    it lies in a blink, and its mean absolute pixel change from the frame before."""
    used = character.clamped(values)
    read = score_images(character.cast.cnn, frames, device=character.cast.device)[:, CORE_COLUMNS]
    table = pd.DataFrame({'frame': np.arange(len(values)), 'time': timeline.times()})
    for k, prop in enumerate(CORE_PROPERTIES):
        table[f'{prop}_requested'], table[f'{prop}_used'], table[f'{prop}_read'] = values[:, k], used[:, k], read[:, k]
    table['blinking'] = timeline.blinking()
    table['pixel_change'] = np.r_[0.0, np.abs(np.diff(frames.astype(np.float32), axis=0)).mean(axis=(1, 2, 3))]
    return table


def smoothness(timeline, table, spread, window=NEIGHBOURS):
    """{'flicker': the largest frame-to-frame pixel change over the median of all of them,
    'local flicker': the largest over the median of the `window` changes around it (a flicker is
    a change unlike its neighbours'; a timeline at rest between pulses makes the plain median
    small), both with blinks left out (a blink is meant to be quick), and 'reversal': the largest
    fall, in spreads, of a pulse's property as the CNN reads it along the pulse's ease-in,
    against the way it is asked to go}."""
    blinking = table.blinking.to_numpy()
    steady = ~(blinking | np.r_[False, blinking[:-1]])
    steady[0] = False  # the first frame has no change
    changes = table.pixel_change.to_numpy()
    kept = changes[steady]
    around = np.array([np.median(changes[max(1, i - window // 2):i + window // 2 + 1]) for i in np.flatnonzero(steady)])
    reversal = 0.0
    for (prop, first, last), pulse in zip(timeline.pulse_spans(), timeline.pulses):
        read = table[f'{prop}_read'].to_numpy()[first:last + 1]
        read = read if pulse.to >= timeline.base[CORE_PROPERTIES.index(prop)] else -read
        if len(read) > 1:
            reversal = max(reversal, float(np.max(np.maximum.accumulate(read) - read))
                           / spread[CORE_COLUMNS[CORE_PROPERTIES.index(prop)]])
    if not len(kept):
        return {'flicker': 0.0, 'local flicker': 0.0, 'reversal': reversal}
    return {'flicker': float(kept.max() / max(np.median(kept), 1e-6)),
            'local flicker': float(np.max(kept / np.maximum(around, 1e-6))), 'reversal': reversal}


def write_video(frames, fps, path):
    """Frames as a GIF (Pillow) or an MP4 (imageio's ffmpeg), atomically."""
    with atomic_write(path) as tmp:
        if path.endswith('.gif'):
            images = [Image.fromarray(frame) for frame in frames]
            images[0].save(tmp, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
        else:
            import imageio.v2 as imageio  # optional: checked before any work (check_arguments)
            imageio.mimwrite(tmp, list(frames), fps=fps, macro_block_size=1)


def companion(out, suffix):
    return os.path.splitext(out)[0] + suffix


def check_arguments(args):
    check_count(args.character, '--character', minimum=0)
    check_count(args.batch_size, '--batch-size')
    check_count(args.every, '--every')
    check_device(args.device)
    extension = os.path.splitext(args.out)[1].lower()
    if extension not in FORMATS:
        raise ValueError(f'--out {args.out}: expected a file name ending in {" or ".join(FORMATS)}')
    if extension == '.mp4' and not all(importlib.util.find_spec(name) for name in ('imageio', 'imageio_ffmpeg')):
        raise ValueError('--out .mp4 needs imageio and imageio-ffmpeg (pip install imageio imageio-ffmpeg);'
                         ' a .gif needs nothing more')
    prepare_output_file(args.out, '--out')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('run', help='a VectorFind-v6 run folder with characters (python -m characters.cast RUN)')
    parser.add_argument('--character', type=int, default=0, help='which of the run\'s characters')
    parser.add_argument('--timeline', required=True, help='timeline JSON file (characters/talk.json)')
    parser.add_argument('--out', required=True, help='the animation: .gif or .mp4')
    parser.add_argument('--every', type=int, default=10, help='every how many frames the contact sheet shows one')
    parser.add_argument('--batch-size', type=int, default=16, help='frames synthesised at a time')
    parser.add_argument('--device', default='cpu')
    add_debug_flag(parser)
    args = parse_checked(parser, argv, check=check_arguments)

    def work():
        timeline = read_timeline(args.timeline)
        character = Cast.from_run(args.run, args.device).character(args.character)
        values = timeline.values()
        frames = render_frames(character, values, args.batch_size)
        table = frame_table(character, timeline, values, frames)
        write_csv(companion(args.out, '_frames.csv'), table.round(4))
        save_png(contact_sheet(frames[::args.every], columns=10), companion(args.out, '_sheet.png'))
        write_json(companion(args.out, '_config.json'), {**vars(args), 'timeline': timeline.to_dict()})
        write_video(frames, timeline.fps, args.out)
        smooth = smoothness(timeline, table, character.cast.spread)
        print(f'{len(frames)} frames written to {args.out}. Outside blinks, the largest frame-to-frame change is'
              f' {smooth["flicker"]:.1f} times the median of all, {smooth["local flicker"]:.1f} times the median of'
              f' the {NEIGHBOURS} around it; the largest fall of a pulse along its ease-in is'
              f' {smooth["reversal"]:.2f} spreads')
    return run_command(work, argv)


if __name__ == '__main__':
    raise SystemExit(main())
