#!/usr/bin/env bash
# The Slurm executor against a real Slurm (`just slurm-test`).
#
# Starts a one-node cluster on localhost (scripts/slurm-cluster.sh), then:
#   1. runs the smoke pipeline with the local executor and through `--executor slurm --wait`,
#      and checks that every Parquet artifact is byte-identical;
#   2. submits smoke with longer training runs to a fresh root with every array held, cancels
#      one queued masks task with `scancel`, releases the rest, and cancels one training task
#      while it writes; checks that the sweep ends with both failed, the dependants cancelled,
#      the interrupted run listed as incomplete and nothing of theirs complete; then runs the
#      same `glh run` again, checks that only the missing jobs were submitted, and that the
#      bytes are the local executor's.
#
# When Slurm cannot be installed or started here (no root, no apt, a container that forbids
# the daemons) the test is skipped with a message, unless GLH_REQUIRE_SLURM=1 (CI sets it).
# GLH_BIN names the glh binary to test; the script builds it otherwise.

set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

skip() {
    if [[ ${GLH_REQUIRE_SLURM:-0} == 1 ]]; then
        echo "slurm-test: FAILED: Slurm is required here (GLH_REQUIRE_SLURM=1) but $*" >&2
        exit 1
    fi
    echo "slurm-test: SKIPPED: $*" >&2
    exit 0
}

fail() {
    echo "slurm-test: FAILED: $*" >&2
    exit 1
}

cluster_script="$repo/scripts/slurm-cluster.sh"
rc=0
"$cluster_script" install || rc=$?
[[ $rc == 3 ]] && skip "Slurm cannot be installed here (see above)"
[[ $rc == 0 ]] || fail "installing Slurm failed"

