"""Train a base generator from scratch, in the v1 format (7-dim property label through
`label_weight`), so that the v5 and v6 conversions apply to it as to the published file.

    python -m base_training.train --data outputs/world --architecture world64 --out-dir outputs/base_world64

Training: the non-saturating logistic GAN loss, R1 on reals (lazily, every `r1_interval` steps,
scaled so its strength is the same), style mixing, a label-aware StyleGAN discriminator, and an
exponential moving average of the generator, which is what gets saved. Fakes take the labels of
other real images, so the generator learns the data's label distribution. With label dropout,
a share of reals and fakes is shown with an all-zero label (the mean of normalised scores), so z
alone must span every property: VectorFind-v6 searches z and re-draws the label embedding, and
needs the latent space to hold open and closed eyes and mouths and both head turns. Everything that decides
the next step (weights, optimizer moments, step, random states) is in the checkpoint, so a resumed
run continues exactly where it stopped.

`--init-generator FILE` starts a new run from a trained generator of the same architecture (G and its
moving average; the optimizers start afresh): a longer training of a committed model whose
checkpoint is gone. Give it the discriminator too (`--init-discriminator`, the discriminator.pth
every run writes beside its generator.pth): a trained generator meeting a fresh critic drifts
before the critic has learnt its flaws. Where no trained discriminator exists, `--d-warmup-steps N`
trains only D for the first N steps (g_loss is empty in the log then). What each choice did to
the default base generator is in its card, models/default/base_generator.md.
"""
import copy
import os
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from common import distributed
from common.checkpoints import (CheckpointClock, CheckpointError, first_line, missing_file_message,
                                read_state)
from common.cli import add_debug_flag, prepare_output_dir, run_command
from common.files import atomic_write, write_json
from common.images import contact_sheet, save_png, to_uint8
from common.run_lock import data_parallel_training
from common.settings import (add_checkpoint_minutes, add_out_dir, add_seed_and_device, as_record,
                             default_device, new_parser, parse_settings)
from common.training_log import appending_log, discard_log, trim_log
from common.validation import (InputError, check_choice, check_count, check_device, check_finite,
                               check_fraction, check_positive)
from scores.table import SCORE_COLUMNS, read_score_table
from stylegan.discriminator import Discriminator, load_discriminator, save_discriminator
from stylegan.generator import Generator
from stylegan.loading import load_generator, save_generator
from stylegan.architectures import ARCHITECTURES, architecture

# The architectures a base generator can be trained in: the v1 format, a 7-dim label embedded.
TRAINABLE_ARCHITECTURES = tuple(name for name, config in ARCHITECTURES.items()
                          if config['label_mode'] == 'embed' and config['label_dim'] == 7)
LOG_COLUMNS = ('step', 'images_seen', 'd_loss', 'g_loss', 'r1', 'd_real', 'd_fake', 'seconds')


@dataclass
class BaseTrainingSettings:
    """Everything a training run depends on; `data` is a world folder or its all_scores table."""
    data: str
    out_dir: str
    architecture: str = 'world64'
    steps: int = 20000
    init_generator: Optional[str] = None
    init_discriminator: Optional[str] = None
    d_warmup_steps: int = 0
    max_minutes: float = 0.0
    batch_size: int = 32
    lr: float = 0.002
    r1_gamma: float = 1.0
    r1_interval: int = 4
    style_mixing: float = 0.9
    label_dropout: float = 0.5
    ema_kimg: float = 10.0
    log_every: int = 50
    sample_every: int = 1000
    checkpoint_every: int = 1000
    checkpoint_minutes: float = 3.0
    seed: int = 0
    device: str = field(default_factory=default_device)

    def __post_init__(self):
        """Every value checked before any work (a bad one is a usage error of the command)."""
        if self.init_discriminator and not self.init_generator:
            raise ValueError('--init-discriminator continues a trained pair: give --init-generator too')
        check_choice(self.architecture, '--architecture', TRAINABLE_ARCHITECTURES)
        if not (isinstance(self.steps, int) and (self.steps >= 1 or self.steps == 0 and self.init_generator)):
            raise InputError(f'--steps must be at least 1 (0 only with --init-generator, which then'
                             f' saves that generator as the run\'s), got {self.steps}')
        for name in ('batch_size', 'r1_interval', 'log_every', 'sample_every', 'checkpoint_every'):
            check_count(getattr(self, name), _flag(name))
        check_count(self.d_warmup_steps, '--d-warmup-steps', minimum=0)
        check_finite(self.max_minutes, '--max-minutes', low=0.0)
        check_finite(self.checkpoint_minutes, '--checkpoint-minutes', low=0.0)
        check_positive(self.lr, '--lr')
        check_finite(self.r1_gamma, '--r1-gamma', low=0.0)
        check_fraction(self.style_mixing, '--style-mixing', include_one=True)
        check_fraction(self.label_dropout, '--label-dropout', include_one=True)
        check_positive(self.ema_kimg, '--ema-kimg')
        check_count(self.seed, '--seed', minimum=-2 ** 63)
        check_device(self.device)


