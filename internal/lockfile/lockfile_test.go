package lockfile

import (
	"bufio"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAcquireExcludesAndReleases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	l, err := Acquire(path, Options{Purpose: "first"})
	require.NoError(t, err)
	_, err = Acquire(path, Options{Purpose: "second"})
	require.ErrorIs(t, err, ErrLocked)
	var he *HeldError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, os.Getpid(), he.Holder.PID)
	assert.Equal(t, "first", he.Holder.Purpose)
	assert.Contains(t, err.Error(), "(first)", "the message names the holder's purpose")

	require.NoError(t, l.Release())
	assert.NoFileExists(t, path)
	require.NoError(t, l.Release(), "a second release is a no-op")
	l2, err := Acquire(path, Options{})
	require.NoError(t, err)
	require.NoError(t, l2.Release())
}

// writeLock plants a lock file with the given holder and age.
func writeLock(t *testing.T, path string, info Info, age time.Duration) {
	t.Helper()
	if info.Token == "" {
		info.Token = "planted"
	}
	b, err := json.Marshal(info)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
	old := time.Now().Add(-age)
	require.NoError(t, os.Chtimes(path, old, old))
}

func TestStaleRule(t *testing.T) {
	host, err := os.Hostname()
	require.NoError(t, err)
	self, err := selfInfo("")
	require.NoError(t, err)
	dead := deadPID(t)
	cases := []struct {
		name  string
		info  Info
		age   time.Duration
		stale bool
	}{
		{"this machine, live process", Info{Host: host, BootID: self.BootID, PID: self.PID, Start: self.Start}, time.Hour, false},
		{"this machine, dead process", Info{Host: host, BootID: self.BootID, PID: dead}, 0, true},
		{"this machine, process id reused", Info{Host: host, BootID: self.BootID, PID: self.PID, Start: "1"}, 0, self.Start != ""},
		{"this host name, another boot", Info{Host: host, BootID: "another-boot", PID: self.PID, Start: self.Start}, 0, self.BootID != ""},
		{"another machine, fresh heartbeat", Info{Host: "elsewhere", PID: self.PID}, 10 * time.Second, false},
		{"another machine, no heartbeat for long", Info{Host: "elsewhere", PID: self.PID}, 2 * time.Minute, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "lock")
			writeLock(t, path, c.info, c.age)
			l, err := Acquire(path, Options{})
			if c.stale {
				require.NoError(t, err, "a stale lock is taken over")
				info, rerr := readInfo(path)
				require.NoError(t, rerr)
				assert.Equal(t, l.Info().Token, info.Token)
				require.NoError(t, l.Release())
				assert.NoFileExists(t, path+".break")
			} else {
				require.ErrorIs(t, err, ErrLocked)
				info, rerr := readInfo(path)
				require.NoError(t, rerr)
				assert.Equal(t, "planted", info.Token, "a live lock is left alone")
			}
		})
	}
}

func TestUnreadableLockJudgedByAge(t *testing.T) {
	dir := t.TempDir()
	young := filepath.Join(dir, "young")
	require.NoError(t, os.WriteFile(young, []byte("{\"ho"), 0o644))
	_, err := Acquire(young, Options{})
	require.ErrorIs(t, err, ErrLocked, "a partial lock file may be being written: not stale while young")

	old := filepath.Join(dir, "old")
	require.NoError(t, os.WriteFile(old, nil, 0o644))
	past := time.Now().Add(-2 * time.Minute)
	require.NoError(t, os.Chtimes(old, past, past))
	l, err := Acquire(old, Options{})
	require.NoError(t, err, "an empty lock file older than StaleAfter is taken over")
	require.NoError(t, l.Release())
}

func TestOneWinnerAmongMany(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	writeLock(t, path, Info{Host: "elsewhere", PID: 1}, time.Hour) // stale: all race to break it
	var wins atomic.Int32
	var held []*Lock
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := Acquire(path, Options{})
			if err == nil {
				wins.Add(1)
				mu.Lock()
				held = append(held, l)
				mu.Unlock()
				return
			}
			assert.ErrorIs(t, err, ErrLocked)
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 1, wins.Load())
	for _, l := range held {
		require.NoError(t, l.Release())
	}
}

func TestLostWhenReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	l, err := Acquire(path, Options{Heartbeat: 10 * time.Millisecond})
	require.NoError(t, err)
	writeLock(t, path, Info{Host: "elsewhere", PID: 1, Token: "usurper"}, 0)
	select {
	case <-l.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("Lost was not closed after the lock file was replaced")
	}
	require.NoError(t, l.Release())
	info, err := readInfo(path)
	require.NoError(t, err)
	assert.Equal(t, "usurper", info.Token, "Release leaves another holder's lock alone")
}

func TestHeartbeatRefreshesModTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	l, err := Acquire(path, Options{Heartbeat: 10 * time.Millisecond})
	require.NoError(t, err)
	defer l.Release()
	past := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(path, past, past))
	require.Eventually(t, func() bool {
		st, err := os.Stat(path)
		return err == nil && time.Since(st.ModTime()) < time.Minute
	}, 5*time.Second, 10*time.Millisecond)
}

// TestKilledHolderFreesTheLock: a process SIGKILLed while holding the lock does not block
// the next one.
func TestKilledHolderFreesTheLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	cmd := exec.Command(os.Args[0], "-test.run", "^TestHelperHolder$")
	cmd.Env = append(os.Environ(), "LOCKFILE_HELPER="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "held\n", line)
	_, err = Acquire(path, Options{})
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	l, err := Acquire(path, Options{})
	require.NoError(t, err, "the lock of a killed process on this machine is free at once")
	require.NoError(t, l.Release())
}

func TestHelperHolder(t *testing.T) {
	path := os.Getenv("LOCKFILE_HELPER")
	if path == "" {
		return // only as a subprocess of TestKilledHolderFreesTheLock
	}
	_, err := Acquire(path, Options{Purpose: "helper"})
	if err != nil {
		os.Stdout.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("held\n")
	time.Sleep(time.Minute)
	os.Exit(0)
}

// deadPID returns the id of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	pid := cmd.Process.Pid
	if alive(pid, "") {
		t.Logf("pid %d was reused at once", pid)
	}
	return pid
}

func TestHeldErrorIs(t *testing.T) {
	var err error = &HeldError{Path: "p", Holder: Info{PID: 3, Host: "h"}}
	assert.True(t, errors.Is(err, ErrLocked))
}

// Inspect names the holder of a live lock and judges it fresh, judges a planted lock of a dead
// process on this machine stale, and reports a missing lock as fs.ErrNotExist; it changes
// nothing.
func TestInspect(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	_, _, err := Inspect(path, Options{})
	require.ErrorIs(t, err, fs.ErrNotExist)

	l, err := Acquire(path, Options{Purpose: "cell 3"})
	require.NoError(t, err)
	holder, stale, err := Inspect(path, Options{})
	require.NoError(t, err)
	assert.False(t, stale)
	assert.Equal(t, l.Info().Token, holder.Token)
	assert.Equal(t, "cell 3", holder.Purpose)
	require.NoError(t, l.Release())

	self, err := selfInfo("")
	require.NoError(t, err)
	self.PID = deadPID(t)
	writeLock(t, path, self, 0)
	holder, stale, err = Inspect(path, Options{})
	require.NoError(t, err)
	assert.True(t, stale, "its process is gone")
	assert.Equal(t, self.PID, holder.PID)
	assert.FileExists(t, path, "Inspect takes nothing over")
}

// A breaker that judged a lock stale by its content must not remove the file that replaced it
// while the new holder is still writing it (create makes the file empty first): the race that
// once let two of TestOneWinnerAmongMany's goroutines win. An unreadable file that was judged
// stale by its age is removed only while it is still old.
func TestBreakStaleSparesAFileBeingWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	require.NoError(t, os.WriteFile(path, nil, 0o644)) // a new holder between O_EXCL and its write
	require.NoError(t, breakStale(path, "token-of-the-stale-holder", time.Minute))
	assert.FileExists(t, path, "the new holder's lock was removed")

	require.NoError(t, breakStale(path, "", time.Minute))
	assert.FileExists(t, path, "a fresh unreadable lock was removed")

	past := time.Now().Add(-2 * time.Minute)
	require.NoError(t, os.Chtimes(path, past, past))
	require.NoError(t, breakStale(path, "", time.Minute))
	assert.NoFileExists(t, path, "an old unreadable lock judged stale by its age stays")
}
