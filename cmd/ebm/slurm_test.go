//go:build slurm

package main

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/run"
	"github.com/goebm/goebm/study"
)

// TestStudyOnSlurm needs a Slurm cluster whose nodes see this checkout at the same path (make
// test-slurm; scripts/slurm-local/start.sh starts a one-node cluster on this machine). From the
// repository's root, with ebm on PATH being the release build, it runs every command of the
// "Studies on a cluster" section of examples/studies/README.md as written: it runs some cells
// of examples/studies/gauss20-small.toml with --cell, merges them partially, submits the
// others with --slurm, waits for the merge job by polling squeue, and finds results.csv byte
// for byte the one `ebm study` writes in one process. Then it submits the study afresh,
// cancels the jobs with scancel while a cell is training, checks that the cell stopped with a
// checkpoint, submits again (only the cells not done) and gets the same results.csv again.
func TestStudyOnSlurm(t *testing.T) {
	for _, c := range []string{"sbatch", "squeue", "scancel", "scontrol", "sinfo"} {
		_, err := exec.LookPath(c)
		require.NoError(t, err, "this test needs a Slurm cluster: scripts/slurm-local/start.sh starts one")
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	bindir := t.TempDir()
	sh := func(cmd string) (string, int) {
		t.Helper()
		c := exec.Command("sh", "-c", cmd)
		c.Dir = root
		c.Env = append(os.Environ(), "PATH="+bindir+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := c.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		require.NoError(t, err, cmd)
		return string(out), 0
	}
	must := func(cmd string) string {
		t.Helper()
		out, code := sh(cmd)
		require.Equal(t, 0, code, "%s:\n%s", cmd, out)
		return out
	}
	cmds := clusterCommands

	// The release build: static binaries for both architectures, the version stamped in.
	must("make release")
	for arch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
		f, err := elf.Open(filepath.Join(root, "dist", "ebm-linux-"+arch))
		require.NoError(t, err)
		assert.Equal(t, machine, f.Machine, arch)
		for _, p := range f.Progs {
			assert.NotEqual(t, elf.PT_INTERP, p.Type, "%s is static: no dynamic loader", arch)
			assert.NotEqual(t, elf.PT_DYNAMIC, p.Type, "%s is static: no shared libraries", arch)
		}
		f.Close()
	}
	describe, err := exec.Command("git", "-C", root, "describe", "--tags", "--always", "--dirty").Output()
	require.NoError(t, err)
	assert.Equal(t, "ebm "+string(describe), must("dist/ebm-linux-amd64 version"))
	bin := filepath.Join(root, "dist", "ebm-linux-"+runtime.GOARCH)
	require.NoError(t, os.Symlink(bin, filepath.Join(bindir, "ebm")))

	// The reference: one process.
	direct := filepath.Join(t.TempDir(), "direct")
	must("ebm study examples/studies/gauss20-small.toml --quiet --out " + direct)
	want, err := os.ReadFile(filepath.Join(direct, "results.csv"))
	require.NoError(t, err)

	s, err := study.Load(filepath.Join(root, "examples/studies/gauss20-small.toml"), registry())
	require.NoError(t, err)
	out := filepath.Join(root, "runs", "study-small", "gauss20")
	require.Equal(t, out, s.Out)
	require.NoError(t, os.RemoveAll(out))

	assert.Contains(t, must(cmds[0]), "study gauss20-small: 12 cells in "+out+": 0 done, 0 running, 0 failed, 12 todo")
	assert.Contains(t, must(cmds[1]), "cells 3,5-9: 6 run now, 0 already finished, 0 finished by other processes, 0 failed")
	o, code := sh(cmds[2])
	assert.Equal(t, exitFail, code, o)
	assert.Contains(t, o, "cells not finished: 6 of 12: cell 0 (trainer=sm-closed seed=1): todo")
	assert.Contains(t, must(cmds[3]), "merged 6 cells (6 done, 0 failed); 6 not finished")

	o = must(cmds[4])
	assert.Contains(t, o, "12 cells: 6 to submit, 6 finished, 0 running elsewhere")
	assert.Contains(t, o, "#SBATCH --array=0-2,4,10-11%6\n")
	assert.Contains(t, o, "exec "+bin+" study "+filepath.Join(root, "examples/studies/gauss20-small.toml")+" --out "+out+" --cell \"$SLURM_ARRAY_TASK_ID\"\n")
	assert.Contains(t, o, "dry run: nothing submitted")
	assert.Empty(t, strings.TrimSpace(must("squeue -h -n ebm-gauss20-small")), "a dry run submits nothing")

	array, merge := submitted(t, must(cmds[5]))
	assert.Contains(t, must(cmds[6]), merge, "squeue --me shows the merge job waiting")
	waitGone(t, array, merge)
	assert.Contains(t, must("scontrol show job "+merge), "JobState=COMPLETED")
	got, err := os.ReadFile(filepath.Join(out, "results.csv"))
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "results.csv of the Slurm run")
	for _, c := range []int{0, 1, 2, 4, 10, 11} {
		assert.FileExists(t, logPath(out, c, array))
	}
	plan := planOf(t, must("ebm study examples/studies/gauss20-small.toml --plan --json"))
	assert.Equal(t, study.PlanCounts{Done: 12}, plan.Counts)

	// Afresh, cancelled while a PCD cell (the longest training) is halfway.
	require.NoError(t, os.RemoveAll(out))
	array, merge = submitted(t, must(cmds[5]))
	var victim int
	deadline := time.Now().Add(10 * time.Minute)
	for victim = -1; victim < 0; {
		require.True(t, time.Now().Before(deadline), "no PCD cell was seen training")
		for _, c := range []int{10, 11} {
			dir := filepath.Join(out, "cells", s.Cells[c].Dir)
			if records(filepath.Join(dir, run.MetricsFile)) >= 2 && !fileExistsAt(filepath.Join(dir, run.SummaryFile)) {
				victim = c
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	must(cmds[7])
	waitGone(t, array, merge)
	vdir := filepath.Join(out, "cells", s.Cells[victim].Dir)
	assert.FileExists(t, filepath.Join(vdir, run.CheckpointFile), "SIGTERM left a checkpoint")
	assert.NoFileExists(t, filepath.Join(vdir, run.SummaryFile))
	assert.NoFileExists(t, vdir+study.LockSuffix, "and released the lock")
	a := cellAttempts(t, vdir)
	assert.Equal(t, "interrupted", a[len(a)-1].State)
	vlog, err := os.ReadFile(logPath(out, victim, array))
	require.NoError(t, err)
	assert.Contains(t, string(vlog), "stopping after the current step and writing a checkpoint")
	assert.Contains(t, must("scontrol show job "+merge), "JobState=CANCELLED")
	assert.Contains(t, must("scontrol show job "+array+"_"+strconv.Itoa(victim)), "ExitCode=3:0", "the cancelled task exited with status 3")

	plan = planOf(t, must("ebm study examples/studies/gauss20-small.toml --plan --json"))
	require.Equal(t, 0, plan.Counts.Running)
	require.Less(t, plan.Counts.Done, 12)
	array, merge = submitted(t, must(cmds[5]))
	script, err := os.ReadFile(filepath.Join(out, "slurm", "cells.sbatch"))
	require.NoError(t, err)
	var todo []int
	for _, c := range plan.Cells {
		if c.State != study.StateDone {
			todo = append(todo, c.Index)
		}
	}
	assert.Contains(t, string(script), "#SBATCH --array="+study.FormatCells(todo)+"%", "only the cells not done")
	waitGone(t, array, merge)
	assert.Contains(t, must("scontrol show job "+merge), "JobState=COMPLETED")
	got, err = os.ReadFile(filepath.Join(out, "results.csv"))
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "results.csv after scancel and a second submission")
	a = cellAttempts(t, vdir)
	require.GreaterOrEqual(t, len(a), 4)
	assert.Equal(t, "resume", a[len(a)-2].Action, "the cancelled cell continued from its checkpoint")
	assert.Equal(t, "done", a[len(a)-1].State)
}

// submitted reads the job ids that ebm study --slurm printed.
func submitted(t *testing.T, out string) (array, merge string) {
	t.Helper()
	m := regexp.MustCompile(`submitted job (\d+): cells`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	mm := regexp.MustCompile(`submitted job (\d+): merge when job (\d+) has ended \(afterany\)`).FindStringSubmatch(out)
	require.NotNil(t, mm, out)
	require.Equal(t, m[1], mm[2])
	return m[1], mm[1]
}

// waitGone polls squeue until none of the jobs is pending, running or completing.
func waitGone(t *testing.T, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Minute)
	for {
		out, err := exec.Command("squeue", "-h", "-j", strings.Join(ids, ","), "-o", "%i %T").CombinedOutput()
		if err != nil && strings.Contains(string(out), "Invalid job id") || err == nil && strings.TrimSpace(string(out)) == "" {
			return
		}
		require.NoError(t, err, string(out))
		require.True(t, time.Now().Before(deadline), "jobs %v still queued: %s", ids, out)
		time.Sleep(500 * time.Millisecond)
	}
}

// logPath is the Slurm output file of cell c's task in array job id.
func logPath(out string, c int, id string) string {
	return filepath.Join(out, "slurm", "logs", fmt.Sprintf("cell-%03d-job%s.out", c, id))
}

// records counts the lines of a metrics.jsonl (0 when missing).
func records(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		n++
	}
	return n
}

func planOf(t *testing.T, out string) study.Plan {
	t.Helper()
	var p study.Plan
	require.NoError(t, json.Unmarshal([]byte(out), &p), out)
	return p
}