def _flag(name):
    return '--' + name.replace('_', '-')



def load_training_set(table_path, resolution):
    """Images [N, 3, R, R] uint8 and labels [N, 7] float32 from an all_scores table."""
    table = read_score_table(table_path)
    images = np.stack([_training_image(table_path, row, path, resolution) for row, path in
                       enumerate(tqdm(table.abs_img_path, desc='loading images', unit='img',
                                      disable=not distributed.is_main()))])
    labels = table.loc[:, list(SCORE_COLUMNS)].to_numpy(np.float32)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels)


def _training_image(table_path, row, path, resolution):
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert('RGB').resize((resolution, resolution), Image.BOX))
    except (OSError, ValueError) as error:
        raise ValueError(f'{table_path}: row {row}, column img_path: {path} is not a readable image'
                         f' ({first_line(error)})') from None


def discriminator_config(generator_config, mbstd_group_size=4):
    return dict(resolution=generator_config['resolution'], fmaps_base=generator_config['fmaps_base'],
                fmaps_max=generator_config['fmaps_max'], label_dim=generator_config['label_dim'],
                mbstd_group_size=mbstd_group_size)


def mixing_cutoff(num_layers, mixing_prob, rng):
    """With probability `mixing_prob`, a random layer from which a batch's styles take the w of a
    second z (style mixing keeps the layers' styles from depending on each other); else 0."""
    if torch.rand((), generator=rng).item() < mixing_prob:
        return int(torch.randint(1, num_layers, (), generator=rng))
    return 0


class TrainingFakes(torch.nn.Module):
    """The generator's forward pass of training, one module so that DistributedDataParallel can
    average its gradients: w of z, the layers from `cutoff` on taking the w of `z_mix` (0: none),
    rendered with random noise."""

    def __init__(self, G):
        super().__init__()
        self.G = G

    def forward(self, z, z_mix, labels, cutoff):
        G = self.G
        wp = G.truncation(G.mapping(z, labels))
        if cutoff:
            wp = torch.cat([wp[:, :cutoff], G.truncation(G.mapping(z_mix, labels))[:, cutoff:]], dim=1)
        return G.synthesis(wp, randomize_noise=True)


