"""Render latent codes to PNG files and a contact sheet.

    python -m stylegan.generate --generator models/stylegan_gen_vector_find_v6.pth --variant v6 \
        --latents latent_codes_all.csv --out-dir outputs/faces
    python -m stylegan.generate --generator models/default/generator.pth --variant v6 \
        --num 16 --seed 0 --out-dir outputs/faces

A latent code is z followed by the label (for v5 and v6: the 3 extra dims, 515 values in all, the
way the original stores its codes). Without `--latents`, z and label are drawn from N(0, 1).
"""
import argparse
import os
import sys

import numpy as np
import torch
from tqdm import tqdm

from common.cli import add_debug_flag, parse_checked, prepare_output_dir, run_command
from common.files import write_json
from common.images import contact_sheet, save_png, to_uint8
from common.settings import default_device
from common.validation import check_count, check_device, check_finite, check_writable_dir
from stylegan.latent_codes import random_latent_codes, read_latent_codes
from stylegan.loading import load_generator
from stylegan.architectures import ARCHITECTURES


@torch.no_grad()
def render_codes(generator, codes, batch_size=16, device='cpu', trunc_psi=1.0, trunc_layers=0):
    """uint8 NHWC images of latent codes [N, z_dim + label_dim]."""
    z_dim = generator.z_dim
    out = []
    for start in tqdm(range(0, len(codes), batch_size), desc='generating', unit='batch'):
        batch = torch.from_numpy(codes[start:start + batch_size]).to(device)
        label = batch[:, z_dim:] if generator.label_dim else None
        result = generator(batch[:, :z_dim], label, trunc_psi=trunc_psi, trunc_layers=trunc_layers)
        out.append(to_uint8(result['image']))
    return np.concatenate(out)


def check_arguments(args):
    """Every argument that can be checked before the generator is read (a usage error if not)."""
    check_device(args.device)
    if args.num is not None:
        check_count(args.num, '--num')
    check_count(args.batch_size, '--batch-size')
    check_finite(args.trunc_psi, '--trunc-psi', 0.0, 1.0)
    check_count(args.trunc_layers, '--trunc-layers', minimum=0)
    check_writable_dir(args.out_dir, '--out-dir')


def generate(args):
    """Render the codes `args` ask for and write them, their contact sheet and config.json."""
    prepare_output_dir(args.out_dir, '--out-dir')
    generator = load_generator(args.generator, args.variant).to(args.device)
    code_dim = generator.z_dim + generator.label_dim
    codes = (read_latent_codes(args.latents, code_dim) if args.latents
             else random_latent_codes(args.num, code_dim, args.seed))
    if (args.trunc_psi < 1 and args.trunc_layers == 0
            and not generator.config.get('conditional_truncation')):
        print(f'warning: --trunc-psi {args.trunc_psi:g} has no effect on this generator without'
              f' --trunc-layers N (how many layers are truncated)', file=sys.stderr)
    images = render_codes(generator, codes, args.batch_size, args.device,
                          args.trunc_psi, args.trunc_layers)
    os.makedirs(args.out_dir, exist_ok=True)
    for i, image in enumerate(images):
        save_png(image, os.path.join(args.out_dir, f'{i:05d}.png'))
    save_png(contact_sheet(images), os.path.join(args.out_dir, 'contact_sheet.png'))
    write_json(os.path.join(args.out_dir, 'config.json'),
               {key: value for key, value in vars(args).items() if key != 'debug'})
    print(f'{len(images)} images and contact_sheet.png written to {args.out_dir}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--generator', required=True, help='generator checkpoint (.pth)')
    parser.add_argument('--variant', required=True, choices=sorted(ARCHITECTURES),
                        help='v1, v5, v6 (how a published file is read) or an architecture name')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--latents', help='CSV of latent codes, one per row: z then label')
    source.add_argument('--num', type=int, help='number of random latent codes (at least 1)')
    parser.add_argument('--seed', type=int, default=0, help='seed for random latent codes')
    parser.add_argument('--trunc-psi', type=float, default=1.0,
                        help='truncation towards the average w, in [0, 1]; 1 = none')
    parser.add_argument('--trunc-layers', type=int, default=0)
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--device', default=default_device())
    parser.add_argument('--out-dir', required=True)
    add_debug_flag(parser)
    args = parse_checked(parser, argv, check_arguments)
    return run_command(lambda: generate(args), argv)


if __name__ == '__main__':
    main()
