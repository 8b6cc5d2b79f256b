package bench

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// StudyRateOptions configure StudyRate.
type StudyRateOptions struct {
	// Ebm is the ebm command (os.Executable() in the command itself).
	Ebm []string
	// File is the study file; Workers the numbers of cells run at once to compare.
	File    string
	Workers []int
	// Repeats is the number of rounds (each runs every worker count, in reverse order on
	// odd rounds); at least 1.
	Repeats int
	// Scratch holds the study folders (removed after); empty: a temporary folder.
	Scratch string
	Log     io.Writer
	Watching
}

// StudyRateRun is one `ebm study` run.
type StudyRateRun struct {
	Workers int     `json:"workers"`
	Cells   int     `json:"cells"`
	Seconds float64 `json:"wall_sec"` // the process, start to exit
	Command string  `json:"command"`
}

// StudyRateRow summarises the runs of one worker count.
type StudyRateRow struct {
	Workers      int            `json:"workers"`
	Cells        int            `json:"cells"`
	Seconds      Stats          `json:"wall_sec"`
	CellsPerHour Stats          `json:"cells_per_hour"`
	Runs         []StudyRateRun `json:"runs"`
}

// StudyRateResult is the outcome of StudyRate.
type StudyRateResult struct {
	Date        string          `json:"date"`
	Command     string          `json:"command,omitempty"`
	File        string          `json:"study_file"`
	Machine     Machine         `json:"machine"`
	Conditions  Conditions      `json:"conditions"`
	Rows        []*StudyRateRow `json:"rows"`
	WallSeconds float64         `json:"wall_sec"`
}

// StudyRate runs the study in File from scratch with `ebm study FILE --out DIR --workers N`
// for every N of Workers and reports cells per hour: the cells of results.csv over the
// process's wall time.
func StudyRate(ctx context.Context, o StudyRateOptions) (*StudyRateResult, error) {
	start := time.Now()
	if len(o.Ebm) == 0 || len(o.Workers) == 0 {
		return nil, fmt.Errorf("bench: study throughput needs the ebm command and worker counts")
	}
	for _, n := range o.Workers {
		if n < 1 {
			return nil, fmt.Errorf("bench: study workers must be ≥ 1, got %d", n)
		}
	}
	if _, err := os.Stat(o.File); err != nil {
		return nil, fmt.Errorf("bench: study file: %w", err)
	}
	scratch, cleanup, err := scratchDir(o.Scratch, "goebm-studyrate-")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	res := &StudyRateResult{Date: time.Now().UTC().Format(time.RFC3339), File: o.File, Machine: machine()}
	for _, n := range o.Workers {
		res.Rows = append(res.Rows, &StudyRateRow{Workers: n})
	}
	watch, err := o.Watching.start()
	if err != nil {
		return nil, err
	}
	for r := 0; r < max(o.Repeats, 1); r++ {
		for i := range res.Rows {
			row := res.Rows[inRound(r, i, len(res.Rows))]
			out := filepath.Join(scratch, fmt.Sprintf("r%d-w%d", r, row.Workers))
			run, err := studyRun(ctx, o.Ebm, o.File, out, row.Workers)
			if err != nil {
				return nil, err
			}
			os.RemoveAll(out)
			row.Runs = append(row.Runs, *run)
			if o.Log != nil {
				fmt.Fprintf(o.Log, "round %d  study %d workers: %d cells in %.1fs\n", r+1, row.Workers, run.Cells, run.Seconds)
			}
		}
	}
	for _, row := range res.Rows {
		var sec, rate []float64
		for _, run := range row.Runs {
			sec = append(sec, run.Seconds)
			rate = append(rate, float64(run.Cells)/run.Seconds*3600)
			row.Cells = run.Cells
		}
		row.Seconds, row.CellsPerHour = statsOf(sec), statsOf(rate)
	}
	if res.Conditions, err = watch.Stop(); err != nil {
		return nil, err
	}
	res.WallSeconds = time.Since(start).Seconds()
	return res, nil
}

// studyRun runs one study from scratch into out and counts its cells.
func studyRun(ctx context.Context, ebm []string, file, out string, workers int) (*StudyRateRun, error) {
	args := append(append([]string(nil), ebm[1:]...), "study", file, "--out", out, "--workers", strconv.Itoa(workers))
	cmd := exec.CommandContext(ctx, ebm[0], args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	cmd.WaitDelay = 5 * time.Second
	line := strings.Join(append([]string{ebm[0]}, args...), " ")
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("bench: %s: %w\n%s", line, err, tail(stderr.String(), 2000))
	}
	wall := time.Since(t0).Seconds()
	f, err := os.Open(filepath.Join(out, "results.csv"))
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", line, err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("bench: %s: results.csv: %w", line, err)
	}
	if len(recs) < 2 {
		return nil, fmt.Errorf("bench: %s: results.csv has no cells", line)
	}
	return &StudyRateRun{Workers: workers, Cells: len(recs) - 1, Seconds: wall, Command: line}, nil
}

// WriteTable prints cells per hour by number of workers, with the speed-up over the first
// row. A busy machine is refused as Result.WriteTable does (the speed-up is a ratio), unless
// allowBusy.
func (r *StudyRateResult) WriteTable(w io.Writer, allowBusy bool) error {
	mark, err := checkBusy(r.Conditions, len(r.Rows) > 1, allowBusy)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "| workers | cells | wall time | cells per hour | speed-up over %d worker(s) |\n", r.Rows[0].Workers)
	fmt.Fprintln(w, "|---|---|---|---|---|")
	base := r.Rows[0].CellsPerHour.Median
	for _, row := range r.Rows {
		fmt.Fprintf(w, "| %d | %d | %s%s | %s%s | %.2f×%s |\n", row.Workers, row.Cells, timeCell(row.Seconds, 0, 0), mark,
			statCell(row.CellsPerHour, "%.0f"), mark, row.CellsPerHour.Median/base, mark)
	}
	fmt.Fprintln(w)
	m := r.Machine
	fmt.Fprintf(w, "Study %s, each run from scratch (`ebm study FILE --out DIR --workers N`); wall time of the process. Machine: %s, nproc %d, %s, %s, %.0f s. Load: %s.\n",
		r.File, m.Model, m.CPUs, m.Go, r.Date, r.WallSeconds, r.Conditions.Summary())
	if mark != "" {
		fmt.Fprintf(w, "\n† Measured on a busy machine: %s. Do not quote these figures.\n", strings.Join(r.Conditions.Busy, "; "))
	}
	return nil
}