class BaseTrainer:
    """One training run's models, optimizers and random state. Under torchrun every rank draws
    the whole batch from the same seed and trains on its rows of it (`distributed.shard_rows`),
    so a step of N processes is a step of one process on the same batch."""

    def __init__(self, settings, images, labels):
        self.settings = settings
        self.device = torch.device(settings.device)
        # The whole training set lives on the device: at 64 px it is a few hundred MB at most.
        self.images, self.labels = images.to(self.device), labels
        torch.manual_seed(settings.seed)
        self.rng = torch.Generator().manual_seed(settings.seed)
        config = architecture(settings.architecture)
        self.G = Generator(config).to(self.device).train()
        self.D = Discriminator(discriminator_config(config)).to(self.device).train()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.G_fakes, self.D_train = TrainingFakes(self.G), self.D
        betas = (0.0, 0.99)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=settings.lr, betas=betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=settings.lr, betas=betas)
        self.step = 0
        self.last_r1 = 0.0
        fixed = torch.Generator().manual_seed(12345)
        self.sample_z = torch.randn(32, config['z_dim'], generator=fixed)
        self.sample_labels = labels[torch.randint(len(labels), (32,), generator=fixed)]

    def share_among_ranks(self):
        """Under torchrun: G and D average their gradients over the ranks. Called once the
        weights are loaded."""
        self.G_fakes = distributed.wrap(TrainingFakes(self.G), unused_parameters=True)
        self.D_train = distributed.wrap(self.D, unused_parameters=True)
        distributed.seed_ranks(self.settings.seed, self.step)

    # ---- data -----------------------------------------------------------------------------
    def drop_labels(self, labels):
        keep = torch.rand(len(labels), 1, generator=self.rng) >= self.settings.label_dropout
        return labels * keep

    def batch(self):
        index = torch.randint(len(self.images), (self.settings.batch_size,), generator=self.rng)
        labels = self.drop_labels(self.labels[index])
        index, labels = distributed.shard_rows(index), distributed.shard_rows(labels)
        reals = self.images[index.to(self.images.device)].float() / 127.5 - 1.0
        return reals, labels.to(self.device)

    def latents(self):
        shape = (self.settings.batch_size, self.G.z_dim)
        fake_labels = self.labels[torch.randint(len(self.labels), shape[:1], generator=self.rng)]
        z, z_mix = torch.randn(shape, generator=self.rng), torch.randn(shape, generator=self.rng)
        return tuple(distributed.shard_rows(x).to(self.device)
                     for x in (z, z_mix, self.drop_labels(fake_labels)))

    def fakes(self):
        z, z_mix, labels = self.latents()
        cutoff = mixing_cutoff(self.G.num_layers, self.settings.style_mixing, self.rng)
        return self.G_fakes(z, z_mix, labels, cutoff), labels

    # ---- one step -------------------------------------------------------------------------
    def train_step(self):
        settings = self.settings
        reals, real_labels = self.batch()
        with torch.no_grad():
            fakes, fake_labels = self.fakes()
        lazy_r1 = settings.r1_gamma > 0 and self.step % settings.r1_interval == 0
        reals.requires_grad_(lazy_r1)
        self.D.requires_grad_(True)
        d_real = self.D_train(reals, real_labels)
        d_fake = self.D_train(fakes, fake_labels)
        d_loss = F.softplus(d_fake).mean() + F.softplus(-d_real).mean()
        if lazy_r1:
            grad, = torch.autograd.grad(d_real.sum(), reals, create_graph=True)
            r1 = grad.pow(2).sum(dim=(1, 2, 3)).mean()
            d_loss = d_loss + r1 * (settings.r1_gamma / 2 * settings.r1_interval)
            self.last_r1 = r1.item()
        self.opt_D.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_D.step()
        # r1 is the penalty of the latest step that computed it (every r1_interval steps).
        losses = {'d_loss': d_loss.item(), 'r1': self.last_r1,
                  'd_real': d_real.mean().item(), 'd_fake': d_fake.mean().item()}
        warming_up = self.step < settings.d_warmup_steps
        losses['g_loss'] = float('nan') if warming_up else self.generator_step()
        self.step += 1
        return distributed.average(losses)  # each rank's are means over its rows

    def generator_step(self):
        """One update of G (then its w_avg and moving average); returns its loss."""
        fakes, fake_labels = self.fakes()
        self.D.requires_grad_(False)  # D passes G its gradient and keeps none of its own
        g_loss = F.softplus(-self.D(fakes, fake_labels)).mean()
        self.opt_G.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_G.step()
        with torch.no_grad():
            z, _, labels = self.latents()
            self.G.update_w_avg(distributed.average(self.G.mapping(z, labels).mean(dim=0)), decay=0.995)
        self.update_ema()
        return g_loss.item()

    @torch.no_grad()
    def update_ema(self):
        beta = 0.5 ** (self.settings.batch_size / (self.settings.ema_kimg * 1000.0))
        for ema, live in zip(self.G_ema.parameters(), self.G.parameters()):
            ema.lerp_(live, 1.0 - beta)
        for ema, live in zip(self.G_ema.buffers(), self.G.buffers()):
            ema.copy_(live)

    # ---- state ----------------------------------------------------------------------------
    def state(self):
        return {'G': self.G.state_dict(), 'D': self.D.state_dict(), 'G_ema': self.G_ema.state_dict(),
                'opt_G': self.opt_G.state_dict(), 'opt_D': self.opt_D.state_dict(),
                'step': self.step, 'last_r1': self.last_r1, 'rng': self.rng.get_state(),
                'torch_rng': torch.get_rng_state(),
                'cuda_rng': torch.cuda.get_rng_state() if self.device.type == 'cuda' else torch.zeros(0)}

    def load_state(self, state):
        self.G.load_state_dict(state['G'])
        self.D.load_state_dict(state['D'])
        self.G_ema.load_state_dict(state['G_ema'])
        self.opt_G.load_state_dict(state['opt_G'])
        self.opt_D.load_state_dict(state['opt_D'])
        self.step = int(state['step'])
        self.last_r1 = float(state.get('last_r1', 0.0))  # logged until the next R1 step
        self.rng.set_state(state['rng'])
        torch.set_rng_state(state['torch_rng'])
        if self.device.type == 'cuda' and state['cuda_rng'].numel():
            torch.cuda.set_rng_state(state['cuda_rng'])

    @torch.no_grad()
    def sample_grid(self):
        images = self.G_ema(self.sample_z.to(self.device), self.sample_labels.to(self.device))['image']
        return contact_sheet(to_uint8(images))


