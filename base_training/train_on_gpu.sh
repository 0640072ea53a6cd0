# A training of the default base generator as one command (one device call): build the world,
# train one run per R1 gamma in GAMMAS side by side on the one GPU for MINUTES (from scratch, or
# continuing the generator/discriminator pair in the folder INIT),
# evaluate each, and leave in $OUT/gamma_<g>/ what the repository commits (generator.pth and
# discriminator.pth, so that a later session continues the pair with --init-generator and
# --init-discriminator) with everything else of the run packed in run.tar.gz (log, configuration,
# evaluation, coverage plot, grid, samples): the device tool brings back at most 8 files.
#
#   MINUTES=7.2 bash base_training/train_on_gpu.sh            # from scratch
#   INIT=models/default SEED=1 MINUTES=3 bash base_training/train_on_gpu.sh
#   N_WORLD=40 WORLD=outputs/dry_world MINUTES=0.2 DEVICE=cpu BATCH_SIZE=8 EVAL_N=200 \
#       RUN=outputs/dry_run OUT=outputs/dry bash base_training/train_on_gpu.sh  # dry run
#
# Two runs side by side rather than one: the model is small enough that one run leaves the GPU
# waiting on Python, so two runs train more images in the same minutes. The default gammas are
# the one the committed generator was trained at and the next one up; how it was trained, run by
# run, is in models/default/base_generator.md.
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
$PYTHON -m data.build_default_world --n "$N_WORLD" --seed 0 --out-dir "$WORLD" --workers "$(nproc)" \
    2>&1 | tr '\r' '\n' | tail -1

init=()
if [ -n "$INIT" ]; then
    prefix=$([ -f "$INIT/generator.pth" ] && echo "" || echo base_)
    init=(--init-generator "$INIT/${prefix}generator.pth" --init-discriminator "$INIT/${prefix}discriminator.pth")
fi

date +%T
for g in $GAMMAS; do
    mkdir -p "$RUN/gamma_$g"
    $PYTHON -m base_training.train --data "$WORLD" --architecture world64 --out-dir "$RUN/gamma_$g" \
        --batch-size "$BATCH_SIZE" --r1-gamma "$g" --steps 10000000 --max-minutes "$MINUTES" \
        --sample-every 1000 --checkpoint-every 1000 --log-every 100 --seed "$SEED" --device "$DEVICE" "${init[@]}" \
        > "$RUN/gamma_$g/train.log" 2>&1 &
done
wait
for g in $GAMMAS; do
    echo "gamma $g: $(tr '\r' '\n' < "$RUN/gamma_$g/train.log" | grep -o 'stopping at step.*\|[Ee]rror.*' | tail -1)"
done

date +%T
for g in $GAMMAS; do
    run="$RUN/gamma_$g"
    $PYTHON -m base_training.evaluate --generator "$run/generator.pth" --n "$EVAL_N" \
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
