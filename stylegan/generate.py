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

from common.checkpoints import CheckpointError
from common.files import write_json
from common.images import contact_sheet, save_png, to_uint8
from stylegan.latent_codes import random_latent_codes, read_latent_codes
from stylegan.loading import load_generator


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--generator', required=True, help='generator checkpoint (.pth)')
    parser.add_argument('--variant', required=True, help='v1, v5, v6 or a preset name')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--latents', help='CSV of latent codes, one per row: z then label')
    source.add_argument('--num', type=int, help='number of random latent codes')
    parser.add_argument('--seed', type=int, default=0, help='seed for random latent codes')
    parser.add_argument('--trunc-psi', type=float, default=1.0)
    parser.add_argument('--trunc-layers', type=int, default=0)
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--out-dir', required=True)
    args = parser.parse_args(argv)

    try:
        generator = load_generator(args.generator, args.variant).to(args.device)
        code_dim = generator.z_dim + generator.label_dim
        codes = (read_latent_codes(args.latents, code_dim) if args.latents
                 else random_latent_codes(args.num, code_dim, args.seed))
    except (CheckpointError, KeyError, ValueError) as error:
        sys.exit(f'error: {error}')
    images = render_codes(generator, codes, args.batch_size, args.device,
                          args.trunc_psi, args.trunc_layers)
    os.makedirs(args.out_dir, exist_ok=True)
    for i, image in enumerate(images):
        save_png(image, os.path.join(args.out_dir, f'{i:05d}.png'))
    save_png(contact_sheet(images), os.path.join(args.out_dir, 'contact_sheet.png'))
    write_json(os.path.join(args.out_dir, 'config.json'), vars(args))
    print(f'{len(images)} images and contact_sheet.png written to {args.out_dir}')


if __name__ == '__main__':
    main()