def checkpoint_path(out_dir):
    return os.path.join(out_dir, 'checkpoint.pth')


def save_state(trainer, out_dir):
    """The checkpoint, written by rank 0 (every rank holds the same weights)."""
    if not distributed.is_main():
        return
    with atomic_write(checkpoint_path(out_dir)) as tmp:
        torch.save(trainer.state(), tmp)


def check_same_configuration(model, expected, path, what, architecture_name):
    if model.config != expected:
        differing = sorted(k for k in expected if model.config.get(k) != expected[k])
        raise ValueError(f'{path}: a {what} of another configuration than --architecture'
                         f' {architecture_name} (differs in {differing})')


def check_init_files(settings):
    """--init-generator and --init-discriminator: files of the right kind and of the run's architecture."""
    for flag, path in (('--init-generator', settings.init_generator),
                       ('--init-discriminator', settings.init_discriminator)):
        if path and not os.path.isfile(path):
            raise CheckpointError(f'{flag}: {missing_file_message(path)}')
    config = architecture(settings.architecture)
    check_same_configuration(load_generator(settings.init_generator, 'v1'), config,
                             settings.init_generator, 'generator', settings.architecture)
    if settings.init_discriminator:
        check_same_configuration(load_discriminator(settings.init_discriminator),
                                 discriminator_config(config), settings.init_discriminator,
                                 'discriminator', settings.architecture)


def start_from(trainer, generator_path, discriminator_path=None):
    """G and G_ema of a new run set to the generator in `generator_path`, and D to the
    discriminator in `discriminator_path` when given; both must be of the run's architecture."""
    initial = load_generator(generator_path, 'v1')
    check_same_configuration(initial, trainer.G.config, generator_path, 'generator', trainer.settings.architecture)
    trainer.G.load_state_dict(initial.state_dict())
    trainer.G_ema.load_state_dict(initial.state_dict())
    print(f'starting G from {generator_path}')
    if discriminator_path:
        critic = load_discriminator(discriminator_path)
        check_same_configuration(critic, trainer.D.config, discriminator_path, 'discriminator',
                                 trainer.settings.architecture)
        trainer.D.load_state_dict(critic.state_dict())
        print(f'starting D from {discriminator_path}')


def resume(trainer, path):
    """Continue from the training checkpoint at `path`; one that is not this training's is an
    error naming it."""
    state = read_state(path, map_location=trainer.device,
                       remedy='delete it to start the training over, or give another --out-dir')
    try:
        trainer.load_state(state)
    except (KeyError, RuntimeError, TypeError, AttributeError) as error:
        raise CheckpointError(f'{path}: not a training checkpoint of this run\'s --architecture'
                              f' {trainer.settings.architecture} ({first_line(error)}); delete it to start'
                              f' over or give another --out-dir') from None


def write_config(settings, out_dir):
    write_json(os.path.join(out_dir, 'config.json'),
               dict(as_record(settings), generator_config=architecture(settings.architecture)))


def train(settings):
    """Train in --out-dir, which this run holds alone (see `train_in_folder`); under torchrun,
    data-parallel over the processes."""
    return data_parallel_training(settings, train_in_folder)


def start_training(settings):
    """The trainer, resumed from the run's checkpoint or started afresh (every rank reads the
    same files; rank 0 alone writes)."""
    if distributed.is_main():
        prepare_output_dir(os.path.join(settings.out_dir, 'samples'), '--out-dir')
    resuming = os.path.exists(checkpoint_path(settings.out_dir))
    if settings.init_generator and not resuming:
        check_init_files(settings)  # before the training set is read, which can take minutes
    torch.backends.cudnn.benchmark = True
    torch.set_float32_matmul_precision('high')
    table = os.path.join(settings.data, 'all_scores_v2.csv') if os.path.isdir(settings.data) else settings.data
    images, labels = load_training_set(table, architecture(settings.architecture)['resolution'])
    trainer = BaseTrainer(settings, images, labels)
    log_path = os.path.join(settings.out_dir, 'train_log.csv')
    if resuming:
        resume(trainer, checkpoint_path(settings.out_dir))
        trim_log(log_path, lambda log: log.step <= trainer.step)
        print(f'resumed from {checkpoint_path(settings.out_dir)} at step {trainer.step}')
    else:
        discard_log(log_path)
        if settings.init_generator:
            start_from(trainer, settings.init_generator, settings.init_discriminator)
    if distributed.is_main():
        os.makedirs(os.path.join(settings.out_dir, 'samples'), exist_ok=True)
        write_config(settings, settings.out_dir)
    return trainer


