#!/usr/bin/env bash
# Installs the Debian 12 packages pretext needs to build, test and benchmark. Idempotent:
# packages already present are skipped by apt. Run as root (or with sudo available).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libgloo-dev
  libopencv-dev libboost-program-options-dev libhdf5-dev libgtest-dev zlib1g-dev
  libopenblas0-openmp
  dataset-fashion-mnist
  python3-torch python3-torchvision python3-numpy python3-pil libbenchmark-dev
  clang-format
  iproute2 procps
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# LibTorch 1.13 takes its matrix products from the system BLAS: pick the OpenMP OpenBLAS,
# which shares LibTorch's OpenMP threads (the reference BLAS is ~40x slower, the pthread
# OpenBLAS oversubscribes the cores).
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
for alt in "libblas.so.3-${arch}" "liblapack.so.3-${arch}"; do
  lib=$(update-alternatives --list "$alt" 2>/dev/null | grep openblas-openmp | head -n 1 || true)
  if [[ -n "$lib" ]]; then
    current=$(update-alternatives --query "$alt" | awk '/^Value:/ {print $2}')
    if [[ "$current" != "$lib" ]]; then
      sudo_cmd=()
      [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
      "${sudo_cmd[@]}" update-alternatives --set "$alt" "$lib"
    fi
  fi
done