work=$(mktemp -d /tmp/glh-slurm-test.XXXXXX)
cleanup() {
    "$cluster_script" stop "$work/cluster" || true
    if [[ ${GLH_KEEP_SLURM_TEST:-0} == 1 ]]; then
        echo "slurm-test: kept $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

rc=0
env_line=$("$cluster_script" start "$work/cluster") || rc=$?
[[ $rc == 3 ]] && skip "slurmctld or slurmd cannot be started here (see above)"
[[ $rc == 0 ]] || fail "starting the test cluster failed"
eval "$env_line"
echo "slurm-test: cluster up ($SLURM_CONF)"

if [[ -z ${GLH_BIN:-} ]]; then
    cargo build --release --quiet -p glh-cli
    GLH_BIN="${CARGO_TARGET_DIR:-$repo/target}/release/glh"
fi
glh() { "$GLH_BIN" "$@"; }

# sha256 of every Parquet file of every complete run under a root, by relative path.
digest() {
    (cd "$1" && find . -path ./.sweeps -prune -o -name '*.parquet' -print | LC_ALL=C sort \
        | xargs sha256sum)
}

# The one sweep record under a root, as `python3 -c` can read it.
sweep_json() {
    local records=("$1"/.sweeps/*/sweep.json)
    echo "${records[-1]}"
}

# Waits (at most 120 s) until Slurm has no job of ours left.
drain() {
    for _ in $(seq 240); do
        [[ -z $(squeue --me --noheader) ]] && return
        sleep 0.5
    done
    squeue --me >&2
    fail "jobs still queued after 120 s"
}

# Seconds since $1 (a `date +%s.%N`), to one decimal.
seconds_since() { python3 -c "import sys; print(f'{$(date +%s.%N) - float(sys.argv[1]):.1f}')" "$1"; }

echo "slurm-test: the smoke pipeline, local executor"
start=$(date +%s.%N)
glh --artifacts "$work/local" --quiet run pipelines/smoke.toml
local_wall=$(seconds_since "$start")
digest "$work/local" >"$work/local.sha256"
jobs=$(wc -l <"$work/local.sha256")
[[ $jobs -gt 0 ]] || fail "the local run wrote no Parquet files"

echo "slurm-test: the smoke pipeline through --executor slurm --wait"
start=$(date +%s.%N)
glh --artifacts "$work/slurm" run pipelines/smoke.toml --executor slurm --wait
wall=$(seconds_since "$start")
digest "$work/slurm" >"$work/slurm.sha256"
cmp -s "$work/local.sha256" "$work/slurm.sha256" || {
    diff "$work/local.sha256" "$work/slurm.sha256" | head -n 20 >&2
    fail "the Slurm run's artifacts differ from the local run's"
}
echo "slurm-test: ok: $jobs Parquet files byte-identical to the local run;" \
    "smoke through Slurm $wall s, locally $local_wall s"
glh --artifacts "$work/slurm" ls --sweeps | tee "$work/ls.txt"
grep -q "failed" "$work/ls.txt" && fail "glh ls reports failed jobs after a clean sweep"

echo "slurm-test: cancel a queued task and a running one, then resubmit"
# Smoke with training runs long enough (~2 s) to be caught while they write.
long="$work/smoke-long.toml"
sed -e 's/^steps = 20$/steps = 3000/' -e 's/^eval_every = 10$/eval_every = 1000/' \
    pipelines/smoke.toml >"$long"
grep -q "^steps = 3000$" "$long" || fail "could not lengthen smoke's training"
glh --artifacts "$work/local-long" --quiet run "$long"
digest "$work/local-long" >"$work/local-long.sha256"

root="$work/cancel"
glh --artifacts "$root" --quiet run "$long" --executor slurm --sbatch-arg=--hold
record=$(sweep_json "$root")
read -r masks_job all_jobs < <(python3 - "$record" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
masks = next(a for a in r["arrays"] if a["stage"] == "masks")
print(masks["slurm_job_id"], ",".join(a["slurm_job_id"] for a in r["arrays"]))
PY
)
# A queued task: its array's dependants can never run and are cancelled by Slurm.
scancel "${masks_job}_1"
scontrol release "$all_jobs"
# A running task: the first training run seen writing (its `.tmp-<key>-*` directory exists).
running=""
for _ in $(seq 1200); do
    tmp=$(find "$root/training" -maxdepth 1 -name '.tmp-*' 2>/dev/null | head -n 1 || true)
    if [[ -n $tmp ]]; then
        key=$(basename "$tmp" | cut -d- -f2)
        running=$(python3 - "$record" "$key" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for a in r["arrays"]:
    for i, t in enumerate(a["tasks"]):
        if t["stage"] == "training" and t["key"] == sys.argv[2]:
            print(f'{a["slurm_job_id"]}_{i} {t["key"]}')
PY
)
        break
    fi
    sleep 0.05
done
[[ -n $running ]] || fail "no training task was seen running within 60 s"
read -r running_task running_key <<<"$running"
scancel "$running_task"
echo "slurm-test: cancelled masks task ${masks_job}_1 (queued) and training task $running_task (running)"
drain
[[ -d $root/training/$running_key ]] && fail "the cancelled training run was published"
compgen -G "$root/training/.tmp-$running_key-*" >/dev/null \
    || fail "the cancelled training run left no trace (was it still running?)"
glh --artifacts "$root" ls >"$work/ls-cancelled.txt"
grep -E "^sweep |^  failed +(masks|training) .*$running_key|^  failed +masks |^training .*incomplete" \
    "$work/ls-cancelled.txt" || true
grep -Eq "^  failed +masks " "$work/ls-cancelled.txt" \
    || fail "glh ls does not show the cancelled masks task as failed"
grep -Eq "^  failed +training +$running_key " "$work/ls-cancelled.txt" \
    || fail "glh ls does not show the cancelled training task as failed"
grep -Eq "^training .* incomplete " "$work/ls-cancelled.txt" \
    || fail "glh ls does not list the interrupted training run as incomplete"

glh --artifacts "$root" run "$long" --executor slurm --wait | tee "$work/resubmit.txt"
grep -Eq "cached \(not submitted\)" "$work/resubmit.txt" || fail "no summary of the resubmission"
python3 - "$(sweep_json "$root")" "$running_key" <<'PY' || fail "the resubmission is not what was missing"
import json, sys
r = json.load(open(sys.argv[1]))
tasks = [t for a in r["arrays"] for t in a["tasks"]]
assert r["cached"], "nothing was cached"
assert any(t["key"] == sys.argv[2] for t in tasks), "the cancelled training run was not resubmitted"
assert not any(t["key"] == sys.argv[2] for t in r["cached"])
print(f"slurm-test: resubmitted {len(tasks)} jobs, {len(r['cached'])} cached")
PY
digest "$root" >"$work/resubmitted.sha256"
cmp -s "$work/local-long.sha256" "$work/resubmitted.sha256" || {
    diff "$work/local-long.sha256" "$work/resubmitted.sha256" | head -n 20 >&2
    fail "after cancel and resubmit, the artifacts differ from the local run's"
}
glh --artifacts "$root" gc --quiet
compgen -G "$root/training/.tmp-*" >/dev/null && fail "glh gc left the interrupted run behind"
echo "slurm-test: ok: cancel + resubmit completed the sweep with the local bytes"
echo "slurm-test: PASSED (smoke through Slurm: $wall s; with the local executor: $local_wall s)"
