package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goebm/goebm/run"
)

// E2ESample is one `ebm train` run timed end to end: steps per second from the run folder's
// summary.json (the training loop's wall time: every step, warm-up, guard snapshots, logging
// and checkpoints included), and the process's own wall time and peak memory.
type E2ESample struct {
	// PerUnit is the summary's wall_seconds per timed unit (step, or epoch for digits).
	PerUnit     float64 `json:"sec_per_unit"`
	StepsPerSec float64 `json:"steps_per_second"`
	Steps       int     `json:"steps"`
	LoopSeconds float64 `json:"wall_seconds"` // summary.json's wall_seconds
	// ProcessSeconds is the time from starting the process to its exit: start-up, reading
	// the data, building, training, writing the outputs.
	ProcessSeconds float64 `json:"process_sec"`
	MaxRSSKiB      int64   `json:"maxrss_kib"`
	Command        string  `json:"command"`
}

// Trainer runs `ebm train` as a child process: Argv is the ebm command (os.Executable() in
// the ebm command itself), Dir a scratch folder for run files and run folders.
type Trainer struct {
	Argv []string
	Dir  string
}

// Train writes text as a run file (relative paths resolve in baseDir), trains it with
// `ebm train FILE --out DIR --quiet --set ...` and reads its summary.json; units is the
// number of timed units in the run (0: its steps).
func (t *Trainer) Train(ctx context.Context, name, text, baseDir string, sets []string, units int) (*E2ESample, error) {
	if len(t.Argv) == 0 {
		return nil, fmt.Errorf("bench: end-to-end timing needs the ebm command")
	}
	dir, err := os.MkdirTemp(t.Dir, "e2e-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, name)
	if baseDir != "" {
		abs, err := filepath.Abs(baseDir)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		text = "base_dir = " + strconv.Quote(abs) + "\n" + text
	}
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return t.TrainFile(ctx, file, filepath.Join(dir, "run"), sets, units)
}

// TrainFile trains the run file at path into out (which must not hold a finished run) and
// reads its summary.json.
func (t *Trainer) TrainFile(ctx context.Context, path, out string, sets []string, units int) (*E2ESample, error) {
	args := append(append([]string(nil), t.Argv[1:]...), "train", path, "--out", out, "--quiet")
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	cmd := exec.CommandContext(ctx, t.Argv[0], args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	line := strings.Join(append([]string{t.Argv[0]}, args...), " ")
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0).Seconds()
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w\n%s", line, err, tail(stderr.String(), 2000))
	}
	sum, err := run.ReadSummary(out)
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", line, err)
	}
	if sum.Steps <= 0 || sum.Seconds <= 0 {
		return nil, fmt.Errorf("bench: %s: summary.json has %d steps in %g s: nothing to time", line, sum.Steps, sum.Seconds)
	}
	if units <= 0 {
		units = sum.Steps
	}
	s := &E2ESample{PerUnit: sum.Seconds / float64(units), StepsPerSec: sum.StepsPerSec, Steps: sum.Steps,
		LoopSeconds: sum.Seconds, ProcessSeconds: wall, MaxRSSKiB: maxRSS(cmd.ProcessState), Command: line}
	return s, nil
}

// maxRSS returns a finished child's peak resident set in KiB (getrusage's ru_maxrss), 0 when
// unknown.
func maxRSS(ps *os.ProcessState) int64 {
	if ps == nil {
		return 0
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Maxrss)
	}
	return 0
}

// runE2E times workload w end to end: its run file, with the environment's settings, through
// `ebm train`.
func runE2E(ctx context.Context, t *Trainer, env *Env, w Workload) (*E2ESample, error) {
	if w.RunFile == nil {
		return nil, nil
	}
	units := 0
	if w.Unit == "epoch" {
		units = env.epochs()
	}
	name := "bench-" + strings.ReplaceAll(w.Name, "/", "-") + ".toml"
	return t.Train(ctx, name, w.RunFile(env), env.DataDir, env.sets(), units)
}

// RunFilesOptions configure TimeRunFiles.
type RunFilesOptions struct {
	// Ebm is the ebm command; Files the run files to time; Sets are --set overrides given
	// to every run.
	Ebm   []string
	Files []string
	Sets  []string
	// Repeats is the number of rounds, each training every file once, in reverse order on
	// odd rounds; at least 1.
	Repeats int
	Scratch string // run folders (removed after); empty: a temporary folder
	Log     io.Writer
	Watching
}

// RunFileRow is one run file's runs.
type RunFileRow struct {
	File        string       `json:"file"`
	Runs        []*E2ESample `json:"runs"`
	StepsPerSec Stats        `json:"steps_per_second"`
	PerStep     Stats        `json:"sec_per_step"`
	Process     Stats        `json:"process_sec"`
	MaxRSSKiB   int64        `json:"maxrss_kib"` // the largest over the runs
}

