#!/usr/bin/env bash
# Start a one-node Slurm cluster on this machine (Debian or Ubuntu, no systemd needed), for
# trying `ebm study --slurm` on a laptop and for CI. Run it as root; stop it with stop.sh.
#
#   scripts/slurm-local/start.sh
#
# It installs slurmctld, slurmd, slurm-client and munge with apt-get when they are missing,
# starts munged as the munge user (unless a munged already answers), writes
# /etc/slurm/slurm.conf from slurm.conf.in for one node named after `hostname -s` with
# `nproc` CPUs and 90% of MemTotal, starts slurmctld and slurmd, and waits until the node is
# idle. Daemon state, pid files and logs go to $SLURM_LOCAL_DIR (default
# /var/lib/ebm-slurm-local). It refuses to replace a slurm.conf it did not write.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=${SLURM_LOCAL_DIR:-/var/lib/ebm-slurm-local}
conf=/etc/slurm/slurm.conf
marker="# Written by scripts/slurm-local/start.sh (goebm)"

say() { echo "slurm-local: $*"; }
die() { echo "slurm-local: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (for example: sudo $0): the Slurm daemons and munged need it"

missing=()
for p in slurmctld slurmd slurm-client munge; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get: install Slurm and munge with this system's package manager"
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi

# A daemon already running (ours from an earlier start, or one that systemd started).
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if running "$dir/run/slurmctld.pid" && running "$dir/run/slurmd.pid"; then
  say "already running (stop it with $here/stop.sh)"
  exit 0
fi
for d in slurmctld slurmd; do
  if command -v pgrep >/dev/null && pid=$(pgrep -x "$d"); then
    die "a $d (pid $pid) not started by this script is running: stop it first (for example: systemctl stop slurmctld slurmd)"
  fi
done

install -d -m 0755 "$dir" "$dir/run" "$dir/state" "$dir/spool" "$dir/log"

# munge: the credentials of every Slurm message.
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "munged already running; using it"
else
  [ -s /etc/munge/munge.key ] || die "/etc/munge/munge.key is missing: reinstall munge (its postinst creates the key)"
  install -d -o munge -g munge -m 0755 /run/munge
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.1
  done
  munge -n | unmunge >/dev/null || die "munged does not answer (see /var/log/munge/munged.log)"
  cp /run/munge/munged.pid "$dir/run/munged.pid" # ours: stop.sh stops it
  say "munged started"
fi

# slurm.conf for this one node.
if [ -f "$conf" ] && ! head -n 1 "$conf" | grep -qF "$marker"; then
  die "$conf exists and was not written by this script: move it away first (this script would replace it)"
fi
host=$(hostname -s)
cpus=$(nproc)
memory=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
install -d -m 0755 /etc/slurm
sed -e "s|@HOST@|$host|g" -e "s|@CPUS@|$cpus|g" -e "s|@MEMORY@|$memory|g" -e "s|@DIR@|$dir|g" \
  "$here/slurm.conf.in" >"$conf.tmp"
mv "$conf.tmp" "$conf"
say "wrote $conf: node $host, $cpus CPUs, ${memory} MiB"

/usr/sbin/slurmctld -i
/usr/sbin/slurmd
state=""
for _ in $(seq 120); do
  state=$(sinfo -h -N -o %t 2>/dev/null | head -n 1 || true)
  [ "$state" = idle ] && break
  sleep 0.5
done
if [ "$state" != idle ]; then
  tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
  die "node $host is '${state:-not reported}', not idle, after 60 s (logs above; stop with $here/stop.sh)"
fi
say "node $host idle; submit with sbatch, watch with squeue; stop with $here/stop.sh"
