# Continue the default base generator on the lent GPU: two runs side by side from the committed
# weights (R1 gamma 1 as before, and 0.1), batch 64, then evaluate both on the GPU.
# Usage: N_WORLD=10000 MINUTES=6.8 DEVICE=cuda bash .device/train_base_gpu.sh
set -e
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=4
OUT=${OUT:-outputs/device_out}; mkdir -p $OUT
nvidia-smi --query-gpu=name --format=csv,noheader || true
date +%T
python3 -m data.build_default_world --n $N_WORLD --seed 0 --out outputs/world --workers 16 2>&1 | tr '\r' '\n' | tail -1
md5sum outputs/world/all_scores_v2.csv
date +%T
common="--data outputs/world --preset world64 --init-generator models/default/base_generator.pth --steps 1000000 --max-minutes $MINUTES --batch-size 64 --sample-every 2000 --checkpoint-every 2000 --log-every 100 --seed 1 --device $DEVICE"
python3 -m base_training.train $common --out outputs/base_g1 --r1-gamma 1 > outputs/train_g1.log 2>&1 &
python3 -m base_training.train $common --out outputs/base_g01 --r1-gamma 0.1 > outputs/train_g01.log 2>&1 &
wait
date +%T
for r in g1 g01; do
  cp outputs/base_$r/generator.pth $OUT/generator_$r.pth
  tr '\r' '\n' < outputs/train_$r.log | grep -v "step/s\|^loading" | tail -3
  tail -1 outputs/base_$r/train_log.csv
  python3 -m base_training.evaluate --generator outputs/base_$r/generator.pth --device $DEVICE \
      --grid outputs/base_$r/grid.png --out outputs/base_$r/evaluate_base.csv > outputs/evaluate_$r.log 2>&1 &
done
wait
for r in g1 g01; do tr '\r' '\n' < outputs/evaluate_$r.log | grep -v "^sampling\|^loading"; done
tar czf $OUT/runs.tgz outputs/train_g1.log outputs/train_g01.log outputs/evaluate_g1.log outputs/evaluate_g01.log \
  outputs/base_g1/train_log.csv outputs/base_g1/config.json outputs/base_g1/samples outputs/base_g1/grid.png outputs/base_g1/evaluate_base* \
  outputs/base_g01/train_log.csv outputs/base_g01/config.json outputs/base_g01/samples outputs/base_g01/grid.png outputs/base_g01/evaluate_base*
date +%T
ls -la $OUT
