// Package lockfile implements an advisory lock held by the existence of a file, for folders
// that several processes, possibly on several machines over a shared file system, may use at
// once: a run folder, a study's cell.
//
// A lock is a file created with O_CREATE|O_EXCL (atomic on local file systems and on NFSv3 and
// later, where flock may not be honoured). It holds, as JSON, who holds it: host name, boot
// id, process id and that process's start time, the time the lock was taken, a random token
// and what for. The holder refreshes the file's modification time every Heartbeat.
//
// The stale rule. A lock is stale, and may be taken over, when
//   - it was taken on this machine (same host name and boot id) and its process is gone, or
//     the process with that id started at another time (the id was reused);
//   - it was taken on this host name before the last boot (another boot id);
//   - it was taken on another machine and its modification time is older than StaleAfter
//     (default one minute, six missed heartbeats), or it cannot be read at all and is older
//     than StaleAfter (a holder that died while writing it).
//
// A lock on this machine is therefore free at once when its holder is killed (SIGKILL
// included); a lock held on another machine whose holder died is free after StaleAfter.
// Taking over is serialised by a second lock file (path + ".break", itself stale after
// StaleAfter), so that two processes that find the same stale lock cannot both remove it and
// one of them remove the other's fresh lock.
package lockfile
