package study

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/run"
)

// File names inside a cell's run folder, beside rundir's.
const (
	CellFile    = "cell.json"    // which cell this is, and fingerprints of its configuration
	MetricsFile = "metrics.json" // the evaluation; its presence marks the cell finished
	SamplesFile = "samples.csv"  // model samples of 2-D continuous models, for plots
)

// cellInfo is cell.json.
type cellInfo struct {
	Index  int               `json:"index"`
	Labels map[string]string `json:"labels"`
	Seed   uint64            `json:"seed"`
	Train  string            `json:"train_fingerprint"` // sha256 of the resolved config.toml
	Eval   string            `json:"eval_fingerprint"`  // sha256 of the [eval] table and the metrics
}

// cellMetrics is metrics.json.
type cellMetrics struct {
	Metrics     map[string]float64 `json:"metrics"`
	Details     map[string]any     `json:"details,omitempty"`
	Errors      map[string]string  `json:"errors,omitempty"`
	Rows        int                `json:"rows"`
	Counts      framework.Counts   `json:"eval_counts"`
	EvalSeconds float64            `json:"eval_seconds"`
	// Error is set when the cell failed as a whole (training or opening the run for evaluation).
	Error string `json:"error,omitempty"`
}

// cellStatus is what a worker reports for a cell.
type cellStatus int

const (
	cellSkipped cellStatus = iota // already finished
	cellDone
	cellFailed
	cellInterrupted
)

// checkCell returns an error when the folder of c holds a run of another configuration. When
// only the evaluation changed (the [eval] table or the metrics), it removes the cell's
// metrics.json so that the cell is evaluated again, without training again.
func (s *Study) checkCell(dir string, c *Cell) error {
	b, err := os.ReadFile(filepath.Join(dir, CellFile))
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(filepath.Join(dir, run.ConfigFile)); serr == nil {
			return fmt.Errorf("%s holds a run that is not a cell of this study (no %s): use another --out, or remove it", dir, CellFile)
		}
		return nil
	}
	if err != nil {
		return err
	}
	var info cellInfo
	if err := json.Unmarshal(b, &info); err != nil || info.Train != c.trainHash {
		return fmt.Errorf("%s was trained with another configuration (the study file or its base run file changed since): use another --out, or remove the folder to run the cell again", dir)
	}
	if info.Eval != c.evalHash {
		for _, f := range []string{MetricsFile, SamplesFile} {
			if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		return framework.WriteJSONAtomic(filepath.Join(dir, CellFile), s.cellInfo(c))
	}
	return nil
}

func (s *Study) cellInfo(c *Cell) cellInfo {
	labels := map[string]string{}
	for a, ax := range s.Axes {
		labels[ax.Name] = c.Labels[a]
	}
	return cellInfo{Index: c.Index, Labels: labels, Seed: c.Seed, Train: c.trainHash, Eval: c.evalHash}
}

// finished reports whether the cell in dir is finished.
func finished(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, MetricsFile))
	return err == nil
}

// runCell trains and evaluates one cell, continuing whatever an earlier run left.
func (s *Study) runCell(ctx context.Context, c *Cell, dir string, logw io.Writer, onStep func(*Cell, int)) (cellStatus, error) {
	if finished(dir) {
		return cellSkipped, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return cellFailed, err
	}
	if err := framework.WriteJSONAtomic(filepath.Join(dir, CellFile), s.cellInfo(c)); err != nil {
		return cellFailed, err
	}
	ropts := run.Options{}
	if onStep != nil {
		ropts.OnStep = func(step, _ int, _ float64) { onStep(c, step) }
	}
	if !run.Finished(dir) {
		var err error
		resumed := false
		if _, statErr := os.Stat(filepath.Join(dir, run.CheckpointFile)); statErr == nil {
			_, err = run.Resume(ctx, dir, nil, s.reg, ropts)
			resumed = err == nil || ctx.Err() != nil
			if !resumed {
				fmt.Fprintf(logw, "cell %d: cannot resume (%v); starting it again\n", c.Index, err)
			}
		}
		if !resumed {
			if err = run.Prepare(dir, true); err == nil {
				_, err = run.Train(ctx, c.cfg, s.reg, dir, ropts)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return cellInterrupted, nil
			}
			return cellFailed, framework.WriteJSONAtomic(filepath.Join(dir, MetricsFile), cellMetrics{Error: "training: " + err.Error()})
		}
	}
	start := time.Now()
	m, err := s.evaluateCell(ctx, c, dir)
	if err != nil {
		if ctx.Err() != nil {
			return cellInterrupted, nil
		}
		m = &cellMetrics{Error: "evaluation: " + err.Error()}
	}
	m.EvalSeconds = time.Since(start).Seconds()
	if err := framework.WriteJSONAtomic(filepath.Join(dir, MetricsFile), m); err != nil {
		return cellFailed, err
	}
	if m.Error != "" {
		return cellFailed, nil
	}
	return cellDone, nil
}

// evaluateCell computes the study's metrics from the cell's saved parameters (never from the
// trainer's memory, so that a resumed study computes the same numbers).
func (s *Study) evaluateCell(ctx context.Context, c *Cell, dir string) (*cellMetrics, error) {
	run, err := OpenRun(dir, s.reg)
	if err != nil {
		return nil, err
	}
	defer run.Close()
	spec := run.Built.Spec
	plane := spec.Domain == framework.Continuous && spec.Dim == 2
	rep, err := run.Evaluate(ctx, EvalRequest{Source: c.source, Metrics: s.Metrics, KeepSamples: plane}, s.reg)
	if err != nil {
		return nil, err
	}
	if plane && rep.Samples != nil {
		if err := writeCSV(filepath.Join(dir, SamplesFile), []string{"x1", "x2"}, rep.Samples); err != nil {
			return nil, err
		}
	}
	return &cellMetrics{Metrics: rep.Values, Details: rep.Details, Errors: rep.Errors, Rows: rep.Rows, Counts: rep.Counts}, nil
}

// writeCSV writes a matrix with a header, atomically, every value in its shortest exact form.
func writeCSV(path string, header []string, x *mat.Dense) error {
	var b []byte
	for j, h := range header {
		if j > 0 {
			b = append(b, ',')
		}
		b = append(b, h...)
	}
	b = append(b, '\n')
	n, d := x.Dims()
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendFloat(b, x.At(i, j), 'g', -1, 64)
		}
		b = append(b, '\n')
	}
	return framework.WriteFileAtomic(path, b)
}

func readCellMetrics(dir string) (*cellMetrics, error) {
	b, err := os.ReadFile(filepath.Join(dir, MetricsFile))
	if err != nil {
		return nil, err
	}
	var m cellMetrics
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, MetricsFile), err)
	}
	return &m, nil
}
