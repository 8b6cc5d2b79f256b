package main

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goebm/goebm/run"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ebmBinary is the command built once for the test binary (buildEBM), in binDir, which
// TestMain removes.
var ebmBinary struct {
	once      sync.Once
	path, out string
	err       error
}

var binDir string

// buildEBM compiles the command once per test binary into a temporary folder.
func buildEBM(t *testing.T) string {
	t.Helper()
	ebmBinary.once.Do(func() {
		binDir, ebmBinary.err = os.MkdirTemp("", "ebm-test-bin-")
		if ebmBinary.err != nil {
			return
		}
		ebmBinary.path = filepath.Join(binDir, "ebm")
		var out []byte
		out, ebmBinary.err = exec.Command("go", "build", "-o", ebmBinary.path, ".").CombinedOutput()
		ebmBinary.out = string(out)
	})
	require.NoError(t, ebmBinary.err, ebmBinary.out)
	return ebmBinary.path
}

const resumeBase = `seed = 5
[data]
train = "%s"
[energy]
builtin = "mlp"
[energy.config]
hidden = [16, 16]
[optimizer]
method = "adam"
lr = 1e-2
[train]
batch = 64
steps = 300
log_every = 1
checkpoint_every = 50
`

// Training interrupted by SIGINT at random steps and resumed each time ends with exactly the
// parameters of an uninterrupted run, for exact SM, DSM and PCD (whose chains, sampler and
// optimizer state all travel in the checkpoint), and for SM with the divergence guard on and
// a rollback in the run (the checkpoint carries the guard's last good state).
func TestSignalAndResumeBitIdentical(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	bin := buildEBM(t)
	data, err := filepath.Abs("../../examples/data/ring8_test.csv")
	require.NoError(t, err)
	trainers := map[string]string{
		"sm":  "[trainer]\nmethod = \"sm\"\n",
		"dsm": "[trainer]\nmethod = \"dsm\"\nsigma = 0.1\n",
		"pcd": "[trainer]\nmethod = \"pcd\"\nk = 5\nreinit = 0.05\n[sampler]\nmethod = \"ula\"\nstep = 0.01\n",
		// Plain gradient descent at lr 1 diverges near step 223 and is rolled back once, to
		// the last good snapshot (taken every log_every = 5 steps).
		"sm-guard": "[trainer]\nmethod = \"sm\"\n",
	}
	guard := func(base string) string {
		base = strings.Replace(base, "method = \"adam\"\nlr = 1e-2", "method = \"sgd\"\nlr = 1.0", 1)
		base = strings.Replace(base, "log_every = 1\n", "log_every = 5\n", 1)
		return strings.Replace(base, "checkpoint_every = 50\n", "checkpoint_every = 50\nmax_rollbacks = 3\n", 1)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for name, tr := range trainers {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "run.toml")
			base, every := fmt.Sprintf(resumeBase, data), 1
			if name == "sm-guard" {
				base, every = guard(base), 5
			}
			require.NoError(t, os.WriteFile(cfg, []byte(base+tr), 0o644))
			straight := filepath.Join(dir, "straight")
			out, err := exec.Command(bin, "train", cfg, "--out", straight).CombinedOutput()
			require.NoError(t, err, string(out))
			want, err := os.ReadFile(filepath.Join(straight, "params.json"))
			require.NoError(t, err)

			interrupted := filepath.Join(dir, "interrupted")
			args := []string{"train", cfg, "--out", interrupted}
			interrupts, span := 0, 250
			for attempt := 0; attempt < 20; attempt++ {
				code := runAndInterrupt(t, bin, args, filepath.Join(interrupted, "metrics.jsonl"), (10+rng.IntN(span))/every)
				if code == 0 && interrupts == 0 {
					// The run ended before the signal arrived (a busy machine): start afresh
					// and signal sooner, so that the run is interrupted at least once.
					require.NoError(t, os.RemoveAll(interrupted))
					span = max(span/2, 10)
					continue
				}
				if code == 0 {
					break
				}
				require.Equal(t, exitInterrupted, code)
				interrupts++
				args = []string{"train", "--resume", interrupted}
			}
			got, err := os.ReadFile(filepath.Join(interrupted, "params.json"))
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got), "params after %d interruptions", interrupts)
			assert.Positive(t, interrupts, "the run was never interrupted: the test proved nothing")
			// The resumed run's log has one record per step, as the straight one.
			a, _ := os.ReadFile(filepath.Join(straight, "metrics.jsonl"))
			b, _ := os.ReadFile(filepath.Join(interrupted, "metrics.jsonl"))
			assert.Equal(t, bytes.Count(a, []byte("\n")), bytes.Count(b, []byte("\n")))
			sa, err := run.ReadSummary(straight)
			require.NoError(t, err)
			sb, err := run.ReadSummary(interrupted)
			require.NoError(t, err)
			assert.Equal(t, sa.Rollbacks, sb.Rollbacks)
			if name == "sm-guard" {
				assert.NotEmpty(t, sa.Rollbacks, "the guard case must roll back to prove anything")
			}
		})
	}
}

