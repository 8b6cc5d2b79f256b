#!/usr/bin/env bash
# Stop the one-node Slurm cluster that start.sh started: slurmd, slurmctld, and munged if
# start.sh started it, each by its pid file (never by name). Run it as root.
#
#   scripts/slurm-local/stop.sh
#
# Jobs still queued or running are lost with the daemons. The logs stay in $SLURM_LOCAL_DIR/log
# (default /var/lib/ebm-slurm-local/log).
set -uo pipefail

dir=${SLURM_LOCAL_DIR:-/var/lib/ebm-slurm-local}

# stop NAME PIDFILE: SIGTERM to the pid in PIDFILE if it is NAME, then wait up to 10 s for it.
stop() {
  local name=$1 pidfile=$2 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "slurm-local: $name (pid $pid) did not stop in 10 s; sending SIGKILL" >&2
      kill -9 "$pid" 2>/dev/null
    fi
    echo "slurm-local: stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
}

stop slurmd "$dir/run/slurmd.pid"
stop slurmctld "$dir/run/slurmctld.pid"
stop munged "$dir/run/munged.pid"
exit 0
