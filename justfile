# graphon-lab tasks. `just` lists them; `just reproduce` and `just test` are the two that matter.
#
# Everything builds in ONE optimized profile (release): the debug profile is too slow for
# numerical code, and a second profile would compile every dependency twice.

set shell := ["bash", "-euo", "pipefail", "-c"]

glh := "cargo run --release --quiet -p glh-cli --"

# Python packages of the interop check, pinned so the check is reproducible.
py_packages := "polars==1.44.2 pyarrow==26.0.1 numpy==2.4.6"

# List the recipes.
default:
    @just --list --unsorted

# Every paper experiment (E1, E2 at L = 4 and 5, E3 at L = 4 and 5, and E3's dense baseline),
# E1's sparse regime and Cauchy chain, E2 with a dense classifier, E3 with its controls and
# E5's designed spectra and graphon-guided designs (ours), then the report. Finished runs are
# cached, so a second `just reproduce` only rewrites the report. More seeds: `just reproduce
# 100` runs seeds 0..100 of every setting (the paper's 100 runs), or edit the pipeline files.
reproduce $seeds="": build
    {{glh}} data verify
    {{glh}} run pipelines/e1.toml ${seeds:+--seeds "$seeds"}
    {{glh}} run pipelines/e1-sparse.toml ${seeds:+--seeds "$seeds"}
    {{glh}} run pipelines/e1-cauchy.toml ${seeds:+--seeds "$seeds"}
    {{glh}} run pipelines/e2.toml ${seeds:+--seeds "$seeds"}
    {{glh}} run pipelines/e2-dense-classifier.toml ${seeds:+--seeds "$seeds"}
    {{glh}} run pipelines/e3-dense.toml ${seeds:+--seeds "$seeds"}
    {{glh}} run pipelines/e3.toml ${seeds:+--seeds "$seeds"}
    {{glh}} run pipelines/e3-l5.toml ${seeds:+--seeds "$seeds"}
    {{glh}} run pipelines/e3-controls.toml ${seeds:+--seeds "$seeds"}
    {{glh}} run pipelines/e5-spectra.toml ${seeds:+--seeds "$seeds"}
    {{glh}} run pipelines/e5-design.toml ${seeds:+--seeds "$seeds"}
    {{glh}} report pipelines/e1.toml pipelines/e1-sparse.toml pipelines/e1-cauchy.toml pipelines/e2.toml pipelines/e2-dense-classifier.toml pipelines/e3.toml pipelines/e3-l5.toml pipelines/e3-controls.toml pipelines/e3-dense.toml pipelines/e5-spectra.toml pipelines/e5-design.toml --out reports ${seeds:+--seeds "$seeds"}
    @echo "Report: reports/report.md and reports/report.html (figures under reports/<experiment>/)."

# Widths 128 to 2048, the three kernels (the network's own NTK, the mask-level Graphon NTK, the
# configuration's graphon) and the dense baseline; about an hour on 2 cores, cached when done.
# E4 (ours): gradient descent in the NTK regime against its kernels' predictions; reports/e4.
e4: build
    {{glh}} data verify
    {{glh}} run pipelines/e4-dense.toml
    {{glh}} run pipelines/e4-finite-width.toml
    {{glh}} report pipelines/e4-finite-width.toml pipelines/e4-dense.toml --out reports/e4
    @echo "Report: reports/e4/report.md and reports/e4/report.html."

# E3's kernel as the paper's text describes it (masks drawn from each configuration's graphon,
# their exact kernel on 1024 images) beside our two graphon kernels: 2.5 hours on 2 cores before
# issue #30's kernels (not re-timed since), cached when done; reports/e3-literal. Not in
# `reproduce` for its cost.
e3-literal: build
    {{glh}} data verify
    {{glh}} run pipelines/e3.toml
    {{glh}} run pipelines/e3-literal.toml
    {{glh}} report pipelines/e3.toml pipelines/e3-literal.toml pipelines/e3-dense.toml --out reports/e3-literal
    @echo "Report: reports/e3-literal/report.md and reports/e3-literal/report.html."

# E6 (ours, issue #33): masks that change during training. IMP with rewinding from the dense
# net, SET and RigL from Random and SNIP at 80% and 95%, widths 250 to 2000, L = 4, 3 seeds; each
# run's masks at every checkpoint, their trajectories and the paper's question at each
# checkpoint; reports/e6. About 31 minutes on 2 cores (SET 6, RigL 7, IMP 18: its 2720 steps a
# run at n = 2000 dominate), cached when done. Not in `reproduce` for its cost.
e6: build
    {{glh}} data verify
    {{glh}} run pipelines/e6-set.toml
    {{glh}} run pipelines/e6-rigl.toml
    {{glh}} run pipelines/e6-imp.toml
    {{glh}} report pipelines/e6-imp.toml pipelines/e6-set.toml pipelines/e6-rigl.toml --out reports/e6
    @echo "Report: reports/e6/report.md and reports/e6/report.html."

# The smoke pipeline into artifacts/ (seconds), with its summary.
smoke:
    {{glh}} run pipelines/smoke.toml

# What CI runs: all tests, the smoke pipeline twice (the second fully cached), the polars check,
# and the Slurm executor against a real Slurm.
test:
    cargo test --workspace --release
    just _smoke-check
    just python-test
    just slurm-test

