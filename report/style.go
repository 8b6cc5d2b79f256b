package report

import (
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Sizes of a figure on a page.
const (
	// Width is the width of a figure across a page of two columns (a single column is about
	// 8.5 cm).
	Width = 16 * vg.Centimeter
	// Height is the height of a figure.
	Height = 10 * vg.Centimeter
	// DPI is the resolution of the PNG files.
	DPI = 300
)

// Font sizes: titles, axis labels and legends, tick labels.
const (
	titleSize = 10 * vg.Inch / 72
	labelSize = 9 * vg.Inch / 72
	tickSize  = 8 * vg.Inch / 72
)

// sans is the typeface of every text: Liberation Sans, which gonum/plot ships (metric
// compatible with Arial and Helvetica).
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// palette is a colour-blind-safe qualitative palette (Okabe and Ito 2008).
var palette = []color.RGBA{
	{0, 114, 178, 255}, {230, 159, 0, 255}, {0, 158, 115, 255}, {204, 121, 167, 255},
	{86, 180, 233, 255}, {213, 94, 0, 255}, {240, 228, 66, 255}, {0, 0, 0, 255},
}

// colour returns the k-th colour of the palette.
func colour(k int) color.Color { return palette[k%len(palette)] }

// newPlot returns a plot with the report's fonts, regular ticks and a light grid.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.Font{Typeface: sans.Typeface, Variant: sans.Variant, Size: titleSize}
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.Font{Typeface: sans.Typeface, Variant: sans.Variant, Size: labelSize}
		a.Tick.Label.Font = font.Font{Typeface: sans.Typeface, Variant: sans.Variant, Size: tickSize}
		a.Tick.Marker = Ticks{}
	}
	p.X.Label.Text, p.Y.Label.Text = x, y
	p.Legend.TextStyle.Font = font.Font{Typeface: sans.Typeface, Variant: sans.Variant, Size: labelSize}
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{Y: 225}
	g.Horizontal.Color = color.Gray{Y: 225}
	g.Vertical.Width, g.Horizontal.Width = vg.Points(0.5), vg.Points(0.5)
	p.Add(g)
	return p
}

// Ticks is a plot.Ticker with regular steps: about five major ticks 1, 2, 2.5 or 5 times a
// power of ten apart, labelled with no more digits than the step needs, and four minor ticks
// between.
type Ticks struct{}

var _ plot.Ticker = Ticks{}

// Ticks returns the ticks of [min, max].
func (Ticks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return []plot.Tick{{Value: lo, Label: label(lo, 0)}}
	}
	step := NiceStep((hi - lo) / 5)
	minor := step / 5
	if m := step / math.Pow(10, math.Floor(math.Log10(step))); m == 2 {
		minor = step / 4
	}
	digits := 0 // the decimals that write the step exactly
	for s := step; digits < 12 && math.Abs(s-math.Round(s)) > 1e-9*math.Max(1, s); s *= 10 {
		digits++
	}
	var ticks []plot.Tick
	for k := math.Ceil(lo/minor - 1e-9); k*minor <= hi+1e-9*step; k++ {
		v := k * minor
		if r := math.Round(v / step); math.Abs(v/step-r) < 1e-6 {
			v = r * step
			ticks = append(ticks, plot.Tick{Value: v, Label: label(v, digits)})
		} else {
			ticks = append(ticks, plot.Tick{Value: v})
		}
	}
	return ticks
}

// NiceStep returns the smallest step 1, 2, 2.5 or 5 times a power of ten that is at least x.
func NiceStep(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= x*(1-1e-12) {
			return m * p
		}
	}
	return 10 * p
}

// label formats a tick value with the given number of decimals, switching to exponent form
// for very large or small magnitudes.
func label(v float64, digits int) string {
	if v == 0 {
		return "0"
	}
	if a := math.Abs(v); a >= 1e5 || a < 1e-3 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', digits, 64)
}

// newLegend returns a legend in the report's font.
func newLegend() plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font = font.Font{Typeface: sans.Typeface, Variant: sans.Variant, Size: labelSize}
	l.Top, l.Left = true, true
	return l
}

// legendBeside draws p in c and, when it has entries, the legend l in a column of width w to
// the right of the data, aligned with its top.
func legendBeside(c draw.Canvas, p *plot.Plot, l plot.Legend, entries int, w vg.Length) {
	if entries == 0 {
		p.Draw(c)
		return
	}
	p.Draw(draw.Crop(c, 0, -w, 0, 0))
	top := vg.Points(0)
	if p.Title.Text != "" {
		top = -p.Title.TextStyle.Height(p.Title.Text) - p.Title.Padding
	}
	l.XOffs = vg.Points(4)
	l.YOffs = top
	l.Draw(draw.Crop(c, c.Size().X-w, 0, 0, 0))
}
