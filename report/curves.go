package report

import (
	"fmt"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Curve is the learning curve of one run: its training loss, and its validation loss when
// the run recorded one, against the step.
type Curve struct {
	Label        string
	Train, Valid plotter.XYs
}

// dashes is the style of validation lines.
var dashes = []vg.Length{vg.Points(4), vg.Points(2.5)}

// CurvesFigure draws learning curves, one colour per run: the training loss solid, the
// validation loss dashed (the legend says so only when a run has one).
func CurvesFigure(name, title string, curves []Curve) *Figure {
	valid := false
	for _, c := range curves {
		valid = valid || len(c.Valid) > 0
	}
	caption := "Training loss against the step"
	if valid {
		caption += " (solid) and validation loss (dashed)"
	}
	f := &Figure{Name: name, W: Width, H: Height, Caption: caption + ", one colour per seed."}
	f.Draw = func(c draw.Canvas) {
		ylabel := "training loss"
		if valid {
			ylabel = "loss (solid: training, dashed: validation)"
		}
		p := newPlot(title, "step", ylabel)
		legend := newLegend()
		entries := 0
		for k, cv := range curves {
			if len(cv.Train) == 0 {
				continue
			}
			l, _ := plotter.NewLine(cv.Train)
			l.LineStyle.Color = colour(k)
			l.LineStyle.Width = vg.Points(1)
			p.Add(l)
			legend.Add(cv.Label, l)
			entries++
			if len(cv.Valid) > 0 {
				v, _ := plotter.NewLine(cv.Valid)
				v.LineStyle.Color = colour(k)
				v.LineStyle.Width = vg.Points(1)
				v.LineStyle.Dashes = dashes
				p.Add(v)
			}
		}
		if valid {
			solid, _ := plotter.NewLine(plotter.XYs{{}, {X: 1}})
			solid.LineStyle.Width = vg.Points(1)
			dashed, _ := plotter.NewLine(plotter.XYs{{}, {X: 1}})
			dashed.LineStyle.Width = vg.Points(1)
			dashed.LineStyle.Dashes = dashes
			legend.Add("training", solid)
			legend.Add("validation", dashed)
			entries += 2
		}
		fillWhite(c)
		legendBeside(c, p, legend, entries, 3.5*vg.Centimeter)
	}
	return f
}

// seedLabel names a run of a learning-curve figure.
func SeedLabel(seed uint64) string { return fmt.Sprintf("seed %d", seed) }