def train_in_folder(settings):
    trainer = distributed.together(lambda: start_training(settings))
    trainer.share_among_ranks()
    main = distributed.is_main()
    started = time.time()
    clock = CheckpointClock(settings.checkpoint_minutes)
    with appending_log(os.path.join(settings.out_dir, 'train_log.csv'), LOG_COLUMNS) as log:
        progress = tqdm(total=settings.steps, initial=trainer.step, desc='training', unit='step',
                        disable=not main)
        try:
            while trainer.step < settings.steps:
                losses = trainer.train_step()
                progress.update(1)
                if trainer.step % settings.log_every == 0:
                    log({'step': trainer.step, 'images_seen': trainer.step * settings.batch_size,
                         'seconds': round(time.time() - started, 2),
                         **{k: round(v, 5) for k, v in losses.items()}})
                    progress.set_postfix(d=f"{losses['d_loss']:.3f}", g=f"{losses['g_loss']:.3f}")
                if main and trainer.step % settings.sample_every == 0:
                    save_png(trainer.sample_grid(),
                             os.path.join(settings.out_dir, 'samples', f'step_{trainer.step:07d}.png'))
                # Rank 0's clock decides for every rank, so that they all stop at the same step.
                due, stop = distributed.broadcast(
                    clock.due(),
                    settings.max_minutes and time.time() - started > settings.max_minutes * 60)
                if trainer.step % settings.checkpoint_every == 0 or due:
                    save_state(trainer, settings.out_dir)
                    clock.reset()
                if stop:
                    print(f'stopping at step {trainer.step}: --max-minutes {settings.max_minutes} reached')
                    break
        except KeyboardInterrupt:
            print(f'interrupted at step {trainer.step}; saving a checkpoint to resume from')
        finally:
            save_state(trainer, settings.out_dir)
            progress.close()
    distributed.on_main(lambda: finish(trainer, settings), share=False)
    return trainer


def finish(trainer, settings):
    save_generator(trainer.G_ema, os.path.join(settings.out_dir, 'generator.pth'))
    # Kept beside the generator so that a later run can continue it with a trained critic.
    save_discriminator(trainer.D, os.path.join(settings.out_dir, 'discriminator.pth'))
    save_png(trainer.sample_grid(), os.path.join(settings.out_dir, 'samples', 'final.png'))
    print(f'step {trainer.step}: generator (moving average) saved to'
          f' {os.path.join(settings.out_dir, "generator.pth")}')


def parse_args(argv=None):
    """The run's settings from the command line (flags over the defaults)."""
    parser = new_parser(__doc__)
    parser.add_argument('--data', required=True,
                        help='a world folder holding all_scores_v2.csv, or the table itself')
    parser.add_argument('--architecture', help=f'generator architecture: one of {", ".join(TRAINABLE_ARCHITECTURES)}'
                                         f' (default world64)')
    add_out_dir(parser, 'checkpoint, log, samples, generator.pth and discriminator.pth',
                required=True)
    parser.add_argument('--steps', type=int)
    parser.add_argument('--init-generator',
                        help='a new run starts G from this trained generator of the same architecture')
    parser.add_argument('--init-discriminator',
                        help='and D from this discriminator (the discriminator.pth a run writes'
                             ' beside its generator.pth)')
    parser.add_argument('--d-warmup-steps', type=int,
                        help='the first N steps train D only (G, its average and w_avg stay):'
                             ' a fresh critic for a trained generator')
    parser.add_argument('--max-minutes', type=float,
                        help='stop (and checkpoint) after this much wall time; 0 = no limit')
    parser.add_argument('--batch-size', type=int,
                        help='images per step over all processes (default 32): under torchrun'
                             ' --nproc_per_node N, each process trains on batch-size / N of them,'
                             ' so give a multiple of N')
    parser.add_argument('--lr', type=float)
    parser.add_argument('--r1-gamma', type=float)
    parser.add_argument('--r1-interval', type=int)
    parser.add_argument('--style-mixing', type=float)
    parser.add_argument('--label-dropout', type=float,
                        help='share of images shown with an all-zero label')
    parser.add_argument('--ema-kimg', type=float,
                        help='half-life of the generator average, in thousands of images')
    parser.add_argument('--log-every', type=int)
    parser.add_argument('--sample-every', type=int)
    parser.add_argument('--checkpoint-every', type=int)
    add_checkpoint_minutes(parser, 'every --checkpoint-every steps')
    add_seed_and_device(parser)
    add_debug_flag(parser)
    return parse_settings(parser, argv, BaseTrainingSettings)


def main(argv=None):
    settings = parse_args(argv)
    run_command(lambda: train(settings), argv)


if __name__ == '__main__':
    main()
