package study

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/goebm/goebm/eval"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/run"
)

// writePlots writes, into out/plots: for every metric, its value by grid point (each seed a
// dot, the mean with its 95% interval a bar); for every grid point, the learning curves of its
// seeds; and for 2-D continuous models, the learned density beside the data with model
// samples on top. It goes on past a plot that fails and returns the first error.
func (s *Study) writePlots(out string, rows []*row) error {
	dir := filepath.Join(out, "plots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var first error
	keep := func(err error) {
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
		keep(s.metricPlot(filepath.Join(dir, m+".png"), m, groups, names))
	}
	for p, group := range groups {
		base := fmt.Sprintf("%02d-%s", p, sanitize(strings.Join(s.Points[p], "-")))
		keep(s.curvePlot(filepath.Join(dir, "curves-"+base+".png"), names[p], out, group))
		keep(s.densityPlot(filepath.Join(dir, "density-"+base+".png"), names[p], out, group))
	}
	return first
}

// metricPlot draws metric m by grid point.
func (s *Study) metricPlot(path, m string, groups [][]*row, names []string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: %s (circles: seeds; squares: mean and 95%% t-interval)", s.Name, m)
	p.Y.Label.Text = m + " (lower is better)"
	var dots plotter.XYs
	var means plotter.XYs
	var errs plotter.YErrors
	for i, g := range groups {
		var vals []float64
		for k, r := range g {
			v := r.value(m)
			vals = append(vals, v)
			if !math.IsNaN(v) {
				// Spread the seeds a little around the grid point.
				off := 0.0
				if len(g) > 1 {
					off = 0.25 * (float64(k)/float64(len(g)-1) - 0.5)
				}
				dots = append(dots, plotter.XY{X: float64(i) + off, Y: v})
			}
		}
		iv := meanCI(vals)
		if iv.n > 0 {
			hw := iv.hw
			if math.IsNaN(hw) {
				hw = 0
			}
			means = append(means, plotter.XY{X: float64(i), Y: iv.mean})
			errs = append(errs, struct{ Low, High float64 }{hw, hw})
		}
	}
	if len(dots) == 0 {
		return nil // nothing computed: no plot
	}
	sc, err := plotter.NewScatter(dots)
	if err != nil {
		return err
	}
	sc.GlyphStyle.Color = color.RGBA{R: 90, G: 90, B: 90, A: 255}
	sc.GlyphStyle.Radius = vg.Points(2)
	p.Add(sc)
	if len(means) > 0 {
		mp, err := plotter.NewScatter(means)
		if err != nil {
			return err
		}
		mp.GlyphStyle.Color = color.RGBA{R: 200, G: 30, B: 30, A: 255}
		mp.GlyphStyle.Radius = vg.Points(3.5)
		mp.GlyphStyle.Shape = draw.BoxGlyph{}
		eb, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{means, errs})
		if err != nil {
			return err
		}
		eb.LineStyle.Color = mp.GlyphStyle.Color
		eb.LineStyle.Width = vg.Points(1.5)
		p.Add(eb, mp)
	}
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 8
	p.X.Tick.Label.XAlign = draw.XRight
	w := vg.Length(max(16, 2.2*float64(len(names)))) * vg.Centimeter
	return savePlot(p, w, 11*vg.Centimeter, path)
}

// curvePlot draws the training loss (and validation loss, when recorded) against the step for
// each seed of one grid point, from the cells' metrics.jsonl.
func (s *Study) curvePlot(path, name, out string, group []*row) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: %s, learning curves", s.Name, name)
	p.X.Label.Text = "step"
	p.Y.Label.Text = "training loss (dashed: validation)"
	lines := 0
	for k, r := range group {
		recs, err := readMetricsLog(filepath.Join(out, "cells", r.cell.Dir, run.MetricsFile))
		if err != nil {
			return err
		}
		var train, valid plotter.XYs
		for _, m := range recs {
			if m.Rollback != nil || math.IsNaN(m.Loss) || math.IsInf(m.Loss, 0) {
				continue
			}
			train = append(train, plotter.XY{X: float64(m.Step), Y: m.Loss})
			if m.ValidLoss != nil {
				valid = append(valid, plotter.XY{X: float64(m.Step), Y: *m.ValidLoss})
			}
		}
		if len(train) < 2 {
			continue // a closed-form solve has one record: no curve
		}
		col := seedColor(k)
		l, err := plotter.NewLine(train)
		if err != nil {
			return err
		}
		l.LineStyle.Color = col
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("seed %d", r.cell.Seed), l)
		if len(valid) > 1 {
			v, err := plotter.NewLine(valid)
			if err != nil {
				return err
			}
			v.LineStyle.Color = col
			v.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(v)
		}
		lines++
	}
	if lines == 0 {
		return nil
	}
	p.Legend.Top = true
	return savePlot(p, 16*vg.Centimeter, 11*vg.Centimeter, path)
}

