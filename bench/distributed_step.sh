#!/usr/bin/env bash
# Step time of the quick-start SimCLR run on one rank against two Gloo ranks (pretext launch)
# with the same global batch, on this machine: the cost of splitting the batch and averaging
# gradients over c10d (SyncBatchNorm on, so both compute the same thing). Both use every
# core (one rank: all threads; two ranks: half each).
# Prints the median ms/step of each (first logged interval dropped) and the ratio.
# Environment: PRETEXT_BUILD_DIR (default build/)  STEPS (default 40)  OUT (a scratch folder)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
binary="${PRETEXT_BUILD_DIR:-build}/launch/pretext"
steps="${STEPS:-40}"
out="${OUT:-$(mktemp -d)}"
cores="$(nproc)"
[[ -x "$binary" ]] || { echo "distributed_step.sh: build pretext first ($binary)" >&2; exit 1; }

common=(train --config configs/simclr_resnet18_fmnist.cfg --train.max_steps="$steps"
  --train.log_every=5 --train.progress=false --eval.after_train=false --dist.sync_batch_norm=true)

median_ms_per_step() {  # metrics.jsonl -> median ms per step over the logged intervals
  python3 - "$1" <<'PY'
import json, statistics, sys
records = [json.loads(line) for line in open(sys.argv[1]) if '"loss"' in line]
batch = 256
rates = [r["images_per_s"] for r in records[2:]]  # the first intervals include start-up
print(f"{statistics.median(batch / r * 1000 for r in rates):.1f}")
PY
}

mkdir -p "$out"
rm -rf "$out/one" "$out/two"
OMP_WAIT_POLICY=PASSIVE "$binary" "${common[@]}" --train.threads="$cores" --output "$out/one" \
  >"$out/one.log" 2>&1
OMP_WAIT_POLICY=PASSIVE "$binary" launch --nproc-per-node 2 -- "${common[@]}" \
  --train.threads=$((cores > 1 ? cores / 2 : 1)) --output "$out/two" >"$out/two.log" 2>&1
one="$(median_ms_per_step "$out/one/metrics.jsonl")"
two="$(median_ms_per_step "$out/two/metrics.jsonl")"
python3 -c "print(f'1 rank: {$one} ms/step  2 Gloo ranks: {$two} ms/step  ratio 2/1: {$two / $one:.2f}')"
# The same global batch: the same first loss up to float rounding; rounding differences then
# grow over the steps.
python3 - "$out/one/metrics.jsonl" "$out/two/metrics.jsonl" <<'PY'
import json, sys
a, b = ([(r["step"], r["loss"]) for r in map(json.loads, open(p)) if "loss" in r] for p in sys.argv[1:3])
for (step, one), (_, two) in zip(a, b):
    print("step %3d loss: 1 rank %.6f, 2 ranks %.6f" % (step, one, two))
PY
