package study_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/internal/lockfile"
	"github.com/goebm/goebm/run"
	"github.com/goebm/goebm/study"
)

// attemptLine is one line of a cell's attempts.jsonl.
type attemptLine struct {
	Event  string `json:"event"`
	Action string `json:"action"`
	Retry  bool   `json:"retry"`
	State  string `json:"state"`
	PID    int    `json:"pid"`
}

func readAttempts(t *testing.T, dir string) []attemptLine {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, study.AttemptsFile))
	require.NoError(t, err)
	defer f.Close()
	var out []attemptLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var a attemptLine
		require.NoError(t, json.Unmarshal(sc.Bytes(), &a), sc.Text())
		out = append(out, a)
	}
	require.NoError(t, sc.Err())
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// straight runs the study of writeStudy in dir into dir/straight and returns its results.csv.
func straight(t *testing.T, s *study.Study, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "straight")
	res, err := s.Run(t.Context(), study.Options{Out: out, Workers: 2})
	require.NoError(t, err)
	require.Equal(t, 0, res.Failed)
	return readFile(t, filepath.Join(out, "results.csv"))
}

// A study whose whole tree (study file, base run file, data and study folder) is moved to
// another path, as on a compute node that mounts the shared file system elsewhere, is the
// same study there: its finished folder merges to the same results.csv, and a folder stopped
// halfway resumes there (its interrupted cell from its checkpoint, reading the data at the new
// path) and ends with the same results.csv. A study folder copied alone to another path
// resumes and merges too.
func TestMovedStudy(t *testing.T) {
	tmp := t.TempDir()
	a := filepath.Join(tmp, "mount-a")
	require.NoError(t, os.Mkdir(a, 0o755))
	path := writeStudy(t, a)
	// An evaluation path in the study file: resolved against its folder, absolute in the cells.
	text, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(text), "[eval.samples]", "[eval]\ndata = \"train.csv\"\n\n[eval.samples]", 1)), 0o644))
	reg := registry()
	s, err := study.Load(path, reg)
	require.NoError(t, err)
	want := straight(t, s, a)

	ctx, cancel := context.WithCancel(t.Context())
	var done atomic.Int32
	_, err = s.Run(ctx, study.Options{Out: filepath.Join(a, "half"), Workers: 2,
		OnCellDone: func(*study.Cell) { done.Add(1) },
		OnStep: func(c *study.Cell, step int) {
			if c.Index == 3 && step == 30 {
				cancel()
			}
		}})
	cancel()
	require.ErrorIs(t, err, framework.ErrInterrupted)
	require.FileExists(t, filepath.Join(a, "half", "cells", s.Cells[3].Dir, run.CheckpointFile))

	// The study folder alone, copied elsewhere: every finished cell is recognised.
	alone := filepath.Join(tmp, "copy-of-half")
	require.NoError(t, os.CopyFS(alone, os.DirFS(filepath.Join(a, "half"))))
	p, err := s.Plan(alone)
	require.NoError(t, err)
	assert.Equal(t, int(done.Load()), p.Counts.Done)
	assert.Equal(t, 0, p.Counts.Running)

	// The whole tree at another path, the first one gone.
	b := filepath.Join(tmp, "mount-b")
	require.NoError(t, os.CopyFS(b, os.DirFS(a)))
	require.NoError(t, os.RemoveAll(a))
	s2, err := study.Load(filepath.Join(b, "study.toml"), reg)
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(b, "straight", "results.csv")))
	m, err := s2.Merge(study.MergeOptions{Out: filepath.Join(b, "straight")})
	require.NoError(t, err)
	assert.Equal(t, 6, m.Done)
	assert.Equal(t, want, readFile(t, filepath.Join(b, "straight", "results.csv")), "merged where it was moved to")

	res, err := s2.Run(t.Context(), study.Options{Out: filepath.Join(b, "half"), Workers: 2})
	require.NoError(t, err)
	assert.Equal(t, int(done.Load()), res.Skipped)
	assert.Equal(t, want, readFile(t, filepath.Join(b, "half", "results.csv")), "resumed where it was moved to")
	cell3 := filepath.Join(b, "half", "cells", s.Cells[3].Dir)
	att := readAttempts(t, cell3)
	require.GreaterOrEqual(t, len(att), 2)
	assert.Equal(t, "resume", att[len(att)-2].Action, "cell 3 continued from its checkpoint")
	assert.Equal(t, "done", att[len(att)-1].State)
	assert.Contains(t, readFile(t, filepath.Join(cell3, run.ConfigFile)), filepath.Join(b, "train.csv"), "config.toml names the data where it is now")

	res, err = s2.Run(t.Context(), study.Options{Out: alone, Workers: 2})
	require.NoError(t, err)
	assert.Equal(t, want, readFile(t, filepath.Join(alone, "results.csv")), "the copied folder resumed")
	assert.Equal(t, int(done.Load()), res.Skipped)
}

