"""StyleGAN-FineTune-v5 from the command line; see `stylegan/finetune_v5.py` and the README.

    python run_stylegan_finetune_v5.py                      # improved preset, default world, CPU
    python run_stylegan_finetune_v5.py --preset faithful    # the published training
    python run_stylegan_finetune_v5.py --preset ohlora      # models/stylegan_gen_fine_tuned_v1.pth
"""
from stylegan.finetune_v5 import main

if __name__ == '__main__':
    main()
