#!/usr/bin/env bash
# Installs dependencies, builds everything including the tests, checks formatting, and runs
# the default ctest label (unit). Long checks carry the label `long`: ctest -L long.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh -DPRETEXT_BUILD_TESTS=ON
bash scripts/check_format.sh
ctest --test-dir build --output-on-failure -L unit -j "$(nproc)" --timeout 600