// A cell whose training fails is recorded as failed with its error, counts as finished for
// the outputs, and is run again by the next execution (not with KeepFailed); once the cause
// is gone, the retried study writes the results of a study that never failed.
func TestFailedCellRetried(t *testing.T) {
	dir := t.TempDir()
	path := writeStudy(t, dir)
	s, err := study.Load(path, registry())
	require.NoError(t, err)
	want := straight(t, s, dir)

	out := filepath.Join(dir, "out")
	cell1 := filepath.Join(out, "cells", s.Cells[1].Dir)
	// A folder where params.json belongs: writing the parameters fails.
	blocker := filepath.Join(cell1, run.ParamsFile)
	require.NoError(t, os.MkdirAll(filepath.Join(blocker, "x"), 0o755))
	res, err := s.Run(t.Context(), study.Options{Out: out, Workers: 2})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Failed)
	assert.Contains(t, readFile(t, filepath.Join(out, "results.csv")), ",failed,")
	p, err := s.Plan(out)
	require.NoError(t, err)
	assert.Equal(t, study.StateFailed, p.Cells[1].State)
	assert.Contains(t, p.Cells[1].Error, "training: ")
	assert.Equal(t, study.PlanCounts{Done: 5, Failed: 1}, p.Counts)

	// --cell on the failed cell fails again and says so.
	_, err = s.Run(t.Context(), study.Options{Out: out, Cells: []int{1}})
	require.ErrorIs(t, err, study.ErrCellFailed)
	assert.Contains(t, err.Error(), "cell 1 (trainer=sm-cf seed=2): training: ")

	// Kept failed: nothing runs.
	res, err = s.Run(t.Context(), study.Options{Out: out, Workers: 2, KeepFailed: true})
	require.NoError(t, err)
	assert.Equal(t, 0, res.Ran)
	assert.Equal(t, 6, res.Skipped)
	assert.Len(t, readAttempts(t, cell1), 4, "two attempts so far, a start and an end each")

	require.NoError(t, os.RemoveAll(blocker))
	res, err = s.Run(t.Context(), study.Options{Out: out, Workers: 2})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Ran)
	assert.Equal(t, 0, res.Failed)
	att := readAttempts(t, cell1)
	require.Len(t, att, 6)
	assert.Equal(t, attemptLine{Event: "start", Action: "train", Retry: true, PID: os.Getpid()}, att[4])
	assert.Equal(t, want, readFile(t, filepath.Join(out, "results.csv")))
}

