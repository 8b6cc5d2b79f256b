package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/run"
)

// exitOf returns the exit status of a finished command (0 for success).
func exitOf(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, err)
	return 0
}

// waitLines waits until the file at path has at least n lines.
func waitLines(t *testing.T, path string, n int, stderr *lockedBuffer) {
	t.Helper()
	for start := time.Now(); ; time.Sleep(2 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		if bytes.Count(b, []byte("\n")) >= n {
			return
		}
		require.Less(t, time.Since(start), time.Minute, stderr.String())
	}
}

// ring8Run writes the small ring8 MLP run file of the resume tests (300 steps of exact SM,
// a record per step, a checkpoint every 50) and returns its path.
func ring8Run(t *testing.T, dir string) string {
	t.Helper()
	cfg := filepath.Join(dir, "run.toml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(resumeBase, ring8Data)+"[trainer]\nmethod = \"sm\"\n"), 0o644))
	return cfg
}

// Two `ebm train` processes on one --out: one trains, the other is refused (the folder is
// locked, or by then holds a finished run) with status 2; the folder holds one whole run,
// its config, parameters and log from the same process.
func TestTwoTrainsOnOneFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the command")
	}
	bin := buildEBM(t)
	dir := t.TempDir()
	cfg := ring8Run(t, dir)
	for round := 0; round < 2; round++ {
		out := filepath.Join(dir, fmt.Sprintf("shared-%d", round))
		var wg sync.WaitGroup
		codes := make([]int, 2)
		errs := make([]string, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var stderr bytes.Buffer
				c := exec.Command(bin, "train", cfg, "--out", out, "--quiet", "--set", fmt.Sprintf("seed=%d", 10+i))
				c.Stderr = &stderr
				codes[i], errs[i] = exitOf(t, c.Run()), stderr.String()
			}()
		}
		wg.Wait()
		winner := 0
		if codes[0] != 0 {
			winner = 1
		}
		require.Equal(t, 0, codes[winner], errs[winner])
		assert.Equal(t, exitUsage, codes[1-winner], "the other is refused: %s", errs[1-winner])
		assert.Regexp(t, "locked by another process|holds a finished run", errs[1-winner])
		s, err := run.ReadSummary(out)
		require.NoError(t, err)
		assert.Equal(t, uint64(10+winner), s.Seed, "summary of the winner")
		cfgText, err := os.ReadFile(filepath.Join(out, run.ConfigFile))
		require.NoError(t, err)
		assert.Contains(t, string(cfgText), fmt.Sprintf("seed = %d\n", 10+winner), "config of the winner")
		b, err := os.ReadFile(filepath.Join(out, run.MetricsFile))
		require.NoError(t, err)
		assert.Equal(t, 300, bytes.Count(b, []byte("\n")), "one whole log")
		assert.NoFileExists(t, filepath.Join(out, run.LockFile))
	}
	// A second process started while the first trains is refused at once, naming the holder.
	out := filepath.Join(dir, "busy")
	first := exec.Command(bin, "train", cfg, "--out", out, "--quiet", "--set", "train.steps=3000")
	var firstErr lockedBuffer
	first.Stderr = &firstErr
	require.NoError(t, first.Start())
	waitLines(t, filepath.Join(out, run.MetricsFile), 5, &firstErr)
	second, err := exec.Command(bin, "train", cfg, "--out", out, "--force").CombinedOutput()
	assert.Equal(t, exitUsage, exitOf(t, err))
	assert.Contains(t, string(second), "locked by another process: pid")
	assert.Contains(t, string(second), "(ebm train)")
	first.Process.Signal(syscall.SIGINT)
	assert.Equal(t, exitInterrupted, exitOf(t, first.Wait()), firstErr.String())
}

