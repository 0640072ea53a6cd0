# The next training of the default base generator, from scratch, as one command (one device call):
# build the world, pick the batch size that trains the most images per second, train for MINUTES,
# evaluate, and leave in $OUT what the repository commits (generator.pth and discriminator.pth, so
# that a later session continues the pair with --init-generator and --init-discriminator) with
# the log, configuration, evaluation and samples.
#
#   MINUTES=9 bash models/default/base_generator_training/train_from_scratch.sh      # on the GPU
#   N_WORLD=40 WORLD=outputs/dry_world MINUTES=0.2 DEVICE=cpu BATCH_SIZES="4 8" EVAL_N=200 \
#       RUN=outputs/dry_run OUT=outputs/dry bash models/default/base_generator_training/train_from_scratch.sh  # dry run
#
# R1 gamma 0.1 rather than the committed run's 1: the two continuations at 0.1 widened the eyes
# range (v1 coverage 0.60 and 0.59) where the one at 1 narrowed it (0.46); see base_generator.md.
set -euo pipefail
export PYTHONUNBUFFERED=1
N_WORLD=${N_WORLD:-10000}
MINUTES=${MINUTES:-9}
DEVICE=${DEVICE:-cuda}
GAMMA=${GAMMA:-0.1}
BATCH_SIZES=${BATCH_SIZES:-32 64 128 256}
EVAL_N=${EVAL_N:-5000}
WORLD=${WORLD:-outputs/world}
OUT=${OUT:-outputs/base_from_scratch}
PYTHON=${PYTHON:-python3}
RUN=${RUN:-outputs/base_run}  # its 41 MB checkpoint (resumable) stays out of $OUT
mkdir -p "$OUT"

date +%T
$PYTHON -m data.build_default_world --n "$N_WORLD" --seed 0 --out "$WORLD" --workers "$(nproc)" \
    2>&1 | tr '\r' '\n' | tail -1
$PYTHON -m benchmarks.train_base_step --device "$DEVICE" --batch-sizes $BATCH_SIZES \
    --out "$OUT/train_base_step.csv" 2>&1 | tr '\r' '\n' | grep -v '^$' | tail -6
BATCH=$($PYTHON -c "import pandas as p; t = p.read_csv('$OUT/train_base_step.csv');
print(int(t.batch_size[t.images_per_s.idxmax()]))")
echo "batch size $BATCH"

date +%T
$PYTHON -m stylegan.train_base --data "$WORLD" --preset world64 --out "$RUN" \
    --batch-size "$BATCH" --r1-gamma "$GAMMA" --steps 10000000 --max-minutes "$MINUTES" \
    --sample-every 1000 --checkpoint-every 1000 --log-every 100 --seed 0 --device "$DEVICE" \
    > "$OUT/train.log" 2>&1
tr '\r' '\n' < "$OUT/train.log" | grep -v '^$' | tail -2

date +%T
$PYTHON -m stylegan.evaluate_base --generator "$RUN/generator.pth" \
    --n "$EVAL_N" --device "$DEVICE" --out "$OUT/evaluate_base.csv" --grid "$OUT/grid.png" --plot "$OUT/coverage.png" \
    2>&1 | tr '\r' '\n' | grep -v '^$\|^sampling\|^loading'
cp "$RUN/generator.pth" "$RUN/discriminator.pth" "$RUN/train_log.csv" "$RUN/config.json" "$OUT/"
cp "$RUN/samples/final.png" "$OUT/samples_final.png"
date +%T
ls -la "$OUT"
