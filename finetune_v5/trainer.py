"""One FineTune-v5 training step, and the state that a checkpoint holds.

Each step (SPEC "StyleGAN-FineTune-v5"): the discriminator is updated, and updated again (at most
`max_d_updates` times) while its loss is at least `d_repeat_ratio` x the last generator loss; then
the generator (at most `max_g_updates` times) while its adversarial loss is at least
`g_repeat_ratio` x the discriminator's. Losses: logistic non-saturating, R1 on reals; with
`property_weight`, G also pays the frozen Property Score CNN's squared error of its fakes' eyes,
mouth and pose against their labels.

Under torchrun every rank draws the whole batch from the same seed and trains on its rows of it
(`distributed.shard_rows`), G and D average their gradients over the ranks, and the losses that
decide the extra updates are averaged too, so that every rank makes the same number of updates and
a step of N processes is a step of one process on the same batch.
"""
import json

import numpy as np
import torch
import torch.nn.functional as F
from common.training_loop import random_states, restore_random_states
from sklearn.metrics import roc_auc_score

from common import distributed
from common.images import jitter
from scores.properties import CORE_PROPERTIES
from common.settings import training_record
from finetune_v5.evaluation import EVAL_Z_PER_LABEL, agreement, measure
from property_score_cnn.model import as_model_input

# Settings a checkpoint must agree with to be resumed; the others only say how long to go on.


