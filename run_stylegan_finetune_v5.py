"""StyleGAN-FineTune-v5: fine-tune the base generator so that a 3-dim label controls eyes, mouth
and pose; see `finetune_v5/pipeline.py` and docs/finetune_v5.md.

    python run_stylegan_finetune_v5.py                      # improved preset: the default world, CPU
    python run_stylegan_finetune_v5.py --preset faithful    # the published training
    python run_stylegan_finetune_v5.py --preset ohlora      # models/stylegan_gen_fine_tuned_v1.pth, GPU
"""
from finetune_v5.pipeline import main

if __name__ == '__main__':
    main()
