#!/usr/bin/env bash
# Installs what pretext needs to build, test and benchmark: Debian 12 packages (compiler,
# OpenCV, Boost, HDF5, GoogleTest, the Fashion-MNIST dataset, Chromium for the report check)
# and a Python virtual environment holding PyPI's torch 2.11.0 (LibTorch: headers, libraries,
# CMake config; CUDA 13.0 and NCCL compiled in) with the Python packages the cross-checks and
# benchmarks use, pinned in scripts/python-requirements.lock.
#
# The environment lives at $PRETEXT_VENV (default /opt/pretext/venv), outside the repository,
# and is reused while it was made from the current lock file; otherwise it is rebuilt.
# Idempotent. Run as root (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config
  libgloo-dev
  libopencv-dev libboost-program-options-dev libhdf5-dev libgtest-dev zlib1g-dev
  libbenchmark-dev
  dataset-fashion-mnist
  python3 python3-venv
  clang-format chromium
  iproute2 procps
)

sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The CUDA toolkit CMake uses must be the one the torch wheel was built with (13.0).
cuda_root=${CUDA_HOME:-/usr/local/cuda}
if [[ ! -x "$cuda_root/bin/nvcc" ]]; then
  echo "install_deps.sh: no CUDA toolkit at $cuda_root (set CUDA_HOME); torch 2.11.0+cu130" \
    "needs the CUDA 13.0 toolkit to build against" >&2
  exit 1
fi

venv=${PRETEXT_VENV:-/opt/pretext/venv}
lock=scripts/python-requirements.lock
stamp="$venv/pretext-lock.sha256"
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] &&
  "$venv/bin/python" -c 'import torch, torchvision, timm, safetensors, lightly, h5py' 2>/dev/null; then
  exit 0
fi

echo "install_deps.sh: creating the Python environment $venv (about 5 GB, downloads ~3.5 GB)" >&2
"${sudo_cmd[@]}" rm -rf "$venv"
"${sudo_cmd[@]}" mkdir -p "$(dirname "$venv")"
"${sudo_cmd[@]}" /usr/bin/python3 -m venv "$venv"
"${sudo_cmd[@]}" "$venv/bin/pip" install --quiet --no-cache-dir --disable-pip-version-check \
  -r "$lock"
"$venv/bin/python" - <<'PY'
import torch
assert torch.__version__ == "2.11.0+cu130", torch.__version__
assert torch.version.cuda == "13.0", torch.version.cuda
PY
echo "$want" | "${sudo_cmd[@]}" tee "$stamp" >/dev/null
