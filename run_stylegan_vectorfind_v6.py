"""StyleGAN-VectorFind-v6: latent directions for eyes, mouth and pose, and their image generation
test; see `vectorfind/pipeline.py` and docs/vectorfind.md.

    python run_stylegan_vectorfind_v6.py                    # default preset: the embedded world, CPU
    python run_stylegan_vectorfind_v6.py --preset ohlora    # the published checkpoints, GPU
"""
from vectorfind.pipeline import main

if __name__ == '__main__':
    main()
