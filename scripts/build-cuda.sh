#!/usr/bin/env bash
# Builds the CUDA flavour of the addon without a system CUDA toolkit: nvcc and the CUDA headers
# come from NVIDIA's PyPI packages, installed into a virtual environment (.cache/cuda-venv). The
# CUDA 12 wheels (nvidia-cuda-nvcc-cu12, every 12.x release checked) ship ptxas but no nvcc; the
# CUDA 13 ones (nvidia-cuda-nvcc, -runtime, -cccl, nvidia-nvvm, nvidia-cuda-crt) ship nvcc,
# headers (libcu++'s `nv/target` among them) and libcudart, so those are used. The driver library (libcuda) is only needed at run time, on the machine with the GPU:
# candle's cudarc loads it dynamically.
#
#   scripts/build-cuda.sh            # cargo check --features cuda (compiles the CUDA kernels too)
#   scripts/build-cuda.sh build      # the release addon with CUDA: target/cuda/addon/toolrouter.<platform>.node
#   CUDA_COMPUTE_CAP=90 scripts/build-cuda.sh build   # default 80; 90 = H100/H200
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-check}"
venv=.cache/cuda-venv
# CUDA 13.0: cudarc 0.19 (candle 0.9's) knows toolkits up to 13.4 and its build script refuses
# newer ones; 13.0 is the oldest 13.x, for the widest driver support. Every part is pinned: nvcc's
# own dependencies (nvvm, crt) are loose, and a newer nvvm emits PTX that ptxas 13.0 refuses.
cuda='13.0.*'
if [ ! -e "$venv/cuda-13.0-ready" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet "nvidia-cuda-nvcc==$cuda" "nvidia-cuda-runtime==$cuda" \
    "nvidia-cuda-cccl==$cuda" "nvidia-nvvm==$cuda" "nvidia-cuda-crt==$cuda"
  touch "$venv/cuda-13.0-ready"
fi
site="$("$venv/bin/python" -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))')"
# The wheels unpack into one CUDA root (bin/nvcc, include/, lib/), as bindgen_cuda and cudarc
# expect it; some tools look in lib64.
root="$site/nvidia/cu13"
[ -e "$root/lib64" ] || ln -s lib "$root/lib64"
export CUDA_ROOT="$root" CUDA_PATH="$root" CUDA_TOOLKIT_ROOT_DIR="$root" CUDA_HOME="$root"
export PATH="$root/bin:$PATH"
export LD_LIBRARY_PATH="$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-80}" CUDARC_CUDA_VERSION=13000
nvcc --version | tail -2
# A target folder of its own: a CUDA build must not invalidate the CPU build's cache.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/cuda}"
case "$mode" in
  check) cargo check --workspace --features toolrouter-node/cuda ;;
  build)
    npx napi build --platform --release --manifest-path crates/toolrouter-node/Cargo.toml \
      --features cuda --output-dir "$CARGO_TARGET_DIR/addon" --no-js
    # Beside the CPU addon, not over it: copy it to the repository root (or load it through
    # NAPI_RS_NATIVE_LIBRARY_PATH) on the GPU machine.
    ls -l "$CARGO_TARGET_DIR"/addon/*.node
    ;;
  *) echo "usage: $0 [check|build]" >&2; exit 1 ;;
esac
