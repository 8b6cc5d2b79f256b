package report

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Density is what DensityFigure draws: a density on a grid over the box [Lo, Hi], model
// samples on it (optional), and the data beside it.
type Density struct {
	Grid    plotter.GridXYZ
	Lo, Hi  [2]float64
	Samples plotter.XYs
	Data    plotter.XYs
	// Names are the coordinates' names, for the axes.
	Names [2]string
}

// DensityFigure draws a learned 2-D density as a heat map with its colour bar, model samples
// on top, and the data in a panel of the same scale beside it.
func DensityFigure(name, title string, d Density) *Figure {
	f := &Figure{Name: name, W: Width, H: 8 * vg.Centimeter,
		Caption: "Left: the learned density exp(−E)/Z (colour bar) with model samples (dots); right: the data, on the same axes."}
	f.Draw = func(c draw.Canvas) {
		fillWhite(c)
		zlo, zhi := math.Inf(1), math.Inf(-1)
		cols, rows := d.Grid.Dims()
		for i := 0; i < cols; i++ {
			for j := 0; j < rows; j++ {
				z := d.Grid.Z(i, j)
				zlo, zhi = math.Min(zlo, z), math.Max(zhi, z)
			}
		}
		if !(zhi > zlo) {
			zhi = zlo + 1
		}
		cm := moreland.ExtendedBlackBody()
		cm.SetMin(zlo)
		cm.SetMax(zhi)

		left := newPlot(title+": learned density", d.Names[0], d.Names[1])
		hm := plotter.NewHeatMap(d.Grid, cm.Palette(128))
		hm.Min, hm.Max = zlo, zhi
		hm.Rasterized = true
		left.Add(hm)
		if len(d.Samples) > 0 {
			left.Add(dotsOf(d.Samples, color.RGBA{R: 86, G: 180, B: 233, A: 255}))
		}
		right := newPlot("data", d.Names[0], d.Names[1])
		right.Add(dotsOf(d.Data, color.Gray{Y: 40}))
		for _, p := range []*plot.Plot{left, right} {
			p.X.Min, p.X.Max = d.Lo[0], d.Hi[0]
			p.Y.Min, p.Y.Max = d.Lo[1], d.Hi[1]
		}
		bar := newPlot("", "", "density")
		bar.HideX()
		bar.Add(&plotter.ColorBar{ColorMap: cm, Vertical: true})
		bar.Y.Min, bar.Y.Max = zlo, zhi

		barW := 2 * vg.Centimeter
		panel := (c.Size().X - barW) / 2
		left.Draw(draw.Crop(c, 0, -(panel + barW), 0, 0))
		bar.Draw(draw.Crop(c, panel+vg.Points(2), -panel, vg.Points(8), -vg.Points(8)))
		right.Draw(draw.Crop(c, panel+barW, 0, 0, 0))
	}
	return f
}

// dotsOf returns small dots at pts.
func dotsOf(pts plotter.XYs, col color.Color) *plotter.Scatter {
	sc, _ := plotter.NewScatter(pts)
	sc.GlyphStyle.Color = col
	sc.GlyphStyle.Radius = vg.Points(0.8)
	sc.GlyphStyle.Shape = draw.CircleGlyph{}
	return sc
}
