"""StyleGAN-FineTune-v5: the base generator fine-tuned so that a 3-dim label (eyes, mouth, pose)
controls the face, against a discriminator built from the Property Score CNN."""
