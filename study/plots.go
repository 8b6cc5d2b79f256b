package study

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/plot/plotter"

	"github.com/goebm/goebm/eval"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/report"
	"github.com/goebm/goebm/run"
)

// figures are the study's figures, written.
type figures struct {
	metrics, curves, densities []*report.Written
}

// writePlots writes, into out/plots, as SVG, PDF and PNG (report.Figure.Write): for every
// headline metric, its value by grid point (report.MetricFigure); for every grid point, the
// learning curves of its seeds; and for 2-D continuous models, the learned density with its
// colour bar and model samples, beside the data. It goes on past a figure that fails and
// returns the figures written and the first error.
func (s *Study) writePlots(out string, rows []*row) (*figures, error) {
	dir := filepath.Join(out, "plots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	figs := &figures{}
	var first error
	keep := func(list *[]*report.Written, f *report.Figure, err error) {
		if err == nil && f != nil {
			var w *report.Written
			if w, err = f.Write(dir); err == nil {
				*list = append(*list, w)
			}
		}
		if err != nil && first == nil {
			first = err
		}
	}
	groups := s.points(rows)
	names := make([]string, len(s.Points))
	for p, labels := range s.Points {
		names[p] = strings.Join(labels, " ")
		if names[p] == "" {
			names[p] = "all"
		}
	}
	for _, m := range s.mainColumns() {
		keep(&figs.metrics, s.metricFigure(m, groups, names), nil)
	}
	for p, group := range groups {
		base := fmt.Sprintf("%02d-%s", p, sanitize(strings.Join(s.Points[p], "-")))
		f, err := s.curvesFigure("curves-"+base, names[p], out, group)
		keep(&figs.curves, f, err)
		f, err = s.densityFigure("density-"+base, names[p], out, group)
		keep(&figs.densities, f, err)
	}
	return figs, first
}

// metricFigure draws metric column m by grid point, or returns nil when no cell has it.
func (s *Study) metricFigure(m string, groups [][]*row, names []string) *report.Figure {
	any := false
	gs := make([]report.Group, len(groups))
	for i, g := range groups {
		gs[i].Label = names[i]
		for _, r := range g {
			v := r.value(m)
			gs[i].Values = append(gs[i].Values, v)
			any = any || !math.IsNaN(v)
		}
	}
	if !any {
		return nil
	}
	lo, hi := eval.Range(m)
	return report.MetricFigure(sanitize(m), fmt.Sprintf("%s: %s", s.Name, m), m, eval.Better(m), lo, hi, gs)
}

// curvesFigure draws the training loss (and validation loss, when recorded) against the step
// for each seed of one grid point, from the cells' metrics.jsonl; nil when no seed has a curve
// (a closed-form solve has one record).
func (s *Study) curvesFigure(name, point, out string, group []*row) (*report.Figure, error) {
	var curves []report.Curve
	for _, r := range group {
		c, err := curveOf(filepath.Join(out, "cells", r.cell.Dir), report.SeedLabel(r.cell.Seed))
		if err != nil {
			return nil, err
		}
		if c != nil {
			curves = append(curves, *c)
		}
	}
	if len(curves) == 0 {
		return nil, nil
	}
	return report.CurvesFigure(name, fmt.Sprintf("%s: %s, learning curves", s.Name, point), curves), nil
}

// curveOf returns the learning curve in the run folder dir's metrics.jsonl, or nil when it
// has fewer than two records (a closed-form solve has one).
func curveOf(dir, label string) (*report.Curve, error) {
	recs, err := readMetricsLog(filepath.Join(dir, run.MetricsFile))
	if err != nil {
		return nil, err
	}
	c := &report.Curve{Label: label}
	for _, m := range recs {
		if m.Rollback != nil || math.IsNaN(m.Loss) || math.IsInf(m.Loss, 0) {
			continue
		}
		c.Train = append(c.Train, plotter.XY{X: float64(m.Step), Y: m.Loss})
		if m.ValidLoss != nil {
			c.Valid = append(c.Valid, plotter.XY{X: float64(m.Step), Y: *m.ValidLoss})
		}
	}
	if len(c.Train) < 2 {
		return nil, nil
	}
	if len(c.Valid) < 2 {
		c.Valid = nil
	}
	return c, nil
}

func readMetricsLog(path string) ([]framework.Metrics, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var recs []framework.Metrics
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var m framework.Metrics
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		recs = append(recs, m)
	}
	return recs, sc.Err()
}