// A run killed with SIGKILL leaves a stale lock, a checkpoint and perhaps a temporary file.
// Training it again without --resume is refused and changes nothing; --resume takes the
// stale lock over, removes the temporary files and ends with the uninterrupted run's
// parameters.
func TestSIGKILLThenTrainAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the command")
	}
	bin := buildEBM(t)
	dir := t.TempDir()
	cfg := ring8Run(t, dir)
	straight := filepath.Join(dir, "straight")
	out, err := exec.Command(bin, "train", cfg, "--out", straight, "--quiet").CombinedOutput()
	require.NoError(t, err, string(out))

	killed := filepath.Join(dir, "killed")
	cmd := exec.Command(bin, "train", cfg, "--out", killed, "--quiet")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	waitLines(t, filepath.Join(killed, run.MetricsFile), 120, &stderr)
	require.NoError(t, cmd.Process.Kill())
	cmd.Wait()
	require.FileExists(t, filepath.Join(killed, run.CheckpointFile))
	require.FileExists(t, filepath.Join(killed, run.LockFile), "SIGKILL leaves the lock behind")
	tmp := filepath.Join(killed, ".checkpoint.json.tmp-killed")
	require.NoError(t, os.WriteFile(tmp, make([]byte, 4096), 0o644))

	cp, _ := os.ReadFile(filepath.Join(killed, run.CheckpointFile))
	metrics, _ := os.ReadFile(filepath.Join(killed, run.MetricsFile))
	out, err = exec.Command(bin, "train", cfg, "--out", killed).CombinedOutput()
	assert.Equal(t, exitUsage, exitOf(t, err))
	assert.Contains(t, string(out), "holds an interrupted run")
	assert.Contains(t, string(out), "ebm train --resume "+killed)
	cp2, _ := os.ReadFile(filepath.Join(killed, run.CheckpointFile))
	metrics2, _ := os.ReadFile(filepath.Join(killed, run.MetricsFile))
	assert.Equal(t, cp, cp2, "the checkpoint is kept")
	assert.Equal(t, metrics, metrics2, "the log is kept")

	out, err = exec.Command(bin, "train", "--resume", killed, "--quiet").CombinedOutput()
	require.NoError(t, err, string(out))
	want, _ := os.ReadFile(filepath.Join(straight, run.ParamsFile))
	got, _ := os.ReadFile(filepath.Join(killed, run.ParamsFile))
	assert.Equal(t, string(want), string(got))
	assert.NoFileExists(t, tmp)
	assert.NoFileExists(t, filepath.Join(killed, run.LockFile))
}

// SIGTERM during a step that would run for a very long time (dsm with 10⁷ noise levels: one
// step, several minutes; issue 12's 10⁸ only takes longer to build) stops the run within
// seconds, with status 3 and a checkpoint of the state before that step.
func TestSIGTERMStopsALongStep(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the command")
	}
	bin := buildEBM(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "long.toml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(resumeBase, ring8Data)+
		"[trainer]\nmethod = \"dsm\"\nlevels = 10000000\nsigma_max = 1.0\nsigma_min = 0.01\n"), 0o644))
	out := filepath.Join(dir, "run")
	cmd := exec.Command(bin, "train", cfg, "--out", out, "--quiet")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	for start := time.Now(); !strings.Contains(stderr.String(), "training mlp with dsm"); time.Sleep(5 * time.Millisecond) {
		require.Less(t, time.Since(start), time.Minute, stderr.String())
	}
	time.Sleep(500 * time.Millisecond) // inside the first step
	sent := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		assert.Equal(t, exitInterrupted, exitOf(t, err), stderr.String())
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("SIGTERM did not stop the step: %s", stderr.String())
	}
	assert.Less(t, time.Since(sent), 5*time.Second)
	cp, err := framework.ReadCheckpoint(filepath.Join(out, run.CheckpointFile))
	require.NoError(t, err)
	assert.Equal(t, 0, cp.Step, "the state before the abandoned first step")
	assert.NoFileExists(t, filepath.Join(out, run.LockFile))
}
