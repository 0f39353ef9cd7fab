#!/usr/bin/env bash
# Compares the SimCLR two-view 224 px data pipeline (decode + augment + collate into uint8
# batches) of pretext (bench/pipeline_bench.cpp, the real Loader) with torchvision + PIL
# (bench/pipeline.py, a DataLoader with the same augmentations), on ~1000 ImageNet-sized JPEGs
# generated once by bench/pipeline_images.py, single thread and with 2 workers, plus
# decode-only as the floor. Sides alternate so machine noise hits both. Prints images/s, images/s
# per core, and the ratio pretext / torchvision per core (above 1: pretext is faster).
#
# Environment: PRETEXT_BUILD_DIR (default build/)  IMAGES (1000)  REPEATS (2)  BATCH (64)
#              PYTHON (pretext's environment: $PRETEXT_VENV/bin/python)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build_dir="${PRETEXT_BUILD_DIR:-build}"
count="${IMAGES:-1000}"
repeats="${REPEATS:-2}"
batch="${BATCH:-64}"
python="${PYTHON:-${PRETEXT_VENV:-/opt/pretext/venv}/bin/python}"
binary="$build_dir/bench/pretext_bench_pipeline"
images="$build_dir/bench_images"

if ! "$python" -c "import torchvision, PIL" 2>/dev/null; then
  echo "pipeline.sh: $python cannot import torchvision and PIL; run scripts/install_deps.sh" \
    "or set PYTHON" >&2
  exit 1
fi
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$build_dir" --target pretext_bench_pipeline >&2

# Generated once; regenerated when the count changes.
if [[ "$(ls "$images/train" 2>/dev/null | wc -l)" != "$count" ]]; then
  rm -rf "$images"
  echo "pipeline.sh: writing $count JPEGs to $images/train (once)" >&2
  "$python" bench/pipeline_images.py "$images/train" "$count" 0
fi

log="$build_dir/bench/pipeline.jsonl"
: >"$log"
# mode | workers (0 = the calling thread does the work) | cores used
settings=("decode|0|1" "full|0|1" "full|2|2")
for ((r = 0; r < repeats; r++)); do
  for entry in "${settings[@]}"; do
    IFS='|' read -r mode workers cores <<<"$entry"
    OMP_NUM_THREADS=1 "$binary" "$images" --workers "$workers" --batch "$batch" --mode "$mode" \
      | sed "s/}\$/, \"cores\": $cores}/" >>"$log"
    OMP_NUM_THREADS=1 "$python" bench/pipeline.py "$images/train" --workers "$workers" \
      --batch "$batch" --mode "$mode" | sed "s/}\$/, \"cores\": $cores}/" >>"$log"
  done
done

"$python" - "$log" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
best = {}
for row in rows:  # best of the repeats: the run least disturbed by other load
    key = (row["side"], row["mode"], row["workers"])
    if key not in best or row["images_per_s"] > best[key]["images_per_s"]:
        best[key] = row
print("%-22s %12s %12s %16s %16s %8s" % ("setting", "pretext/s", "torchvision/s",
                                          "pretext/s/core", "torchvision/s/core", "ratio"))
for mode, workers in (("decode", 0), ("full", 0), ("full", 2)):
    p, t = best[("pretext", mode, workers)], best[("torchvision", mode, workers)]
    cores = p["cores"]
    name = "decode only" if mode == "decode" else "two views, %s" % (
        "1 thread" if workers == 0 else "%d workers" % workers)
    print("%-22s %12.1f %12.1f %16.1f %16.1f %7.2fx" % (
        name, p["images_per_s"], t["images_per_s"], p["images_per_s"] / cores,
        t["images_per_s"] / cores, p["images_per_s"] / t["images_per_s"]))
PY
