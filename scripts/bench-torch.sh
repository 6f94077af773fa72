#!/usr/bin/env bash
# `just bench-torch`: our criterion benchmarks beside PyTorch twins on the same weights, masks
# and batches, as one table of ratios (issue #18). Not part of CI: it installs PyTorch (about
# 3 GB with its CUDA libraries; it runs on the CPU) into a virtual environment of its own,
# $GLH_TORCH_VENV (default ~/.cache/graphon-lab/torch-venv), kept for the next run.
# Output: the table on stdout and in $OUT/table.md, PyTorch's raw numbers in $OUT/torch.json.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
venv="${GLH_TORCH_VENV:-$HOME/.cache/graphon-lab/torch-venv}"
out="${GLH_BENCH_TORCH_DIR:-$target/bench-torch}"
packages="torch==2.15.0 safetensors==0.8.0 numpy==2.4.6"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
# shellcheck disable=SC2086
"$venv/bin/pip" install --quiet --disable-pip-version-check $packages

echo "== fixtures (our masks, exports, MNIST, batch order, our E3 run) -> $out"
cargo build --release --quiet -p glh-benches --bin torch-fixtures
"$target/release/torch-fixtures" "$out"

echo "== PyTorch twins"
"$venv/bin/python" scripts/torch_twins.py "$out" --out "$out/torch.json" > "$out/torch.log"

echo "== our criterion benchmarks"
cargo bench --quiet -p glh-benches --bench training
cargo bench --quiet -p glh-benches --bench masks -- score_select

python3 scripts/bench_table.py "$target/criterion" "$out/torch.json" | tee "$out/table.md"
