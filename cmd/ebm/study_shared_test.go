package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/internal/lockfile"
	"github.com/goebm/goebm/study"
)

// writeSharedStudy writes into dir a study of a 2-D model on 400 rows of correlated normal
// data: base is the run file's [energy] … [train] part, grid its [[grid]] values.
func writeSharedStudy(t *testing.T, dir, base, grid, metrics string, seeds string) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	b.WriteString("x1,x2\n")
	for range 400 {
		z1, z2 := rng.NormFloat64(), rng.NormFloat64()
		fmt.Fprintf(&b, "%v,%v\n", z1, 0.5*z1+0.8660254037844386*z2)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "train.csv"), []byte(b.String()), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "base.toml"), []byte("seed = 1\n[data]\ntrain = \"train.csv\"\n"+base), 0o644))
	text := fmt.Sprintf("base = \"base.toml\"\nseeds = %s\nmetrics = %s\n\n[[grid]]\nkey = \"trainer\"\nvalues = %s\n", seeds, metrics, grid)
	path := filepath.Join(dir, "study.toml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

const sharedBase = `[energy]
builtin = "gaussian"
[trainer]
method = "sm"
[optimizer]
method = "adam"
lr = 0.05
[train]
batch = 100
steps = 200
log_every = 10
[eval.quadrature]
lo = [-7]
hi = [7]
points = 100
`

type attemptRecord struct {
	Event  string `json:"event"`
	Action string `json:"action"`
	State  string `json:"state"`
	PID    int    `json:"pid"`
}

func cellAttempts(t *testing.T, dir string) []attemptRecord {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, study.AttemptsFile))
	require.NoError(t, err)
	defer f.Close()
	var out []attemptRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var a attemptRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &a))
		out = append(out, a)
	}
	return out
}

// startAll starts the commands at once and waits for them all; every one must exit 0.
func startAll(t *testing.T, cmds []*exec.Cmd) {
	t.Helper()
	outs := make([]*bytes.Buffer, len(cmds))
	for i, c := range cmds {
		outs[i] = &bytes.Buffer{}
		c.Stdout, c.Stderr = outs[i], outs[i]
	}
	for _, c := range cmds {
		require.NoError(t, c.Start())
	}
	for i, c := range cmds {
		assert.NoError(t, c.Wait(), "process %d: %s", i, outs[i])
	}
}

// Four ebm study processes started at once on one study folder, without --cell and then with
// overlapping --cell lists, run every cell exactly once between them (each cell's
// attempts.jsonl holds one start, training from scratch, and one end, done) and produce the
// results.csv of one process alone, byte for byte.
func TestStudyProcessesShareFolder(t *testing.T) {
	bin := buildEBM(t)
	dir := t.TempDir()
	path := writeSharedStudy(t, dir, sharedBase,
		`[{method = "sm"}, {method = "dsm", sigma = 0.2}, {method = "ssm"}]`, `["nll", "sm_loss", "ksd"]`, "[1, 2]")
	one := filepath.Join(dir, "one")
	out, err := exec.Command(bin, "study", path, "--out", one, "--workers", "1", "--quiet").CombinedOutput()
	require.NoError(t, err, string(out))
	want, err := os.ReadFile(filepath.Join(one, "results.csv"))
	require.NoError(t, err)

	check := func(folder string) {
		t.Helper()
		got, err := os.ReadFile(filepath.Join(folder, "results.csv"))
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got))
		pids := map[int]bool{}
		for i := range 6 {
			cells, err := filepath.Glob(filepath.Join(folder, "cells", fmt.Sprintf("%03d-*", i)))
			require.NoError(t, err)
			var cellDir string
			for _, c := range cells {
				if st, err := os.Stat(c); err == nil && st.IsDir() {
					cellDir = c
				}
			}
			a := cellAttempts(t, cellDir)
			require.Len(t, a, 2, "cell %d ran once: %+v", i, a)
			assert.Equal(t, attemptRecord{Event: "start", Action: "train", PID: a[0].PID}, a[0], "cell %d", i)
			assert.Equal(t, attemptRecord{Event: "end", State: "done", PID: a[0].PID}, a[1], "cell %d", i)
			pids[a[0].PID] = true
			assert.NoFileExists(t, cellDir+study.LockSuffix, "every lock released")
		}
		assert.GreaterOrEqual(t, len(pids), 2, "the processes split the cells")
	}

	all := filepath.Join(dir, "all")
	var cmds []*exec.Cmd
	for range 4 {
		cmds = append(cmds, exec.Command(bin, "study", path, "--out", all, "--workers", "1"))
	}
	startAll(t, cmds)
	check(all)

	cells := filepath.Join(dir, "cells")
	cmds = nil
	for _, list := range []string{"0-5", "0-5", "3-5,0-2", "1,3,5"} {
		cmds = append(cmds, exec.Command(bin, "study", path, "--out", cells, "--workers", "1", "--cell", list))
	}
	startAll(t, cmds)
	out, err = exec.Command(bin, "study", path, "--out", cells, "--merge").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "merged 6 cells (6 done, 0 failed)")
	check(cells)
}

