# A training of the default base generator as one command (one device call): build the world,
# train one run per R1 gamma in GAMMAS side by side on the one GPU for MINUTES (from scratch, or
# continuing the generator/discriminator pair in the folder INIT),
# evaluate each, and leave in $OUT/gamma_<g>/ what the repository commits (generator.pth and
# discriminator.pth, so that a later session continues the pair with --init-generator and
# --init-discriminator) with everything else of the run packed in run.tar.gz (log, configuration,
# evaluation, coverage plot, grid, samples): the device tool brings back at most 8 files.
#
#   MINUTES=7.2 bash models/default/base_generator_training/train_on_gpu.sh            # from scratch
#   INIT=models/default SEED=1 MINUTES=3 bash models/default/base_generator_training/train_on_gpu.sh
#   N_WORLD=40 WORLD=outputs/dry_world MINUTES=0.2 DEVICE=cpu BATCH_SIZE=8 EVAL_N=200 \
#       RUN=outputs/dry_run OUT=outputs/dry bash models/default/base_generator_training/train_on_gpu.sh  # dry run
#
# Two runs side by side rather than one: the model is small enough that one run leaves the GPU
# waiting on Python; side by side at batch 64 each ran 12.6 steps/s on the H100 (2026-11-26), 348k
# images each in 7.2 minutes, more than the previous generator's 268k alone at batch 32.
# The committed generator is this script's work (base_generator.md): from scratch at R1 gamma
# 0.1 and 1 (0.1 lost the head turns, pose coverage 0.21), then the gamma-1 pair continued for
# 2.8 minutes at gamma 1 and 2 (1 kept). Hence the default gammas: 1 and the next one up.
set -euo pipefail
export PYTHONUNBUFFERED=1
N_WORLD=${N_WORLD:-10000}
MINUTES=${MINUTES:-7.2}
DEVICE=${DEVICE:-cuda}
GAMMAS=${GAMMAS:-1 2}
BATCH_SIZE=${BATCH_SIZE:-64}
EVAL_N=${EVAL_N:-5000}
WORLD=${WORLD:-outputs/world}
OUT=${OUT:-outputs/base_on_gpu}
PYTHON=${PYTHON:-python3}
SEED=${SEED:-0}
INIT=${INIT:-}  # a folder with generator.pth and discriminator.pth (models/default names it base_)
RUN=${RUN:-outputs/base_run}  # the runs' 41 MB checkpoints (resumable) stay out of $OUT

date +%T
$PYTHON -m data.build_default_world --n "$N_WORLD" --seed 0 --out "$WORLD" --workers "$(nproc)" \
    2>&1 | tr '\r' '\n' | tail -1

init=()
if [ -n "$INIT" ]; then
    prefix=$([ -f "$INIT/generator.pth" ] && echo "" || echo base_)
    init=(--init-generator "$INIT/${prefix}generator.pth" --init-discriminator "$INIT/${prefix}discriminator.pth")
fi

date +%T
for g in $GAMMAS; do
    mkdir -p "$RUN/gamma_$g"
    $PYTHON -m stylegan.train_base --data "$WORLD" --preset world64 --out "$RUN/gamma_$g" \
        --batch-size "$BATCH_SIZE" --r1-gamma "$g" --steps 10000000 --max-minutes "$MINUTES" \
        --sample-every 1000 --checkpoint-every 1000 --log-every 100 --seed "$SEED" --device "$DEVICE" "${init[@]}" \
        > "$RUN/gamma_$g/train.log" 2>&1 &
done
wait
for g in $GAMMAS; do
    echo "gamma $g: $(tr '\r' '\n' < "$RUN/gamma_$g/train.log" | grep -o 'stopping at step.*\|Error.*' | tail -1)"
done

date +%T
for g in $GAMMAS; do
    run="$RUN/gamma_$g"
    $PYTHON -m stylegan.evaluate_base --generator "$run/generator.pth" --n "$EVAL_N" \
        --device "$DEVICE" --out "$run/evaluate_base.csv" --grid "$run/grid.png" \
        --plot "$run/coverage.png" > "$run/evaluate.log" 2>&1 &
done
wait
for g in $GAMMAS; do
    run="$RUN/gamma_$g"
    echo "gamma $g:"; cat "$run/evaluate_base.csv"
    mkdir -p "$OUT/gamma_$g"
    cp "$run/generator.pth" "$run/discriminator.pth" "$OUT/gamma_$g/"
    tar -czf "$OUT/gamma_$g/run.tar.gz" -C "$run" train.log train_log.csv config.json \
        evaluate_base.csv evaluate_base_config.json evaluate.log grid.png coverage.png samples
done
date +%T
ls -la "$OUT"/*
