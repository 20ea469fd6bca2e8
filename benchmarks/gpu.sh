#!/usr/bin/env bash
# The CUDA checks and GPU figures of seqvae, as one prepared script for a machine with a CUDA GPU (the device tool's
# `run`, or any GPU box). It never runs in CI. Everything it prints and writes goes to $OUT (default runs/gpu):
#
#   1. the machine: nvidia-smi, torch's CUDA build, bf16 support;
#   2. the CUDA path of `fit`: a small run on CUDA in float32 against the same run on the CPU (same seed, same data:
#      the losses must agree to float32 round-off), then the same run under bf16 autocast on CUDA (finite, and its
#      final loss within 2 % of float32's);
#   3. the benchmark (benchmarks/bench.py) at paper size on CUDA, both corpora;
#   4. one epoch of Yahoo at He et al.'s size (512/1024, batch 32) with `seqvae train`, timed, float32 and bf16.
#
# Usage (data: SEQVAE_DATA, or copy ../shared/data into a folder .git/info/exclude ignores and carry it):
#   SEQVAE_DATA=/path/to/data OUT=runs/gpu bash benchmarks/gpu.sh            # on a GPU machine
#   DEVICE=cpu QUICK=1 OUT=/tmp/gpu-dry bash benchmarks/gpu.sh               # the script itself, on a CPU, in a minute
# QUICK=1 shrinks steps 3 and 4 to seconds (to check the script, not to measure). Each step's log is $OUT/<step>.log;
# a failed step is reported and the next one still runs; the exit status is the number of failed steps.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-runs/gpu}"; DEVICE="${DEVICE:-cuda}"; QUICK="${QUICK:-0}"; PY="${PYTHON:-python}"
mkdir -p "$OUT"
failed=0
step() {   # step NAME COMMAND...: run it, log to $OUT/NAME.log, report its status and seconds
    local name=$1; shift
    local t0=$(date +%s)
    echo "== $name: $*"
    if "$@" > "$OUT/$name.log" 2>&1; then echo "   ok, $(( $(date +%s) - t0 )) s"
    else echo "   FAILED ($?), $(( $(date +%s) - t0 )) s"; failed=$((failed + 1)); fi
    tail -n 25 "$OUT/$name.log"
}

step machine "$PY" - <<'EOF'
import datetime, platform, subprocess, torch
print("date", datetime.datetime.now().isoformat(timespec="seconds"), "python", platform.python_version(),
      "torch", torch.__version__, "cuda build", torch.version.cuda)
print("cuda available", torch.cuda.is_available())
if torch.cuda.is_available():
    print("device", torch.cuda.get_device_name(0), "bf16 supported", torch.cuda.is_bf16_supported())
    print(subprocess.run(["nvidia-smi"], capture_output=True, text=True).stdout)
EOF

step fit_path env DEVICE="$DEVICE" "$PY" - <<'EOF'
import math, os, torch
from seqvae.train.builder import build
from seqvae.train.config import DataConfig, RunConfig, TrainConfig
from seqvae.model import VAEConfig
from seqvae.schedules import ScheduleConfig
dev = os.environ["DEVICE"]
def run(device, autocast=False):
    cfg = RunConfig(DataConfig("synthetic", max_train=512, max_eval=64, batch_size=32),
                    VAEConfig(None, emb_dim=64, hidden_dim=128, latent_dim=16),
                    TrainConfig(max_steps=60, epochs=None, lr=1e-3, seed=0, device=device, log_every=1, progress=False,
                                autocast=autocast, autocast_lstm=True if autocast else None,
                                beta=ScheduleConfig("cyclical", total_steps=None, n_cycles=2)), use_valid=False)
    h = build(cfg).fit()
    return h.train["loss"]
cpu, gpu = run("cpu"), run(dev)
diff = max(abs(a - b) / max(1.0, abs(a)) for a, b in zip(cpu, gpu))
print(f"float32 on {dev} vs cpu: {len(cpu)} steps, final loss {gpu[-1]:.6f} vs {cpu[-1]:.6f}, max rel. diff {diff:.2e}")
assert diff < 1e-3, "the CUDA path of fit does not reproduce the CPU run"
bf = run(dev, autocast=True)
rel = abs(bf[-1] - gpu[-1]) / abs(gpu[-1])
print(f"bf16 autocast on {dev}: final loss {bf[-1]:.6f}, {100 * rel:.2f} % from float32")
assert all(math.isfinite(x) for x in bf) and rel < 0.02, "bf16 on the device drifts from float32"
EOF

if [ "$QUICK" = 1 ]; then bench_args=(--scale smoke --corpus synthetic --sizes tiny --repeats 1)
else bench_args=(--scale paper --corpus yelp_short,yahoo --sizes paper --repeats 3); fi
step bench "$PY" benchmarks/bench.py "${bench_args[@]}" --device "$DEVICE" --threads 1 --no-notebook \
    --out "$OUT/bench"

if [ "$QUICK" = 1 ]; then epoch=(--corpus synthetic --emb-dim 32 --hidden-dim 64 --max-train 256 --max-eval 32)
else epoch=(--corpus yahoo --emb-dim 512 --hidden-dim 1024); fi
for prec in float32 bf16; do
    flags=(--no-autocast); [ "$prec" = bf16 ] && flags=(--autocast --autocast-lstm)
    step "yahoo_epoch_$prec" "$PY" -c "import sys; from seqvae.cli import main; sys.exit(main())" train \
        --out "$OUT/epoch_$prec" --overwrite "${epoch[@]}" --latent-dim 32 --batch-size 32 --epochs 1 \
        --optimizer sgd --lr 1.0 --no-use-valid --device "$DEVICE" \
        --log-every 100 --no-progress "${flags[@]}"
done
echo "== $failed step(s) failed; logs in $OUT"
exit "$failed"
