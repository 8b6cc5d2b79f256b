package report

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Interval is the mean of the finite values of a sample and the half-width of its 95%
// Student-t interval, t₀.₉₇₅,ₙ₋₁·sd/√n, with n the number of finite values (the half-width
// is NaN for fewer than two).
type Interval struct {
	N        int
	Mean, HW float64
}

// MeanCI returns the interval of the finite values of vals.
func MeanCI(vals []float64) Interval {
	var xs []float64
	for _, v := range vals {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			xs = append(xs, v)
		}
	}
	iv := Interval{N: len(xs), Mean: math.NaN(), HW: math.NaN()}
	if iv.N == 0 {
		return iv
	}
	s := 0.0
	for _, v := range xs {
		s += v
	}
	iv.Mean = s / float64(iv.N)
	if iv.N < 2 {
		return iv
	}
	ss := 0.0
	for _, v := range xs {
		ss += (v - iv.Mean) * (v - iv.Mean)
	}
	sd := math.Sqrt(ss / float64(iv.N-1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(iv.N - 1)}.Quantile(0.975)
	iv.HW = t * sd / math.Sqrt(float64(iv.N))
	return iv
}

// Clip returns the interval's bounds, mean ± HW, cut to [lo, hi].
func (iv Interval) Clip(lo, hi float64) (low, high float64) {
	hw := iv.HW
	if math.IsNaN(hw) {
		hw = 0
	}
	clamp := func(v float64) float64 { return math.Min(math.Max(v, lo), hi) }
	return clamp(iv.Mean - hw), clamp(iv.Mean + hw)
}

// Group is one grid point of a metric figure: its label and the metric's value for each seed
// (NaN where the seed has none).
type Group struct {
	Label  string
	Values []float64
}

// MetricFigure draws a metric across grid points: each seed a grey dot, the mean a square
// with its 95% t-interval clipped to [lo, hi] (eval.Range), and n, the number of seeds with a
// value, under each point's label. A point with no value at all keeps its place and is marked
// "no value".
//
// better says which way the metric improves ("lower", "higher", or "" for neither), for the
// axis label.
func MetricFigure(name, title, metric, better string, lo, hi float64, groups []Group) *Figure {
	w := max(Width, vg.Length(1.3*float64(len(groups)))*vg.Centimeter+4*vg.Centimeter)
	f := &Figure{Name: name, W: w, H: Height,
		Caption: fmt.Sprintf("%s by grid point: each seed a dot; the square is the mean and the bar its 95%% Student-t interval over the n seeds with a value.", metric)}
	if !math.IsInf(lo, -1) || !math.IsInf(hi, 1) {
		f.Caption += fmt.Sprintf(" Intervals are cut at [%g, %g], the values %s can take.", lo, hi, metric)
	}
	ylabel := metric
	if better != "" {
		ylabel += " (" + better + " is better)"
	}
	f.Draw = func(c draw.Canvas) {
		p := newPlot(title, "", ylabel)
		var dots, means plotter.XYs
		var bars plotter.YErrors
		var missing plotter.XYLabels
		names := make([]string, len(groups))
		yLo, yHi := math.Inf(1), math.Inf(-1)
		for i, g := range groups {
			iv := MeanCI(g.Values)
			names[i] = fmt.Sprintf("%s\nn = %d", g.Label, iv.N)
			k := 0
			for _, v := range g.Values {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					continue
				}
				off := 0.0
				if iv.N > 1 {
					off = 0.24 * (float64(k)/float64(iv.N-1) - 0.5)
				}
				dots = append(dots, plotter.XY{X: float64(i) + off, Y: v})
				yLo, yHi = math.Min(yLo, v), math.Max(yHi, v)
				k++
			}
			if iv.N == 0 {
				missing.XYs = append(missing.XYs, plotter.XY{X: float64(i)})
				missing.Labels = append(missing.Labels, "no value")
				continue
			}
			low, high := iv.Clip(lo, hi)
			means = append(means, plotter.XY{X: float64(i), Y: iv.Mean})
			bars = append(bars, struct{ Low, High float64 }{iv.Mean - low, high - iv.Mean})
			yLo, yHi = math.Min(yLo, low), math.Max(yHi, high)
		}
		if math.IsInf(yLo, 1) { // nothing at all
			yLo, yHi = 0, 1
		}
		pad := 0.08 * math.Max(yHi-yLo, 1e-12*math.Max(1, math.Abs(yHi)))
		p.Y.Min, p.Y.Max = math.Max(yLo-pad, lo), math.Min(yHi+pad, hi)
		if p.Y.Max <= p.Y.Min {
			p.Y.Min, p.Y.Max = yLo-1, yHi+1
		}
		if len(dots) > 0 {
			sc, _ := plotter.NewScatter(dots)
			sc.GlyphStyle.Color = color.Gray{Y: 120}
			sc.GlyphStyle.Radius = vg.Points(2)
			sc.GlyphStyle.Shape = draw.CircleGlyph{}
			p.Add(sc)
		}
		legend := newLegend()
		entries := 0
		if len(means) > 0 {
			eb, _ := plotter.NewYErrorBars(struct {
				plotter.XYs
				plotter.YErrors
			}{means, bars})
			eb.LineStyle.Color = colour(0)
			eb.LineStyle.Width = vg.Points(1.2)
			eb.CapWidth = vg.Points(6)
			mp, _ := plotter.NewScatter(means)
			mp.GlyphStyle.Color = colour(0)
			mp.GlyphStyle.Radius = vg.Points(3)
			mp.GlyphStyle.Shape = draw.BoxGlyph{}
			p.Add(eb, mp)
			legend.Add("mean, 95% t-interval", mp)
			entries++
		}
		if len(dots) > 0 {
			sc, _ := plotter.NewScatter(plotter.XYs{{}})
			sc.GlyphStyle.Color = color.Gray{Y: 120}
			sc.GlyphStyle.Radius = vg.Points(2)
			sc.GlyphStyle.Shape = draw.CircleGlyph{}
			legend.Add("one seed", sc)
			entries++
		}
		if len(missing.XYs) > 0 {
			for i := range missing.XYs {
				missing.XYs[i].Y = p.Y.Min + 0.5*(p.Y.Max-p.Y.Min)
			}
			lb, _ := plotter.NewLabels(missing)
			for i := range lb.TextStyle {
				lb.TextStyle[i].Font = font.Font{Typeface: sans.Typeface, Variant: sans.Variant, Size: tickSize}
				lb.TextStyle[i].Color = color.RGBA{R: 180, A: 255}
				lb.TextStyle[i].XAlign = draw.XCenter
				lb.TextStyle[i].Rotation = math.Pi / 2
			}
			p.Add(lb)
		}
		p.NominalX(names...)
		p.X.Tick.Label.Font.Size = tickSize
		p.X.Min, p.X.Max = -0.6, float64(len(groups))-0.4
		fillWhite(c)
		legendBeside(c, p, legend, entries, 4*vg.Centimeter)
	}
	return f
}

// fillWhite paints the canvas white (PNG and PDF have no background of their own).
func fillWhite(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
}
