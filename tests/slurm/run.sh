#!/usr/bin/env bash
# A real single-node Slurm cluster runs the README's sharded job: a job array of 3 tasks, each
# `falsematch run --shard-from-env`, then a merge job submitted with --dependency=afterok. The
# merged bundle must equal an unsharded run's byte for byte (every file but provenance.json).
#
#   tests/slurm/run.sh            (as root on Debian 12; .ci/run calls it)
#
# Installs Debian's slurmctld, slurmd, slurm-client and munge when missing, starts munged,
# slurmctld and slurmd with a one-node configuration written here, and stops on exit exactly
# the daemons it started (a cluster already running is used as it is and left running).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
started=()
work=$(mktemp -d)
cleanup() {
    # Last started, first stopped; each waited for (up to 10 s) so none outlives the test.
    for ((i = ${#started[@]} - 1; i >= 0; i--)); do
        pidfile=${started[i]}
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || continue
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done
    rm -rf "$work"
}
trap cleanup EXIT

if [ "$(id -u)" != 0 ]; then
    echo "slurm test: needs root (to install and start the Slurm daemons)" >&2
    exit 2
fi
if ! command -v slurmctld >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    echo "-- installing slurmctld slurmd slurm-client munge (Debian)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
fi

# The binary under test: the one `cargo test` built.
cargo build --locked -q --bin falsematch
bin=$root/target/debug/falsematch

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
host=$(hostname -s)
if ! alive /run/slurmctld.pid; then
    mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /etc/slurm
    chown munge: /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
    [ -f /etc/munge/munge.key ] || { mungekey -c 2>/dev/null || /usr/sbin/create-munge-key -f; }
    if ! pgrep -x munged >/dev/null; then
        runuser -u munge -- munged --pid-file=/run/munge/munged.pid 2>/dev/null ||
            runuser -u munge -- munged
        started+=(/run/munge/munged.pid)
    fi
    cat > /etc/slurm/slurm.conf <<CONF
ClusterName=falsematch-ci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
    slurmctld
    started+=(/run/slurmctld.pid)
    slurmd
    started+=(/run/slurmd.pid)
fi
for _ in $(seq 1 30); do
    sinfo -h -o %t 2>/dev/null | grep -q -E "idle|mix|alloc" && break
    sleep 1
done
sinfo -h -o "%P %t %D" | sed 's/^/-- node: /'

# The README's job script, pointed at the test scenario and this build.
cd "$work"
mkdir parts
cat > shards.sbatch <<JOB
#!/bin/bash
#SBATCH --job-name=falsematch-shards
#SBATCH --cpus-per-task=1
#SBATCH --output=shard-%a.log
$bin run $root/tests/data/small.toml --shard-from-env \\
    --out "parts/\${SLURM_ARRAY_TASK_ID}.json" --threads "\${SLURM_CPUS_PER_TASK}" --resume --quiet
JOB
started_at=$SECONDS
jobid=$(sbatch --parsable --array=0-2 shards.sbatch)
echo "-- submitted job array $jobid (3 shards)"
# --kill-on-invalid-dep: if a shard fails, the merge is cancelled instead of waiting forever.
timeout 900 sbatch --wait --parsable --dependency="afterok:$jobid" --kill-on-invalid-dep=yes \
    --output=merge.log \
    --wrap "$bin merge parts/*.json --out merged --quiet" >/dev/null || {
    echo "slurm test: the merge job failed; logs:" >&2
    cat shard-*.log merge.log >&2 || true
    exit 1
}
echo "-- array and merge finished in $((SECONDS - started_at)) s"
ls parts
"$bin" run "$root/tests/data/small.toml" --out whole --quiet
if diff -r --exclude=provenance.json whole merged; then
    echo "slurm test: the merged bundle of 3 Slurm shards equals the unsharded run byte for byte"
else
    echo "slurm test: FAILED: the merged bundle differs from the unsharded run" >&2
    exit 1
fi
