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
from dataclasses import dataclass
from functools import partial
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from common import distributed
from common.checkpoints import (CheckpointError, first_line, missing_file_message,
                                read_state)
from common.cli import prepare_output_dir, run_command
from common.files import atomic_write, write_json
from common.images import contact_sheet, save_png, to_uint8
from common.run_lock import data_parallel_training
from common.settings import (Path, as_record, check_settings, checkpoint_minutes_setting, device_setting,
                             parse_settings, resolved_device, seed_setting, setting)
from common.training_loop import random_states, restore_random_states, run_training
from common.training_log import appending_log, discard_log, trim_log
from common.validation import InputError, check_count, check_not_negative, check_positive, check_share
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
    data: Path = setting(help='a world folder holding all_scores_v2.csv, or the table itself')
    out_dir: Path = setting(help='checkpoint, log, samples, generator.pth and discriminator.pth')
    architecture: str = setting('world64', choices=TRAINABLE_ARCHITECTURES, help='generator architecture')
    steps: int = setting(20000)
    init_generator: Optional[Path] = setting(
        None, help='a new run starts G from this trained generator of the same architecture')
    init_discriminator: Optional[Path] = setting(
        None, help='and D from this discriminator (the discriminator.pth a run writes beside its generator.pth)')
    d_warmup_steps: int = setting(0, check=partial(check_count, minimum=0),
                                  help='the first N steps train D only (G, its average and w_avg stay):'
                                       ' a fresh critic for a trained generator')
    max_minutes: float = setting(0.0, check=check_not_negative,
                                 help='stop (and checkpoint) after this much wall time; 0 = no limit')
    batch_size: int = setting(32, check=check_count,
                              help='images per step over all processes: under torchrun --nproc_per_node N,'
                                   ' each process trains on batch-size / N of them, so give a multiple of N')
    lr: float = setting(0.002, check=check_positive)
    r1_gamma: float = setting(1.0, check=check_not_negative)
    r1_interval: int = setting(4, check=check_count)
    style_mixing: float = setting(0.9, check=check_share)
    label_dropout: float = setting(0.5, check=check_share, help='share of images shown with an all-zero label')
    ema_kimg: float = setting(10.0, check=check_positive,
                              help='half-life of the generator average, in thousands of images')
    log_every: int = setting(50, check=check_count)
    sample_every: int = setting(1000, check=check_count)
    checkpoint_every: int = setting(1000, check=check_count)
    checkpoint_minutes: float = checkpoint_minutes_setting('every --checkpoint-every steps')
    seed: int = seed_setting()
    device: Optional[str] = device_setting()

    def __post_init__(self):
        """Every value checked before any work (a bad one is a usage error of the command)."""
        self.device = resolved_device(self.device)
        if self.init_discriminator and not self.init_generator:
            raise ValueError('--init-discriminator continues a trained pair: give --init-generator too')
        check_settings(self)
        if not (isinstance(self.steps, int) and (self.steps >= 1 or self.steps == 0 and self.init_generator)):
            raise InputError(f'--steps must be at least 1 (0 only with --init-generator, which then'
                             f' saves that generator as the run\'s), got {self.steps}')
        check_count(self.seed, '--seed', minimum=-2 ** 63)


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
                'step': self.step, 'last_r1': self.last_r1, **random_states(self.rng, self.device)}

    def load_state(self, state):
        self.G.load_state_dict(state['G'])
        self.D.load_state_dict(state['D'])
        self.G_ema.load_state_dict(state['G_ema'])
        self.opt_G.load_state_dict(state['opt_G'])
        self.opt_D.load_state_dict(state['opt_D'])
        self.step = int(state['step'])
        self.last_r1 = float(state.get('last_r1', 0.0))  # logged until the next R1 step
        restore_random_states(state, self.rng, self.device)

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


class BaseTraining:
    """The base training as `common.training_loop` runs it: a step at a time, logged every
    --log-every steps, a sample grid every --sample-every and a checkpoint every --checkpoint-every."""

    def __init__(self, trainer, log, progress):
        self.trainer, self.settings, self.log, self.progress = trainer, trainer.settings, log, progress
        self.started = time.time()

    def finished(self):
        return self.trainer.step >= self.settings.steps

    def advance(self, clock):
        trainer, settings = self.trainer, self.settings
        losses = trainer.train_step()
        if trainer.step % settings.log_every == 0:
            self.log({'step': trainer.step, 'images_seen': trainer.step * settings.batch_size,
                      'seconds': round(time.time() - self.started, 2),
                      **{k: round(v, 5) for k, v in losses.items()}})
            self.progress.set_postfix(d=f"{losses['d_loss']:.3f}", g=f"{losses['g_loss']:.3f}")
        if distributed.is_main() and trainer.step % settings.sample_every == 0:
            save_png(trainer.sample_grid(), os.path.join(settings.out_dir, 'samples', f'step_{trainer.step:07d}.png'))
        return trainer.step % settings.checkpoint_every == 0

    def save(self):
        save_state(self.trainer, self.settings.out_dir)


def train_in_folder(settings):
    trainer = distributed.together(lambda: start_training(settings))
    trainer.share_among_ranks()
    with appending_log(os.path.join(settings.out_dir, 'train_log.csv'), LOG_COLUMNS) as log:
        progress = tqdm(total=settings.steps, initial=trainer.step, desc='training', unit='step',
                        disable=not distributed.is_main())
        try:
            training = BaseTraining(trainer, log, progress)
            if run_training(training, settings.checkpoint_minutes, settings.max_minutes, progress):
                print(f'stopping at step {trainer.step}: --max-minutes {settings.max_minutes} reached')
        except KeyboardInterrupt:
            print(f'interrupted at step {trainer.step}; saved a checkpoint to resume from')
        finally:
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
    return parse_settings(BaseTrainingSettings, argv, doc=__doc__)


def main(argv=None):
    settings = parse_args(argv)
    run_command(lambda: train(settings), argv)


if __name__ == '__main__':
    main()
