package study

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/goebm/goebm/eval"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/run"
)

// row is one finished cell as results.csv and summary.md see it.
type row struct {
	cell    *Cell
	summary *run.Summary // nil when training failed
	metrics *cellMetrics
	status  string // "ok", or "failed"
	err     string // the cell's error, or the errors of its metrics
}

// value returns a metric column's value, or NaN when missing.
func (r *row) value(col string) float64 {
	if r.metrics == nil {
		return math.NaN()
	}
	v, ok := r.metrics.Metrics[col]
	if !ok {
		return math.NaN()
	}
	return v
}

// metricColumns returns the metric columns of results.csv, in the order of the study's metrics.
func (s *Study) metricColumns() []string {
	var cols []string
	for _, m := range s.Metrics {
		cols = append(cols, eval.Columns(m)...)
	}
	return cols
}

// rows reads the summary.json and metrics.json of the cells.
func (s *Study) rows(out string, cells []*Cell) ([]*row, error) {
	var rows []*row
	for _, c := range cells {
		dir := filepath.Join(out, "cells", c.Dir)
		m, err := readCellMetrics(dir)
		if err != nil {
			return nil, fmt.Errorf("cell %d: %w", c.Index, err)
		}
		r := &row{cell: c, metrics: m, status: "ok", err: m.Error}
		if m.Error != "" {
			r.status = "failed"
		}
		if sum, err := run.ReadSummary(dir); err == nil {
			r.summary = sum
		}
		var msgs []string
		for _, k := range sortedStrings(m.Errors) {
			msgs = append(msgs, k+": "+m.Errors[k])
		}
		if len(msgs) > 0 {
			if r.err != "" {
				r.err += "; "
			}
			r.err += strings.Join(msgs, "; ")
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func sortedStrings(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func fmtFloat(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func fmtPtr(v *float64) string {
	if v == nil {
		return ""
	}
	return fmtFloat(*v)
}

// countColumns are the training work columns of results.csv, from the Evaluator's counts.
var countColumns = []string{"requests", "energy_calls", "rows", "energy_rows", "grad_rows", "second_order_rows", "round_trips"}

func countValues(c framework.Counts) []int64 {
	return []int64{c.Requests, c.Calls, c.Rows, c.EnergyRows, c.GradRows, c.SecondOrderRows, c.RoundTrips}
}

// writeResults writes results.csv: one row per cell in cell order, every value from the
// cells' files in its shortest exact decimal form, so that the file depends only on what the
// cells computed.
//
// Columns: cell, dir, one per grid axis (its label), seed, estimator, energy, status, the
// metric columns (eval.Columns), steps, closed_form, train_loss, valid_loss, test_loss,
// rollbacks, the training counts (countColumns), derivative_paths, error.
func (s *Study) writeResults(w io.Writer, rows []*row) error {
	cw := csv.NewWriter(w)
	header := []string{"cell", "dir"}
	for _, ax := range s.Axes {
		header = append(header, ax.Name)
	}
	header = append(header, "seed", "estimator", "energy", "status")
	header = append(header, s.metricColumns()...)
	header = append(header, "steps", "closed_form", "train_loss", "valid_loss", "test_loss", "rollbacks")
	header = append(header, countColumns...)
	header = append(header, "derivative_paths", "error")
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, r := range rows {
		c := r.cell
		rec := []string{strconv.Itoa(c.Index), c.Dir}
		rec = append(rec, c.Labels...)
		est, energy := c.cfg.Trainer.Method, ""
		if r.summary != nil {
			energy = r.summary.Energy
		}
		rec = append(rec, strconv.FormatUint(c.Seed, 10), est, energy, r.status)
		for _, col := range s.metricColumns() {
			rec = append(rec, fmtFloat(r.value(col)))
		}
		if sum := r.summary; sum != nil {
			rec = append(rec, strconv.Itoa(sum.Steps), strconv.FormatBool(sum.ClosedForm), fmtFloat(sum.TrainLoss),
				fmtPtr(sum.ValidLoss), fmtPtr(sum.TestLoss), strconv.Itoa(len(sum.Rollbacks)))
			for _, v := range countValues(sum.Counts) {
				rec = append(rec, strconv.FormatInt(v, 10))
			}
			rec = append(rec, pathsString(sum.Paths))
		} else {
			for range 6 + len(countColumns) + 1 {
				rec = append(rec, "")
			}
		}
		rec = append(rec, r.err)
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func pathsString(p map[string]string) string {
	var parts []string
	for _, k := range sortedStrings(p) {
		parts = append(parts, k+"="+p[k])
	}
	return strings.Join(parts, " ")
}

// writeTiming writes timing.csv: the wall seconds of each cell's training (summed over
// resumptions) and evaluation. These differ from run to run, so they are kept out of
// results.csv.
func (s *Study) writeTiming(w io.Writer, rows []*row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"cell", "dir", "train_seconds", "steps_per_second", "eval_seconds"}); err != nil {
		return err
	}
	for _, r := range rows {
		rec := []string{strconv.Itoa(r.cell.Index), r.cell.Dir, "", "", fmtFloat(r.metrics.EvalSeconds)}
		if r.summary != nil {
			rec[2], rec[3] = fmtFloat(r.summary.Seconds), fmtFloat(r.summary.StepsPerSec)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeOutputs writes results.csv, timing.csv, summary.md, the plots and report.html from the
// cells given, every one of them finished.
func (s *Study) writeOutputs(out string, cells []*Cell, logw io.Writer) error {
	rows, err := s.rows(out, cells)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := s.writeResults(&b, rows); err != nil {
		return err
	}
	if err := framework.WriteFileAtomic(filepath.Join(out, "results.csv"), b.Bytes()); err != nil {
		return err
	}
	b.Reset()
	if err := s.writeTiming(&b, rows); err != nil {
		return err
	}
	if err := framework.WriteFileAtomic(filepath.Join(out, "timing.csv"), b.Bytes()); err != nil {
		return err
	}
	b.Reset()
	s.writeSummary(&b, rows)
	if err := framework.WriteFileAtomic(filepath.Join(out, "summary.md"), b.Bytes()); err != nil {
		return err
	}
	figs, err := s.writePlots(out, rows)
	if err != nil {
		fmt.Fprintf(logw, "warning: plots: %v\n", err)
	}
	return s.writeReport(out, rows, figs)
}
