#!/usr/bin/env bash
# Times one SimCLR training step (forward of both views, NT-Xent, backward, optimizer step) in
# pretext (bench/simclr_step_bench.cpp) and in Python PyTorch (bench/simclr_step.py, run by
# pretext's Python environment: the same torch 2.11 wheel pretext links), alternating C++ and Python runs so machine noise hits both,
# and prints ms/step for each and the ratio C++/Python (below 1: pretext is faster).
#
# Settings: quickstart (ResNet-18 width 0.25, batch 256, 28 px, projector hidden 512) and
# resnet18 (full width, batch 64, 28 px, hidden 2048). Environment overrides:
#   PRETEXT_BUILD_DIR (default build/)  THREADS (default nproc)  REPEATS (runs per side, 2)
#   OPTIMIZER (sgd|lars, sgd)  BENCH_STEPS_SCALE (1: steps x N)
#   PYTHON (pretext's environment, $PRETEXT_VENV/bin/python)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build_dir="${PRETEXT_BUILD_DIR:-build}"
threads="${THREADS:-$(nproc)}"
repeats="${REPEATS:-2}"
optimizer="${OPTIMIZER:-sgd}"
python="${PYTHON:-${PRETEXT_VENV:-/opt/pretext/venv}/bin/python}"
scale="${BENCH_STEPS_SCALE:-1}"
binary="$build_dir/bench/pretext_bench_simclr_step"

if ! "$python" -c "import torch" 2>/dev/null; then
  echo "simclr_step.sh: $python cannot import torch; run scripts/install_deps.sh or set" \
    "PYTHON to an interpreter that has PyTorch" >&2
  exit 1
fi

if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$build_dir" --target pretext_bench_simclr_step >&2

log="$build_dir/bench/simclr_step.jsonl"
: >"$log"

# name | common flags | warm-up steps | timed steps
settings=(
  "quickstart|--width 0.25 --batch 256 --size 28 --hidden 512|2|8"
  "resnet18|--width 1.0 --batch 64 --size 28 --hidden 2048|2|5"
)

field() {  # field NAME JSON-LINE
  "$python" -c 'import json, sys; print(json.loads(sys.argv[2])[sys.argv[1]])' "$1" "$2"
}

rows=()
for entry in "${settings[@]}"; do
  IFS='|' read -r name flags warmup steps <<<"$entry"
  steps=$((steps * scale))
  # shellcheck disable=SC2206
  args=($flags --optimizer "$optimizer" --threads "$threads" --warmup "$warmup" --steps "$steps")
  cpp_sum=0
  py_sum=0
  py_cl_sum=0
  for ((r = 1; r <= repeats; ++r)); do
    # pretext as shipped (channels-last convolutions); Python as users write it by default,
    # and Python with the same channels-last layout.
    cpp_line="$("$binary" "${args[@]}")"
    echo "$cpp_line" | tee -a "$log" >&2
    py_line="$("$python" bench/simclr_step.py "${args[@]}")"
    echo "$py_line" | tee -a "$log" >&2
    py_cl_line="$("$python" bench/simclr_step.py "${args[@]}" --channels_last 1)"
    echo "$py_cl_line" | tee -a "$log" >&2
    cpp_sum="$("$python" -c "print($cpp_sum + $(field median_ms "$cpp_line"))")"
    py_sum="$("$python" -c "print($py_sum + $(field median_ms "$py_line"))")"
    py_cl_sum="$("$python" -c "print($py_cl_sum + $(field median_ms "$py_cl_line"))")"
  done
  rows+=("$("$python" -c "
c, p, q = $cpp_sum / $repeats, $py_sum / $repeats, $py_cl_sum / $repeats
print(f'{\"$name\":<12} {c:>10.1f} {p:>10.1f} {q:>10.1f} {c / p:>9.2f} {c / q:>9.2f}')")")
done

echo
echo "SimCLR step, $threads threads, $optimizer, median ms/step averaged over $repeats runs per side"
printf '%-12s %10s %10s %10s %9s %9s\n' setting "pretext" "Python" "Python-CL" "ratio" "ratio-CL"
printf '%s\n' "${rows[@]}"
echo "(ratio = pretext / Python default layout, ratio-CL = pretext / Python channels-last;"
echo " target <= 0.90. Raw runs: $log)"
