#!/usr/bin/env bash
# A throwaway one-node Slurm cluster on localhost, for the Slurm executor's test.
#
#   scripts/slurm-cluster.sh install        apt-get install slurm-wlm and munge (root, Debian)
#   scripts/slurm-cluster.sh start DIR      start munged, slurmctld and slurmd with all state in DIR
#   scripts/slurm-cluster.sh stop DIR       stop them
#
# Everything the cluster owns lives in DIR: its own munge key and socket, its own slurm.conf
# (no cgroups, no accounting), spool directories, logs and pid files, and its own ports. Nothing
# under /etc is touched, so a machine that already runs Slurm or munge is left alone. Clients
# find the cluster through SLURM_CONF: `start` prints `export SLURM_CONF=DIR/slurm.conf`.
# Exit status of `start`: 0 when the node is up and idle, 3 when a daemon cannot be started
# here (the caller may skip the test), 1 on any other error.

set -euo pipefail

cmd=${1:-}
dir=${2:-}

die() {
    echo "slurm-cluster: $*" >&2
    exit 1
}

cannot_start() {
    echo "slurm-cluster: cannot start here: $*" >&2
    exit 3
}

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v munged >/dev/null && command -v sbatch >/dev/null; then
        return
    fi
    [[ $(id -u) == 0 ]] || cannot_start "installing slurm-wlm needs root"
    command -v apt-get >/dev/null || cannot_start "no apt-get (Debian or Ubuntu needed)"
    echo "slurm-cluster: installing slurm-wlm and munge (Debian packages)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurm-wlm munge >/dev/null \
        || cannot_start "apt-get install slurm-wlm munge failed"
}

start_cluster() {
    [[ -n $dir ]] || die "usage: $0 start DIR"
    [[ $(id -u) == 0 ]] || cannot_start "slurmd must run as root"
    for exe in munged slurmctld slurmd sbatch sinfo; do
        command -v "$exe" >/dev/null || cannot_start "$exe is not installed (run: $0 install)"
    done
    mkdir -p "$dir"/{munge,ctld,slurmd,log}
    dir=$(cd "$dir" && pwd)
    local host cpus memory
    host=$(hostname -s)
    cpus=$(nproc)
    # RealMemory must not exceed what slurmd finds, or the node is drained.
    memory=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512))

    # munge: a fresh key, a private socket.
    head -c 1024 /dev/urandom >"$dir/munge/munge.key"
    chmod 0400 "$dir/munge/munge.key"
    chmod 0700 "$dir/munge"
    munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/socket" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" \
        --seed-file="$dir/munge/seed" \
        || cannot_start "munged did not start (see $dir/log/munged.log)"

    cat >"$dir/slurm.conf" <<EOF
# One-node test cluster written by scripts/slurm-cluster.sh.
ClusterName=glh-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/socket
CredType=cred/munge
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/slurmd
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,sched_min_interval=100000
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MinJobAge=3600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF="$dir/slurm.conf"
    slurmctld -f "$SLURM_CONF" || cannot_start "slurmctld did not start (see $dir/log/slurmctld.log)"
    slurmd -f "$SLURM_CONF" || cannot_start "slurmd did not start (see $dir/log/slurmd.log)"
    for _ in $(seq 60); do
        if sinfo --noheader --format=%T 2>/dev/null | grep -qx idle; then
            echo "export SLURM_CONF=$SLURM_CONF"
            return
        fi
        sleep 0.5
    done
    sinfo >&2 || true
    tail -n 5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
    cannot_start "the node did not become idle in 30 s"
}

stop_cluster() {
    [[ -n $dir ]] || die "usage: $0 stop DIR"
    for pid_file in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
        if [[ -f $pid_file ]]; then
            kill "$(cat "$pid_file")" 2>/dev/null || true
        fi
    done
}

case $cmd in
    install) install_packages ;;
    start) start_cluster ;;
    stop) stop_cluster ;;
    *) die "usage: $0 install | start DIR | stop DIR" ;;
esac
