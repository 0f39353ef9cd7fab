#!/usr/bin/env bash
# Trains every objective's Fashion-MNIST config for the same number of epochs on the same
# backbone, evaluates each with k-NN, and prints a table: loss at the first and last logged
# step, collapse diagnostics, k-NN top-1, and training throughput relative to SimCLR.
# Usage: compare_objectives.sh [OUT_DIR] [--section.key=value ...]   (default: 1 epoch each)
# Runs already finished in OUT_DIR (a knn.json present) are reused, so an interrupted
# comparison picks up where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir=${1:-runs/compare}
shift || true
binary=${PRETEXT_BIN:-build/launch/pretext}
objectives=(simclr moco_v2 moco_v3 byol simsiam barlow_twins vicreg dino)
mkdir -p "$out_dir"
for objective in "${objectives[@]}"; do
  run="$out_dir/$objective"
  if [[ -f "$run/knn.json" ]]; then continue; fi
  echo "== $objective" >&2
  "$binary" train --config "configs/${objective}_resnet18_fmnist.cfg" --train.epochs=1 \
    --train.progress=false --eval.baselines=false "$@" --output "$run" >"$out_dir/$objective.log" 2>&1 ||
    { echo "$objective failed; see $out_dir/$objective.log" >&2; exit 1; }
done
/usr/bin/python3 - "$out_dir" "${objectives[@]}" <<'PY'
import json, os, statistics, sys
out_dir, objectives = sys.argv[1], sys.argv[2:]
rows = []
for name in objectives:
    run = os.path.join(out_dir, name)
    records = [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl"))]
    knn = json.load(open(os.path.join(run, "knn.json")))["results"]["pretrained"]
    # Throughput: median over logged intervals, the first (start-up) interval left out.
    rate = statistics.median(r["images_per_s"] for r in records[1:] or records)
    rows.append((name, records[0]["loss"], records[-1]["loss"], records[-1].get("embedding/std"),
                 records[-1].get("embedding/rank"), knn["top1"], rate))
simclr_rate = next(r[6] for r in rows if r[0] == "simclr")
print("| objective | loss first | loss last | embedding std | embedding rank | k-NN top-1 |"
      " img/s | step time vs SimCLR |")
print("|---|---|---|---|---|---|---|---|")
for name, first, last, std, rank, top1, rate in rows:
    print(f"| {name} | {first:.4f} | {last:.4f} | {std:.4f} | {rank:.1f} | {top1:.2f}% |"
          f" {rate:.0f} | {simclr_rate / rate:.2f}x |")
PY