func seedColor(k int) color.Color {
	cols := []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
		{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255}}
	return cols[k%len(cols)]
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

// densityPlot draws, for the first finished seed of a 2-D continuous grid point, the learned
// density exp(−E)/Z on the [eval.quadrature] box (or the data's, widened by a tenth) with the
// model samples on top, beside the evaluation data.
func (s *Study) densityPlot(path, name, out string, group []*row) error {
	var r *row
	for _, x := range group {
		if x.status == "ok" {
			r = x
			break
		}
	}
	if r == nil {
		return nil
	}
	dir := filepath.Join(out, "cells", r.cell.Dir)
	run, err := s.openCell(r.cell, dir)
	if err != nil {
		return err
	}
	defer run.Close()
	spec := run.Built.Spec
	if spec.Domain != framework.Continuous || spec.Dim != 2 {
		return nil
	}
	o := eval.DefaultOptions()
	if err := r.cell.source.DecodeSection("eval", []string{"sampler", "target"}, o); err != nil {
		return err
	}
	data, err := framework.ReadCSV(run.DataPath(EvalRequest{Source: r.cell.source}, o))
	if err != nil {
		return err
	}
	q := o.Quadrature
	if _, set := r.cell.source.Lookup("eval.quadrature"); !set {
		lo, hi := bounds(data.X)
		q.Lo, q.Hi = lo, hi
	}
	q.Points, q.Tol = 160, 0.5
	dens, err := eval.LogZQuadrature(run.Built.Run.Eval, run.Theta[:spec.NumParams()], q, true)
	if err != nil {
		var be *eval.BoundaryMassError
		if !errors.As(err, &be) {
			return err
		}
	}
	left := plot.New()
	left.Title.Text = fmt.Sprintf("%s: learned density, samples", name)
	hm := plotter.NewHeatMap(densityGrid{g: dens.Grid, logp: dens.LogDensity}, moreland.ExtendedBlackBody().Palette(64))
	hm.Rasterized = true
	left.Add(hm)
	if samples, err := framework.ReadCSV(filepath.Join(dir, SamplesFile)); err == nil {
		sc, err := scatter(samples.X, 1000, color.RGBA{R: 80, G: 200, B: 255, A: 255})
		if err != nil {
			return err
		}
		left.Add(sc)
	}
	right := plot.New()
	right.Title.Text = "data"
	sc, err := scatter(data.X, 2000, color.RGBA{R: 40, G: 40, B: 40, A: 255})
	if err != nil {
		return err
	}
	right.Add(sc)
	for _, p := range []*plot.Plot{left, right} {
		p.X.Min, p.X.Max = dens.Grid.Lo[0], dens.Grid.Hi[0]
		p.Y.Min, p.Y.Max = dens.Grid.Lo[1], dens.Grid.Hi[1]
		p.X.Label.Text, p.Y.Label.Text = "x1", "x2"
	}
	img := vgimg.New(24*vg.Centimeter, 12*vg.Centimeter)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Centimeter, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(4)}
	canvases := plot.Align([][]*plot.Plot{{left, right}}, tiles, dc)
	left.Draw(canvases[0][0])
	right.Draw(canvases[0][1])
	var b bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&b); err != nil {
		return err
	}
	return framework.WriteFileAtomic(path, b.Bytes())
}

// savePlot writes p as a PNG of the given size, atomically (processes that merge the same
// study at once each write whole files).
func savePlot(p *plot.Plot, w, h vg.Length, path string) error {
	wt, err := p.WriterTo(w, h, "png")
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return err
	}
	return framework.WriteFileAtomic(path, b.Bytes())
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

// scatter plots up to n rows of x as small dots.
func scatter(x *mat.Dense, n int, col color.Color) (*plotter.Scatter, error) {
	rows, _ := x.Dims()
	n = min(n, rows)
	pts := make(plotter.XYs, n)
	for i := range pts {
		pts[i] = plotter.XY{X: x.At(i, 0), Y: x.At(i, 1)}
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, err
	}
	sc.GlyphStyle.Color = col
	sc.GlyphStyle.Radius = vg.Points(1)
	sc.GlyphStyle.Shape = draw.CircleGlyph{}
	return sc, nil
}
