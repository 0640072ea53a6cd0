"""StyleGAN for Oh-LoRA: one generator implementation for every published variant, its presets,
conversions between variants, and the discriminators used to fine-tune it."""
from stylegan.generator import Generator
from stylegan.loading import convert_v1_to_v5, convert_v1_to_v6, load_generator, save_generator
from stylegan.presets import PRESETS, VARIANTS, as_variant, preset
from stylegan.property_discriminator import (PropertyDiscriminator, init_from_property_score_cnn,
                                             load_property_discriminator,
                                             save_property_discriminator)