def epoch_order(n, seed, epoch):
    """The order of the images in an epoch: a function of seed and epoch only, so a resumed run
    needs no more than its position to find its next batch."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def r1_penalty(reals, real_scores):
    grad, = torch.autograd.grad(real_scores.sum(), reals, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def generator_optimizer(generator, lr, first_layer_lr_mul):
    """AdamW over every layer; the first mapping layer (new in v5) at `first_layer_lr_mul` x lr."""
    first = list(generator.mapping.dense0.parameters())
    rest = [p for p in generator.parameters() if all(p is not q for q in first)]
    return torch.optim.AdamW([{'params': rest}, {'params': first, 'lr': lr * first_layer_lr_mul}],
                             lr=lr)


def optimise(optimizer, loss):
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


class FineTuneV5:
    """Models, optimizers, position in the data and random states: what a checkpoint holds."""

    def __init__(self, settings, views, labels, models):
        self.settings = settings
        self.device = torch.device(settings.device)
        self.views, self.labels = views, labels
        self.G, self.D, self.cnn = models
        self.G_train, self.D_train = self.G, self.D
        self.opt_G = generator_optimizer(self.G, settings.lr, settings.first_layer_lr_mul)
        self.opt_D = torch.optim.AdamW(self.D.parameters(), lr=settings.lr)
        self.rng = torch.Generator().manual_seed(settings.seed)  # batches, jitter, latents, labels
        self.batches_per_epoch = len(views) // settings.batch_size  # the ragged last batch is dropped
        self.epoch = self.idx = self.step = 0
        self.last_g_loss = None
        self.score_std = None  # leakage's unit: set by the run before the first evaluation
        self.eval_z = torch.randn(EVAL_Z_PER_LABEL, self.G.z_dim,
                                  generator=torch.Generator().manual_seed(settings.seed + 1))

    def share_among_ranks(self):
        """Under torchrun: G and D average their gradients over the ranks. Called once the
        weights are loaded."""
        self.G_train = distributed.wrap(self.G, unused_parameters=True)
        self.D_train = distributed.wrap(self.D)
        distributed.seed_ranks(self.settings.seed, self.step)

    # ---- data ---------------------------------------------------------------------------------
    def real_batch(self):
        start = self.idx * self.settings.batch_size
        index = epoch_order(len(self.views), self.settings.seed, self.epoch)[start:start + self.settings.batch_size]
        # Jittered as one batch: each image gets the factors a single process draws for it.
        reals = jitter(as_model_input(self.views[index]), self.settings.jitter, self.rng)
        return (distributed.shard_rows(reals).to(self.device),
                distributed.shard_rows(self.labels[index]).to(self.device))

    def fake_labels(self, real_labels):
        if self.settings.fake_labels == 'batch':
            return real_labels
        index = torch.randint(len(self.labels), (self.settings.batch_size,), generator=self.rng)
        return distributed.shard_rows(self.labels[index]).to(self.device)

    def generate(self, labels):
        z = torch.randn(self.settings.batch_size, self.G.z_dim, generator=self.rng)
        z = distributed.shard_rows(z).to(self.device)
        result = self.G_train(z, labels, trunc_psi=self.settings.trunc_psi, randomize_noise=True)
        self.G.update_w_avg(distributed.average(result['w'].detach().mean(dim=0)), self.settings.w_avg_decay)
        return result['image']

    # ---- losses -------------------------------------------------------------------------------
    def d_loss(self, reals, real_labels, fake_labels):
        with torch.no_grad():
            fakes = self.generate(fake_labels)
        reals = reals.detach().requires_grad_(self.settings.r1_gamma > 0)
        real_scores, fake_scores = self.D_train(reals, real_labels), self.D_train(fakes, fake_labels)
        loss = F.softplus(fake_scores).mean() + F.softplus(-real_scores).mean()
        if self.settings.r1_gamma > 0:
            loss = loss + r1_penalty(reals, real_scores) * (self.settings.r1_gamma / 2)
        return loss, *(distributed.gather_rows(scores.detach().flatten()).cpu()
                       for scores in (real_scores, fake_scores))

    def g_loss(self, fake_labels):
        """(adversarial loss, loss to minimise): the adaptive rules compare the adversarial part,
        as the published run had no other."""
        fakes = self.generate(fake_labels)
        adversarial = F.softplus(-self.D(fakes, fake_labels)).mean()
        if self.settings.property_weight == 0:
            return adversarial, adversarial
        measured = self.cnn.score(fakes, CORE_PROPERTIES)
        return adversarial, adversarial + self.settings.property_weight * F.mse_loss(measured, fake_labels)

    # ---- one step -----------------------------------------------------------------------------
    def train_step(self):
        """One batch: the adaptive D updates, then the adaptive G updates -> the step's record."""
        settings = self.settings
        reals, real_labels = self.real_batch()
        fake_labels = self.fake_labels(real_labels)
        self.G.requires_grad_(False)
        self.D.requires_grad_(True)
        for d_count in range(1, settings.max_d_updates + 1):
            d_loss, real_scores, fake_scores = self.d_loss(reals, real_labels, fake_labels)
            optimise(self.opt_D, d_loss)
            d_loss = distributed.average(d_loss.detach()).item()
            if self.last_g_loss is None or d_loss < settings.d_repeat_ratio * self.last_g_loss:
                break
        self.D.requires_grad_(False)
        self.G.requires_grad_(True)
        for g_count in range(1, settings.max_g_updates + 1):
            g_loss, total = self.g_loss(fake_labels)
            optimise(self.opt_G, total)
            g_loss = distributed.average(g_loss.detach()).item()
            if g_loss < settings.g_repeat_ratio * d_loss:
                break
        self.last_g_loss = g_loss
        record = {'epoch': self.epoch, 'idx': self.idx, 'd_loss': d_loss, 'g_loss': g_loss,
                  'd_train_count': d_count, 'g_train_count': g_count,
                  'real_scores_mean': real_scores.mean().item(),
                  'fake_scores_mean': fake_scores.mean().item(),
                  'real_fake_auroc': roc_auc_score(
                      np.r_[np.ones(len(real_scores)), np.zeros(len(fake_scores))],
                      np.r_[real_scores.numpy(), fake_scores.numpy()])}
        self.advance()
        return record

    def advance(self):
        self.step += 1
        self.idx += 1
        if self.idx == self.batches_per_epoch:
            self.epoch, self.idx = self.epoch + 1, 0

    def evaluate(self, psi=None):
        images, labels, scores = measure(self.G, self.cnn, self.eval_z,
                                         self.settings.trunc_psi if psi is None else psi)
        return images, labels, scores, agreement(labels, scores, self.score_std)

    # ---- state --------------------------------------------------------------------------------
    def state(self):
        return {'G': self.G.state_dict(), 'D': self.D.state_dict(),
                'opt_G': self.opt_G.state_dict(), 'opt_D': self.opt_D.state_dict(),
                'epoch': self.epoch, 'idx': self.idx, 'step': self.step,
                'last_g_loss': torch.tensor(float('nan') if self.last_g_loss is None
                                            else self.last_g_loss, dtype=torch.float64),
                **random_states(self.rng, self.device),
                'settings': json.dumps(training_record(self.settings))}

    def load_state(self, state, path):
        stored = json.loads(state['settings'])
        if stored != training_record(self.settings):
            changed = sorted(k for k in stored if stored[k] != training_record(self.settings).get(k))
            raise ValueError(f'{path} is the checkpoint of a run with other settings ({changed});'
                             f' use another --out-dir or the same settings')
        self.G.load_state_dict(state['G'])
        self.D.load_state_dict(state['D'])
        self.opt_G.load_state_dict(state['opt_G'])
        self.opt_D.load_state_dict(state['opt_D'])
        self.epoch, self.idx, self.step = int(state['epoch']), int(state['idx']), int(state['step'])
        last = float(state['last_g_loss'])
        self.last_g_loss = None if np.isnan(last) else last
        restore_random_states(state, self.rng, self.device)

