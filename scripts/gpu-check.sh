#!/usr/bin/env bash
# The CUDA path end to end, on a machine with an NVIDIA GPU and its driver (issue #30):
#  1. the CUDA compiler, headers and libraries from PyPI's wheels (scripts/cuda-toolkit.sh);
#  2. glh and the training benchmarks built with the `cuda` feature;
#  3. the Adam-step benchmark and its parts on the GPU (criterion, groups ending in `_cuda`);
#  4. one E3 run (Random mask, n = 1024, L = 4, 80% sparsity, seed 0, 200 Adam steps, the test
#     set every 20) trained on the CPU and on the GPU from the same masks run, and every loss of
#     the two histories compared.
#
# Tolerance: both devices compute in f32 but sum their products in different orders (faer's
# blocked GEMM, cuBLAS), so the two runs start a few f32 ulps apart and Adam carries the
# difference through 200 steps. A step's loss may differ by a relative GLH_GPU_TOLERANCE
# (default 1e-3, about 10^4 f32 ulps); more than that is a defect of the CUDA path, not rounding.
#
# Output under $GLH_GPU_CHECK_DIR (default target/gpu-check): the store, bench.txt, compare.txt.
# Exit 0 when the histories agree, 1 when they do not, 2 when no GPU or no driver is found.
#
# `scripts/gpu-check.sh --without-gpu` runs every step a GPU does not need (the build without
# `cuda`, the masks, the CPU run, and the comparison against the same run recomputed, which
# must agree to the bit): the script's own test on a machine without one.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
out="${GLH_GPU_CHECK_DIR:-$target/gpu-check}"
tolerance="${GLH_GPU_TOLERANCE:-1e-3}"
mkdir -p "$out"

# Steps 1-3: the toolkit, the build with `cuda` and the Adam-step benchmark on the GPU.
build_with_cuda() {
    local toolkit
    toolkit="$(scripts/cuda-toolkit.sh --libraries)"
    export PATH="$toolkit/bin:$PATH"
    export CUDA_PATH="$toolkit" CUDA_ROOT="$toolkit"
    export LD_LIBRARY_PATH="$toolkit/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    # The kernels are compiled for this GPU (candle-kernels reads it; 90 on an H100).
    CUDA_COMPUTE_CAP="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)"
    export CUDA_COMPUTE_CAP
    echo "== build with cuda (compute capability $CUDA_COMPUTE_CAP)"
    cargo build --release -p glh-cli --features cuda
    echo "== the Adam step on the GPU"
    GLH_BENCH_DEVICE=cuda cargo bench -p glh-benches --features cuda --bench training \
        -- 'train_step_n1024_L4_b128_cuda' | tee "$out/bench.txt"
}

if [ "${1:-}" = "--without-gpu" ]; then
    second=cpu
    cargo build --release -p glh-cli
else
    second=cuda
    if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
        echo "gpu-check: no NVIDIA GPU or driver here (nvidia-smi -L fails); nothing to check" >&2
        exit 2
    fi
    nvidia-smi -L
    build_with_cuda
fi
glh="$target/release/glh"

echo "== one E3 run on the cpu and on the $second"
store="$out/store"
"$glh" --artifacts "$store" data verify
# A run's directory is the second field of glh's `computed <dir>` (or `cached <dir>`) line.
run_dir() { awk '/^(computed|cached) /{print $2}'; }
key="$(basename "$("$glh" --artifacts "$store" masks --method random --width 1024 --depth 4 \
    --sparsity 0.8 --seed 0 | run_dir)")"
cpu="$("$glh" --artifacts "$store" train --masks "$key" --device cpu | run_dir)"
if [ "$second" = cpu ]; then
    # The same run recomputed must give the same bytes: tolerance 0.
    rm -rf "$out/recomputed"
    cp -r "$cpu" "$out/recomputed"
    "$glh" --artifacts "$store" train --masks "$key" --device cpu --force >/dev/null
    other="$out/recomputed"
    tolerance=0
else
    other="$("$glh" --artifacts "$store" train --masks "$key" --device cuda | run_dir)"
fi

python3 - "$cpu/history.parquet" "$other/history.parquet" "$tolerance" "$second" <<'PY' \
    | tee "$out/compare.txt"
import sys
try:
    import pyarrow.parquet as pq
except ImportError:
    sys.exit("gpu-check: the comparison reads Parquet with pyarrow: pip install pyarrow")
cpu_path, other_path, tolerance, other_name = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
cpu, other = (pq.read_table(p).to_pydict() for p in (cpu_path, other_path))
rows = list(zip(cpu["split"], cpu["step"], cpu["loss"], other["split"], other["step"], other["loss"]))
if len(cpu["loss"]) != len(other["loss"]) or any(r[:2] != r[3:5] for r in rows):
    sys.exit("gpu-check: the two histories hold different steps")
worst = max(rows, key=lambda r: abs(r[2] - r[5]) / abs(r[2]))
worst_rel = abs(worst[2] - worst[5]) / abs(worst[2])
final = [r for r in rows if r[0] == "test"][-1]
print(f"losses compared: {len(rows)}; tolerance (relative): {tolerance:g}")
print(f"worst: {worst[0]} step {worst[1]}: cpu {worst[2]:.7f}, {other_name} {worst[5]:.7f} ({worst_rel:.2e})")
print(f"final test loss: cpu {final[2]:.7f}, {other_name} {final[5]:.7f}")
sys.exit(0 if worst_rel <= tolerance else 1)
PY