// A process SIGKILLed while it holds a cell's lock does not block the study: a process that
// was already waiting for that cell (and ran the other one meanwhile) takes it over (the holder is gone, so the lock is stale at
// once on this machine), continues it from its last checkpoint, and the study ends with the
// results of one uninterrupted process.
func TestStudyKilledLockHolder(t *testing.T) {
	bin := buildEBM(t)
	dir := t.TempDir()
	base := strings.Replace(strings.Replace(sharedBase, "steps = 200", "steps = 4000\ncheckpoint_every = 200", 1),
		"builtin = \"gaussian\"", "builtin = \"mlp\"\n[energy.config]\nhidden = [16, 16]", 1)
	path := writeSharedStudy(t, dir, base, `[{method = "sm"}, {method = "dsm", sigma = 0.2}]`, `["sm_loss"]`, "[1]")
	ref := filepath.Join(dir, "ref")
	out, err := exec.Command(bin, "study", path, "--out", ref, "--quiet").CombinedOutput()
	require.NoError(t, err, string(out))
	want, err := os.ReadFile(filepath.Join(ref, "results.csv"))
	require.NoError(t, err)

	folder := filepath.Join(dir, "shared")
	s, err := study.Load(path, registry())
	require.NoError(t, err)
	cell0 := filepath.Join(folder, "cells", s.Cells[0].Dir)
	holder := exec.Command(bin, "study", path, "--out", folder, "--cell", "0", "--quiet")
	require.NoError(t, holder.Start())
	// Wait until it holds cell 0's lock and has written a checkpoint.
	deadline := time.Now().Add(time.Minute)
	for !fileExistsAt(filepath.Join(cell0, "checkpoint.json")) {
		require.True(t, time.Now().Before(deadline), "cell 0 never reached a checkpoint")
		time.Sleep(20 * time.Millisecond)
	}
	info, stale, err := lockfile.Inspect(cell0+study.LockSuffix, lockfile.Options{})
	require.NoError(t, err)
	require.False(t, stale)
	require.Equal(t, holder.Process.Pid, info.PID)

	// The waiter, with two workers, runs cell 1 and waits for cell 0; kill the holder once
	// the waiter says it waits.
	logPath := filepath.Join(dir, "waiter.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	defer logFile.Close()
	waiter := exec.Command(bin, "study", path, "--out", folder, "--workers", "2")
	waiter.Stdout, waiter.Stderr = logFile, logFile
	require.NoError(t, waiter.Start())
	waiterLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	for !strings.Contains(waiterLog(), "waiting for cells that other processes run (cell 0: pid ") {
		require.True(t, time.Now().Before(deadline), "the second process never waited for cell 0: %s", waiterLog())
		time.Sleep(20 * time.Millisecond)
	}
	require.NoFileExists(t, filepath.Join(cell0, study.MetricsFile), "cell 0 still running when its holder is killed")
	require.NoError(t, holder.Process.Signal(syscall.SIGKILL))
	_ = holder.Wait()
	assert.FileExists(t, cell0+study.LockSuffix, "the killed process left its lock behind")

	done := make(chan error, 1)
	go func() { done <- waiter.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, waiterLog())
	case <-time.After(3 * time.Minute):
		waiter.Process.Kill()
		t.Fatalf("the study is blocked by the dead holder's lock: %s", waiterLog())
	}
	got, err := os.ReadFile(filepath.Join(folder, "results.csv"))
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
	a := cellAttempts(t, cell0)
	require.Len(t, a, 3, "%+v", a)
	assert.Equal(t, attemptRecord{Event: "start", Action: "train", PID: holder.Process.Pid}, a[0])
	assert.Equal(t, attemptRecord{Event: "start", Action: "resume", PID: waiter.Process.Pid}, a[1], "taken over from the checkpoint")
	assert.Equal(t, attemptRecord{Event: "end", State: "done", PID: waiter.Process.Pid}, a[2])
	assert.NoFileExists(t, cell0+study.LockSuffix)
}

