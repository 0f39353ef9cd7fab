#!/usr/bin/env bash
# The main job: installs dependencies, builds, pretrains SimCLR on Fashion-MNIST with
# configs/simclr_resnet18_fmnist.cfg, and prints k-NN top-1 of the pretrained backbone beside random init
# and raw pixels. Extra arguments are passed to `pretext train` (e.g. --train.epochs=1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh -DPRETEXT_BUILD_TESTS=OFF
./build/launch/pretext train --config configs/simclr_resnet18_fmnist.cfg --output runs/quickstart "$@"