# The Python package as a user installs it: `pip install ./python` (maturin from the package
# registry builds crates/python) in a throwaway venv, then tests/python/test_graphon_lab.py
# against numpy twins, closed forms and `glh`'s own bits.
python-test: build
    #!/usr/bin/env bash
    set -euo pipefail
    venv="$(mktemp -d)/venv"
    trap 'rm -rf "$(dirname "$venv")"' EXIT
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check {{py_packages}} pytest==9.2.0 safetensors==0.8.0
    "$venv/bin/pip" install --quiet --disable-pip-version-check ./python
    GLH="${CARGO_TARGET_DIR:-target}/release/glh" "$venv/bin/python" -m pytest -q tests/python/test_graphon_lab.py
    # The README's "From Python" example (its ```python graphon_lab blocks), from the repository
    # root where data/mnist is.
    snippet="$(awk '/^```python graphon_lab$/{on=1; next} /^```$/{on=0} on' README.md)"
    test -n "$snippet"
    "$venv/bin/python" -c "$snippet"

# The Slurm executor against a real one-node Slurm on localhost: installs Debian's slurm-wlm and
# munge if missing, starts the cluster, checks smoke's bytes against the local executor and a
# scancel + resubmit. Skipped where slurmctld cannot start, unless GLH_REQUIRE_SLURM=1 (CI).
slurm-test: build
    scripts/slurm-test.sh

# Compiles the training crate's `cuda` feature, no GPU needed: CUDA's compiler and headers from
# PyPI's wheels, cached in ~/.cache/graphon-lab (scripts/cuda-toolkit.sh); candle's kernels are
# compiled for compute capability 9.0 (H100). Part of CI.
check-cuda:
    PATH="$(scripts/cuda-toolkit.sh)/bin:$PATH" CUDA_COMPUTE_CAP=90 cargo check --release -p glh-training --features cuda

# The CUDA path on a machine with an NVIDIA GPU: builds with `cuda`, the Adam-step benchmark on
# the GPU, one E3 run on the GPU against the CPU's (scripts/gpu-check.sh). Exit 2 without a GPU.
gpu-check:
    scripts/gpu-check.sh

# Criterion benchmarks (results in target/criterion).
bench *args:
    cargo bench -p glh-benches {{args}}

# Our benchmarks beside PyTorch twins on the same weights, masks and batches, as one table of
# ratios (scripts/bench-torch.sh). Installs PyTorch from the package registry into its own
# virtual environment (about 3 GB, kept in ~/.cache/graphon-lab/torch-venv; it runs on the CPU)
# and takes about 15 minutes. Not part of `just test`.
bench-torch:
    scripts/bench-torch.sh

# Build the `glh` binary and the libraries.
build:
    cargo build --release --workspace

# Format all code.
fmt:
    cargo fmt --all

# Lints as CI's reviewers see them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --release -- -D warnings

# Regenerates ARCHITECTURE.md's schema section from the table registry (after a schema change).
schema-doc:
    #!/usr/bin/env bash
    set -euo pipefail
    tables="$({{glh}} schema --format markdown)"
    TABLES="$tables" python3 - <<'PY'
    import os, re
    path = "ARCHITECTURE.md"
    text = open(path).read()
    begin, end = "<!-- schemas:begin -->", "<!-- schemas:end -->"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    open(path, "w").write(head + begin + "\n" + os.environ["TABLES"] + "\n" + end + tail)
    PY

# The data stage: `just data verify`, `just data subsets --seed 1`.
data *args:
    {{glh}} data {{args}}

# The masks stage: `just masks --method snip --width 500 --sparsity 0.8`.
masks *args:
    {{glh}} masks {{args}}

# The graphons stage for one masks run or edge list: `just graphons --masks <KEY>`.
graphons *args:
    {{glh}} graphons {{args}}

# The ntk stage for one masks run or edge list: `just ntk --masks <KEY> --empirical-draws 2`.
ntk *args:
    {{glh}} ntk {{args}}

# The training stage for one masks run: `just train --masks <KEY>`.
train *args:
    {{glh}} train {{args}}

# The report of finished experiments: `just report` (E1-E3) or `just report pipelines/smoke.toml`.
report *args:
    {{glh}} report {{args}}

# List artifacts.
ls *args:
    {{glh}} ls {{args}}

# Read every Parquet artifact under ROOT with Python polars and pyarrow (throwaway venv).
polars-check root="artifacts":
    #!/usr/bin/env bash
    set -euo pipefail
    venv="$(mktemp -d)/venv"
    trap 'rm -rf "$(dirname "$venv")"' EXIT
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check {{py_packages}}
    schema="$(dirname "$venv")/schema.json"
    {{glh}} schema --format json > "$schema"
    "$venv/bin/python" tests/python/check_artifacts.py "{{root}}" "$schema"
    # The README's ```python blocks, run in a scratch directory where `artifacts/` is this root
    # (the files they write stay there; ```py blocks, which need packages of the user's own,
    # are shown but not run).
    if [ "$(basename "{{root}}")" = artifacts ]; then
        snippet="$(awk '/^```python$/{on=1; next} /^```$/{on=0} on' README.md)"
        scratch="$(dirname "$venv")/readme"
        mkdir "$scratch" && ln -s "$(realpath "{{root}}")" "$scratch/artifacts"
        (cd "$scratch" && "$venv/bin/python" -c "$snippet")
    fi

_smoke-check:
    #!/usr/bin/env bash
    set -euo pipefail
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    root="$tmp/artifacts"
    {{glh}} --artifacts "$root" run pipelines/smoke.toml
    second="$({{glh}} --artifacts "$root" run pipelines/smoke.toml)"
    echo "$second" | tail -n 1
    echo "$second" | grep -q " 0 computed," || { echo "error: the second smoke run recomputed jobs" >&2; exit 1; }
    # The NTK regime and the dynamics stage into the same root: their tables join the check.
    {{glh}} --artifacts "$root" run pipelines/smoke-dynamics.toml | tail -n 1
    just polars-check "$root"