func fileExistsAt(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// SIGTERM, which Slurm sends to a cancelled or timed-out task, stops `ebm study --cell` after
// the current step with a checkpoint, releases the cell's lock and exits with status 3 (not
// 0: the scheduler shows the task as not done); the next run of the cell continues from the
// checkpoint and ends with the results of an uninterrupted run.
func TestStudyCellSIGTERM(t *testing.T) {
	bin := buildEBM(t)
	dir := t.TempDir()
	base := strings.Replace(strings.Replace(sharedBase, "steps = 200", "steps = 2000\ncheckpoint_every = 100000", 1),
		"builtin = \"gaussian\"", "builtin = \"mlp\"\n[energy.config]\nhidden = [16, 16]", 1)
	path := writeSharedStudy(t, dir, base, `[{method = "sm"}]`, `["sm_loss"]`, "[1]")
	ref := filepath.Join(dir, "ref")
	out, err := exec.Command(bin, "study", path, "--out", ref, "--quiet").CombinedOutput()
	require.NoError(t, err, string(out))
	want, err := os.ReadFile(filepath.Join(ref, "results.csv"))
	require.NoError(t, err)

	folder := filepath.Join(dir, "out")
	s, err := study.Load(path, registry())
	require.NoError(t, err)
	cell := filepath.Join(folder, "cells", s.Cells[0].Dir)
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "study", path, "--out", folder, "--cell", "0")
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(time.Minute)
	for lines(filepath.Join(cell, "metrics.jsonl")) < 2 {
		require.True(t, time.Now().Before(deadline), "cell 0 never started training")
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err = cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, stderr.String())
	assert.Equal(t, exitInterrupted, ee.ExitCode(), stderr.String())
	assert.FileExists(t, filepath.Join(cell, "checkpoint.json"))
	assert.NoFileExists(t, filepath.Join(cell, "summary.json"))
	assert.NoFileExists(t, cell+study.LockSuffix)
	a := cellAttempts(t, cell)
	assert.Equal(t, "interrupted", a[len(a)-1].State)

	out, err = exec.Command(bin, "study", path, "--out", folder, "--cell", "0").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "resuming at step ")
	a = cellAttempts(t, cell)
	assert.Equal(t, attemptRecord{Event: "start", Action: "resume", PID: a[2].PID}, a[2])
	out, err = exec.Command(bin, "study", path, "--out", folder, "--merge").CombinedOutput()
	require.NoError(t, err, string(out))
	got, err := os.ReadFile(filepath.Join(folder, "results.csv"))
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
}

// lines counts the lines of a file (0 when missing).
func lines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte("\n"))
}
