#!/usr/bin/env bash
# Installs NVIDIA's CUDA compiler and headers from PyPI's wheels into a cached folder (no GPU,
# no system packages, no root) and prints the folder whose bin/ holds nvcc. Idempotent: a
# second call finds the folder and prints it at once.
#
#   scripts/cuda-toolkit.sh               nvcc and the headers (about 300 MB): enough to compile
#                                         the `cuda` feature (`cargo check`, as CI does)
#   scripts/cuda-toolkit.sh --libraries   also cuBLAS, cuRAND and NVRTC (about 1 GB), which
#                                         candle's cudarc links against: enough to build and run
#                                         (scripts/gpu-check.sh); the driver comes with the GPU
#
# The version is pinned to the newest CUDA that cudarc (candle's CUDA bindings) recognises:
# its build script reads `nvcc --version` and stops on a release it does not know.
set -euo pipefail

CUDA_VERSION="13.4.92"
# CUDA's C++ core libraries (<nv/target>, included by cuda_fp16.h), versioned on their own.
CCCL_VERSION="13.3.5.0.6"
# The libraries candle links, of the CUDA 13.4 generation.
CUBLAS_VERSION="13.4.3.11"
CURAND_VERSION="10.4.4.72"
root="${GLH_CUDA_TOOLKIT:-$HOME/.cache/graphon-lab/cuda-$CUDA_VERSION}"
toolkit="$root/nvidia/cu13"

packages=("nvidia-cuda-nvcc==$CUDA_VERSION" "nvidia-cuda-runtime==$CUDA_VERSION"
    "nvidia-cuda-crt==$CUDA_VERSION" "nvidia-nvvm==$CUDA_VERSION" "nvidia-cuda-cccl==$CCCL_VERSION")
installed() { [ -x "$toolkit/nvvm/bin/cicc" ] && [ -e "$toolkit/include/nv/target" ]; }
if [ "${1:-}" = "--libraries" ]; then
    packages+=("nvidia-cublas==$CUBLAS_VERSION" "nvidia-curand==$CURAND_VERSION"
        "nvidia-cuda-nvrtc==$CUDA_VERSION")
    installed() { [ -x "$toolkit/nvvm/bin/cicc" ] && ls "$toolkit"/lib/libcublas.so* >/dev/null 2>&1; }
fi

# All wheels in one pip call into a fresh folder, then moved into place: pip's --target does
# not merge a second install into folders the first one made (both put files under nvidia/).
if ! installed; then
    echo "installing ${packages[*]} into $root" >&2
    partial="$root.partial"
    rm -rf "$partial"
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$partial" \
        "${packages[@]}" >&2
    rm -rf "$root"
    mv "$partial" "$root"
fi
"$toolkit/bin/nvcc" --version >/dev/null
echo "$toolkit"
