"""StyleGAN for Oh-LoRA: one generator implementation for every published variant, its
architectures, conversions between variants, and the discriminator network. Nothing here knows of
scores, worlds or trainings: those live in the packages that use the generator."""
from stylegan.generator import Generator
from stylegan.loading import convert_v1_to_v5, convert_v1_to_v6, load_generator, save_generator
from stylegan.architectures import ARCHITECTURES, VARIANTS, architecture, as_variant