// Plan reports every state: done and failed from the cells' files, running from a lock held
// by a live process, todo otherwise; a stale lock (its process is gone) is not running.
func TestPlanStates(t *testing.T) {
	dir := t.TempDir()
	path := writeStudy(t, dir)
	s, err := study.Load(path, registry())
	require.NoError(t, err)
	out := filepath.Join(dir, "out")
	p, err := s.Plan(out)
	require.NoError(t, err)
	assert.Equal(t, study.PlanCounts{Todo: 6}, p.Counts, "no folder yet: every cell to do")
	assert.Equal(t, "cells/000-sm-cf-s1", p.Cells[0].Dir)
	assert.Equal(t, map[string]string{"trainer": "dsm"}, p.Cells[5].Labels)
	assert.Equal(t, uint64(2), p.Cells[5].Seed)
	assert.Equal(t, 2, p.Cells[5].Point)

	_, err = s.Run(t.Context(), study.Options{Out: out, Cells: []int{0, 2}})
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(out, "cells", s.Cells[3].Dir, run.ParamsFile, "x"), 0o755))
	_, err = s.Run(t.Context(), study.Options{Out: out, Cells: []int{3}})
	require.ErrorIs(t, err, study.ErrCellFailed)
	lock, err := lockfile.Acquire(filepath.Join(out, "cells", s.Cells[4].Dir+study.LockSuffix), lockfile.Options{Purpose: "test"})
	require.NoError(t, err)
	defer lock.Release()

	p, err = s.Plan(out)
	require.NoError(t, err)
	var states []study.State
	for _, c := range p.Cells {
		states = append(states, c.State)
	}
	assert.Equal(t, []study.State{"done", "todo", "done", "failed", "running", "todo"}, states)
	require.NotNil(t, p.Cells[4].Holder)
	assert.Equal(t, os.Getpid(), p.Cells[4].Holder.PID)
	assert.Equal(t, "test", p.Cells[4].Holder.Purpose)
	assert.Nil(t, p.Cells[1].Holder)

	// Merge refuses an unfinished study, and with Partial writes the finished cells' rows.
	_, err = s.Merge(study.MergeOptions{Out: out})
	require.ErrorIs(t, err, study.ErrIncomplete)
	assert.Contains(t, err.Error(), "cell 4 (trainer=dsm seed=1): running (pid ")
	assert.NoFileExists(t, filepath.Join(out, "results.csv"))
	m, err := s.Merge(study.MergeOptions{Out: out, Partial: true})
	require.NoError(t, err)
	assert.Equal(t, 2, m.Done)
	assert.Equal(t, 1, m.Failed)
	assert.Len(t, m.Missing, 3)
	results := readFile(t, filepath.Join(out, "results.csv"))
	assert.Equal(t, 4, strings.Count(results, "\n"), "a header and three rows")
	assert.Contains(t, readFile(t, filepath.Join(out, "summary.md")), "3 of 6 cells")
}

// With umask 022 every file and folder a study writes is readable by the group and others
// (0644 and 0755), plots and logs included.
func TestOutputsReadable(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := writeStudy(t, dir)
	s, err := study.Load(path, registry())
	require.NoError(t, err)
	out := filepath.Join(dir, "out")
	_, err = s.Run(t.Context(), study.Options{Out: out, Workers: 2})
	require.NoError(t, err)
	_, err = s.Submit(t.Context(), study.SlurmOptions{Out: out, Executable: "/usr/bin/ebm", DryRun: true})
	require.NoError(t, err)
	n := 0
	require.NoError(t, filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		info, err := d.Info()
		require.NoError(t, err)
		want := fs.FileMode(0o644)
		if d.IsDir() {
			want = 0o755
		}
		assert.Equal(t, want, info.Mode().Perm(), p)
		n++
		return nil
	}))
	assert.Greater(t, n, 50)
}

func TestParseCells(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		err  string
	}{
		{"3", []int{3}, ""},
		{"3,5-9", []int{3, 5, 6, 7, 8, 9}, ""},
		{"9,0-2,1", []int{0, 1, 2, 9}, ""},
		{" 4 , 7-7", []int{4, 7}, ""},
		{"10", nil, "no such cell 10: the study has 10 cells, 0 to 9"},
		{"5-3", nil, `"5-3"`},
		{"a", nil, `"a"`},
		{"1,,2", nil, `""`},
		{"-1", nil, `"-1"`},
	} {
		got, err := study.ParseCells(tc.in, 10)
		if tc.err != "" {
			assert.ErrorIs(t, err, study.ErrNoSuchCell, tc.in)
			assert.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
		back, err := study.ParseCells(study.FormatCells(got), 10)
		require.NoError(t, err)
		assert.Equal(t, got, back, "FormatCells writes what ParseCells reads")
	}
	assert.Equal(t, "0-3,5,7-9", study.FormatCells([]int{9, 0, 1, 2, 3, 5, 7, 8}))
}