// densityGrid is a log density on a midpoint grid, as a plotter.GridXYZ of the density.
type densityGrid struct {
	g    eval.Grid
	logp []float64
}

func (d densityGrid) Dims() (c, r int)   { return d.g.Points, d.g.Points }
func (d densityGrid) X(c int) float64    { return d.g.Mid(0, c) }
func (d densityGrid) Y(r int) float64    { return d.g.Mid(1, r) }
func (d densityGrid) Z(c, r int) float64 { return math.Exp(d.logp[c*d.g.Points+r]) }

// densityFigure draws, for the first finished seed of a 2-D continuous grid point, the learned
// density exp(−E)/Z on the [eval.quadrature] box (or the data's, widened by a tenth) with the
// model samples on top, beside the evaluation data; nil for other models.
func (s *Study) densityFigure(name, point, out string, group []*row) (*report.Figure, error) {
	var r *row
	for _, x := range group {
		if x.status == "ok" {
			r = x
			break
		}
	}
	if r == nil {
		return nil, nil
	}
	dir := filepath.Join(out, "cells", r.cell.Dir)
	run, err := s.openCell(r.cell, dir)
	if err != nil {
		return nil, err
	}
	defer run.Close()
	return run.densityFigure(name, fmt.Sprintf("%s: %s", s.Name, point), r.cell.source, filepath.Join(dir, SamplesFile))
}

// densityFigure draws the run's learned density exp(−E)/Z on the [eval.quadrature] box of src
// (or the evaluation data's, widened by a tenth) with the model samples of the CSV samples on
// top (when it exists), beside the evaluation data; nil unless the model is 2-D and
// continuous.
func (r *Run) densityFigure(name, title string, src *run.Source, samples string) (*report.Figure, error) {
	spec := r.Built.Spec
	if spec.Domain != framework.Continuous || spec.Dim != 2 {
		return nil, nil
	}
	o := eval.DefaultOptions()
	if err := src.DecodeSection("eval", []string{"sampler", "target"}, o); err != nil {
		return nil, err
	}
	data, err := framework.ReadCSV(r.DataPath(EvalRequest{Source: src}, o))
	if err != nil {
		return nil, err
	}
	q := o.Quadrature
	if _, set := src.Lookup("eval.quadrature"); !set {
		lo, hi := bounds(data.X)
		q.Lo, q.Hi = lo, hi
	}
	q.Points, q.Tol = 160, 0.5
	dens, err := eval.LogZQuadrature(r.Built.Run.Eval, r.Theta[:spec.NumParams()], q, true)
	if err != nil {
		var be *eval.BoundaryMassError
		if !errors.As(err, &be) {
			return nil, err
		}
	}
	d := report.Density{Grid: densityGrid{g: dens.Grid, logp: dens.LogDensity}, Data: xys(data.X, 2000),
		Lo: [2]float64{dens.Grid.Lo[0], dens.Grid.Lo[1]}, Hi: [2]float64{dens.Grid.Hi[0], dens.Grid.Hi[1]},
		Names: [2]string{"x1", "x2"}}
	if len(data.Header) >= 2 {
		d.Names = [2]string{data.Header[0], data.Header[1]}
	}
	if s, err := framework.ReadCSV(samples); err == nil {
		d.Samples = xys(s.X, 1000)
	}
	return report.DensityFigure(name, title, d), nil
}

// bounds returns the bounding box of the rows of x widened by a tenth on every side.
func bounds(x *mat.Dense) (lo, hi []float64) {
	_, d := x.Dims()
	lo, hi = make([]float64, d), make([]float64, d)
	for j := 0; j < d; j++ {
		col := mat.Col(nil, j, x)
		a, b := math.Inf(1), math.Inf(-1)
		for _, v := range col {
			a, b = math.Min(a, v), math.Max(b, v)
		}
		pad := 0.1 * (b - a)
		if pad == 0 {
			pad = 1
		}
		lo[j], hi[j] = a-pad, b+pad
	}
	return lo, hi
}

// xys returns up to n rows of the first two columns of x.
func xys(x *mat.Dense, n int) plotter.XYs {
	rows, _ := x.Dims()
	pts := make(plotter.XYs, min(n, rows))
	for i := range pts {
		pts[i] = plotter.XY{X: x.At(i, 0), Y: x.At(i, 1)}
	}
	return pts
}
