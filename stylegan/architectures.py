"""Named generator architectures, as plain data.

A configuration says everything the generator's shape depends on. The three published Oh-LoRA
variants share one 256 px StyleGAN and differ only in how the property label enters the mapping
network:

* ``embed``: ``label @ label_weight`` ([label_dim, label_embed_dim]) is concatenated to z before
  the pixel norm (StyleGAN-FineTune-v1 with a 7-dim label, VectorFind-v6 with a 3-dim one);
* ``concat``: the label itself is concatenated to z (FineTune-v5, 3-dim label);
* ``none``: an unconditional StyleGAN.

The ``world*`` architectures are the small generators trained on the synthetic face world; they keep
z at 512 so that VectorFind's 515-dim latent (z and the 3 extra dims) is the same everywhere.
"""

PUBLISHED = dict(
    resolution=256,
    z_dim=512,
    w_dim=512,
    mapping_layers=8,
    mapping_fmaps=512,
    mapping_lr_mul=0.01,
    fmaps_base=16 << 10,
    fmaps_max=512,
    label_embed_dim=16,
    # The original v5 generator truncates towards a per-label w average on every layer.
    conditional_truncation=False,
)

WORLD64 = dict(PUBLISHED, resolution=64, w_dim=256, mapping_fmaps=256, mapping_layers=4,
               fmaps_base=2048, fmaps_max=128)

ARCHITECTURES = {
    'v1': dict(PUBLISHED, label_mode='embed', label_dim=7),
    'v6': dict(PUBLISHED, label_mode='embed', label_dim=3),
    'v5': dict(PUBLISHED, label_mode='concat', label_dim=3, conditional_truncation=True),
    'world64': dict(WORLD64, label_mode='embed', label_dim=7),
    'tiny': dict(WORLD64, resolution=16, w_dim=32, mapping_fmaps=32, mapping_layers=2,
                 fmaps_base=256, fmaps_max=32, label_mode='embed', label_dim=7),
}

VARIANTS = ('v1', 'v5', 'v6')


def architecture(name):
    """A copy of the named configuration."""
    if name not in ARCHITECTURES:
        raise KeyError(f'unknown generator architecture {name!r}; known: {sorted(ARCHITECTURES)}')
    return dict(ARCHITECTURES[name])


def as_variant(config, variant):
    """The same generator body with the label entering as `variant` does (v1, v6 or v5)."""
    if variant not in VARIANTS:
        raise KeyError(f'unknown variant {variant!r}; expected one of {VARIANTS}')
    label = {key: ARCHITECTURES[variant][key]
             for key in ('label_mode', 'label_dim', 'conditional_truncation')}
    return dict(config, **label)