// RunFilesResult is the outcome of TimeRunFiles.
type RunFilesResult struct {
	Date        string        `json:"date"`
	Command     string        `json:"command,omitempty"`
	Machine     Machine       `json:"machine"`
	Conditions  Conditions    `json:"conditions"`
	Sets        []string      `json:"sets,omitempty"`
	Rows        []*RunFileRow `json:"rows"`
	WallSeconds float64       `json:"wall_sec"`
}

// TimeRunFiles trains each run file with `ebm train FILE --out DIR --quiet` Repeats times and
// reports steps per second from summary.json: any run file, a plugin's as well as an
// in-process one, timed as a user runs it.
func TimeRunFiles(ctx context.Context, o RunFilesOptions) (*RunFilesResult, error) {
	start := time.Now()
	if len(o.Files) == 0 {
		return nil, fmt.Errorf("bench: no run files to time")
	}
	for _, f := range o.Files {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("bench: run file: %w", err)
		}
	}
	scratch, cleanup, err := scratchDir(o.Scratch, "goebm-e2e-")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	t := &Trainer{Argv: o.Ebm, Dir: scratch}
	res := &RunFilesResult{Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(), Sets: o.Sets}
	for _, f := range o.Files {
		res.Rows = append(res.Rows, &RunFileRow{File: f})
	}
	watch, err := o.Watching.start()
	if err != nil {
		return nil, err
	}
	for r := 0; r < max(o.Repeats, 1); r++ {
		for i := range res.Rows {
			k := inRound(r, i, len(res.Rows))
			row := res.Rows[k]
			out := filepath.Join(scratch, fmt.Sprintf("r%d-%d", r, k))
			s, err := t.TrainFile(ctx, row.File, out, o.Sets, 0)
			if err != nil {
				return nil, err
			}
			os.RemoveAll(out)
			row.Runs = append(row.Runs, s)
			if o.Log != nil {
				fmt.Fprintf(o.Log, "round %d  %s: %.1f steps/s (%d steps; process %.1fs)\n", r+1, row.File, s.StepsPerSec, s.Steps, s.ProcessSeconds)
			}
		}
	}
	for _, row := range res.Rows {
		var sps, per, proc []float64
		for _, s := range row.Runs {
			sps = append(sps, s.StepsPerSec)
			per = append(per, s.PerUnit)
			proc = append(proc, s.ProcessSeconds)
			row.MaxRSSKiB = max(row.MaxRSSKiB, s.MaxRSSKiB)
		}
		row.StepsPerSec, row.PerStep, row.Process = statsOf(sps), statsOf(per), statsOf(proc)
	}
	if res.Conditions, err = watch.Stop(); err != nil {
		return nil, err
	}
	res.WallSeconds = time.Since(start).Seconds()
	return res, nil
}

// WriteTable prints a row per run file: steps per second of `ebm train` (median over the
// rounds, range), seconds per step, the process's wall time and peak memory, and the time
// per step relative to the first file. A busy machine is refused as Result.WriteTable does
// when there is a ratio (two files or more), unless allowBusy.
func (r *RunFilesResult) WriteTable(w io.Writer, allowBusy bool) error {
	mark, err := checkBusy(r.Conditions, len(r.Rows) > 1, allowBusy)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "| run file | steps | `ebm train` steps/s | s/step | process wall time | peak MiB | time per step ÷ the first file's |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	base := r.Rows[0].PerStep.Median
	for _, row := range r.Rows {
		steps := 0
		if len(row.Runs) > 0 {
			steps = row.Runs[0].Steps
		}
		fmt.Fprintf(w, "| %s | %d | %s%s | %s%s | %s%s | %.0f | %.2f×%s |\n", row.File, steps, statCell(row.StepsPerSec, "%.4g"), mark,
			timeCell(row.PerStep, 0, 0), mark, timeCell(row.Process, 0, 0), mark, kibToMiB(row.MaxRSSKiB), row.PerStep.Median/base, mark)
	}
	fmt.Fprintln(w)
	m := r.Machine
	sets := ""
	if len(r.Sets) > 0 {
		sets = " with --set " + strings.Join(r.Sets, " --set ")
	}
	fmt.Fprintf(w, "Each file trained by `ebm train FILE --out DIR --quiet`%s, %d round(s); steps/s and s/step from summary.json (the training loop), the process's wall time from start to exit. Machine: %s, nproc %d, %s, %s, %.0f s. Load: %s.\n",
		sets, len(r.Rows[0].Runs), m.Model, m.CPUs, m.Go, r.Date, r.WallSeconds, r.Conditions.Summary())
	if mark != "" {
		fmt.Fprintf(w, "\n† Measured on a busy machine (--allow-busy): %s. Do not quote these figures.\n", strings.Join(r.Conditions.Busy, "; "))
	}
	return nil
}
