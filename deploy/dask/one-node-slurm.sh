#!/usr/bin/env bash
# A one-node Slurm cluster on this machine: munge, slurmctld and slurmd, and one GPU-less
# partition "cpu" holding this host. For trying the Slurm deployment (deploy/ENGINE.md) and for
# CI (.ci/run). Run as root after `apt-get install slurm-wlm munge` (Debian 12 / Ubuntu 22.04+).
# It starts the daemons directly (containers have no systemd) and forgets earlier jobs.
#
# Process tracking by process tree and no task plugin: a container often has no cgroup
# delegation for Slurm; on a real centre keep its own cgroup plugins.
set -euo pipefail

host=$(hostname -s)
conf=/etc/slurm/slurm.conf

stop_daemon() {  # pid file
    local pid
    pid=$(cat "$1" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$1"
}

# munge authenticates every Slurm message; the package creates its key.
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
fi
install -d -o munge -g munge -m 0755 /run/munge
if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
munge -n | unmunge >/dev/null

stop_daemon /run/slurmd.pid
stop_daemon /run/slurmctld.pid

# This host as slurmd sees it: CPUs, sockets, cores, memory.
node=$(slurmd -C | head -1)
cat >"$conf" <<EOF
# Written by deploy/dask/one-node-slurm.sh: a one-node cluster on $host.
ClusterName=deblend
SlurmctldHost=$host(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
# Seconds between a job's SIGTERM (scancel, walltime) and its SIGKILL.
KillWait=5
MinJobAge=60
InactiveLimit=0
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

install -d -o slurm -g slurm -m 0755 /var/lib/slurm/slurmctld /var/log/slurm
install -d -m 0755 /var/lib/slurm/slurmd
/usr/sbin/slurmctld -c   # -c: a fresh start, without the jobs of an earlier run
/usr/sbin/slurmd

for _ in $(seq 60); do
    state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
    case "$state" in
        idle*) break ;;
        down* | drain*) scontrol update NodeName="$host" State=RESUME || true ;;
    esac
    sleep 1
done
sinfo -h -n "$host" -o %T | grep -q '^idle' || {
    echo "one-node-slurm: node $host is '$(sinfo -h -n "$host" -o %T)', expected idle" >&2
    tail -20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2
    exit 1
}
echo "one-node-slurm: partition cpu ready on $host ($(sinfo -h -n "$host" -o '%c CPUs, %m MB'))"
