"""StyleGAN-VectorFind-v6: directions in the 515-dim latent (z and the 3 extra label dims) that
move one property (eyes, mouth, pose) of the generated face and little else."""