// runAndInterrupt starts ebm and sends SIGINT once metrics.jsonl has grown by `after` lines
// (or never, if the run ends first); it returns the exit status.
func runAndInterrupt(t *testing.T, bin string, args []string, metrics string, after int) int {
	t.Helper()
	return runAndInterruptCmd(t, exec.Command(bin, args...), metrics, after)
}

// runAndInterruptCmd is runAndInterrupt for a prepared command (its own working directory).
func runAndInterruptCmd(t *testing.T, cmd *exec.Cmd, metrics string, after int) int {
	t.Helper()
	if b, err := os.ReadFile(metrics); err == nil {
		after += bytes.Count(b, []byte("\n"))
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(3 * time.Minute)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	signalled := false
	for {
		select {
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				if ee.ExitCode() != exitInterrupted {
					t.Logf("stderr: %s", stderr.String())
				}
				return ee.ExitCode()
			}
			require.NoError(t, err, stderr.String())
			return 0
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("ebm did not finish: %s", stderr.String())
		case <-tick.C:
			if signalled {
				continue
			}
			if b, err := os.ReadFile(metrics); err == nil && bytes.Count(b, []byte("\n")) >= after {
				cmd.Process.Signal(syscall.SIGINT)
				signalled = true
			}
		}
	}
}

// A second signal quits at once with status 130; the folder keeps its last checkpoint and
// the run resumes from it.
func TestSecondSignalQuitsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	bin := buildEBM(t)
	dir := t.TempDir()
	// Full-batch steps on gauss20 take tens of milliseconds: long enough for the second signal
	// to arrive while the first is still waiting for the step to end.
	cmd := exec.Command(bin, "train", "../../examples/gauss20-sm.toml", "--out", dir,
		"--set", "train.checkpoint_every=5", "--set", "train.log_every=1", "--set", "train.steps=60")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	metrics := filepath.Join(dir, "metrics.jsonl")
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		b, _ := os.ReadFile(metrics)
		if bytes.Count(b, []byte("\n")) >= 12 {
			break
		}
		require.Less(t, time.Since(start), time.Minute, stderr.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	// Signals of one kind are not queued: wait until the first has been taken in, which the
	// command says on stderr, before sending the second.
	for start := time.Now(); !strings.Contains(stderr.String(), "stopping after the current step"); time.Sleep(time.Millisecond) {
		require.Less(t, time.Since(start), 10*time.Second)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "%v: %s", err, stderr.String())
	assert.Equal(t, exitSignal, ee.ExitCode(), stderr.String())
	assert.Contains(t, stderr.String(), "quitting at once")
	// The periodic checkpoint is there and resumable.
	out, err := exec.Command(bin, "train", "--resume", dir).CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "resuming at step")
}

// lockedBuffer is a bytes.Buffer safe to read while a process writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
