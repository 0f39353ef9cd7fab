#!/usr/bin/env bash
# Long check (ctest label `long`): the quick-start run must end with a pretrained backbone
# whose k-NN top-1 beats the same backbone at random init. Usage: check_quickstart.sh PRETEXT_BIN
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-build/launch/pretext}
run_dir=$(mktemp -d)
trap 'rm -rf "$run_dir"' EXIT
"$binary" train --config configs/simclr_resnet18_fmnist.cfg --output "$run_dir" --train.progress=false
/usr/bin/python3 - "$run_dir/knn.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
pretrained, random_init = results["pretrained"]["top1"], results["random init"]["top1"]
print(f"pretrained {pretrained:.2f}% vs random init {random_init:.2f}%")
sys.exit(0 if pretrained > random_init else 1)
PY
