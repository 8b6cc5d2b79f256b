package report

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// MeanCI is the Student-t interval: for n = 2 the quantile t₀.₉₇₅,₁ = 12.7062…, so the
// half-width of {1, 3} is 12.7062·√2/√2; NaN and ±Inf are left out of n.
func TestMeanCI(t *testing.T) {
	iv := MeanCI([]float64{1, 3, math.NaN(), math.Inf(1)})
	assert.Equal(t, 2, iv.N)
	assert.Equal(t, 2.0, iv.Mean)
	assert.InDelta(t, 12.706204736174698, iv.HW, 1e-9)
	lo, hi := iv.Clip(0, math.Inf(1))
	assert.Equal(t, 0.0, lo, "clipped at the metric's bound")
	assert.InDelta(t, 2+12.706204736174698, hi, 1e-9)
	one := MeanCI([]float64{5})
	assert.Equal(t, 1, one.N)
	assert.True(t, math.IsNaN(one.HW))
	lo, hi = one.Clip(0, 1)
	assert.Equal(t, [2]float64{1, 1}, [2]float64{lo, hi}, "a mean beyond the bound is drawn at it")
	assert.Equal(t, 0, MeanCI(nil).N)
}

func ExampleMeanCI() {
	iv := MeanCI([]float64{0.021, 0.025, 0.023})
	fmt.Printf("%.3f ± %.4f (n = %d)\n", iv.Mean, iv.HW, iv.N)
	// Output: 0.023 ± 0.0050 (n = 3)
}

// svg renders a figure as SVG text.
func svg(t *testing.T, f *Figure) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, f.Render(&b, "svg"))
	return b.String()
}

// A metric figure keeps a grid point without values in its place, marked "no value", writes n
// under each point, and its y axis never goes below the metric's bound.
func TestMetricFigure(t *testing.T) {
	groups := []Group{{"sm", []float64{0.1, 0.3}}, {"nce", []float64{math.NaN(), math.NaN()}}, {"pcd", []float64{0.2, math.NaN()}}}
	s := svg(t, MetricFigure("param_error", "t", "param_error", "lower", 0, math.Inf(1), groups))
	for _, want := range []string{">sm<", ">nce<", ">pcd<", ">n = 2<", ">n = 0<", ">n = 1<", ">no value<", "(lower is better)", ">mean, 95% t-interval<"} {
		assert.Contains(t, s, want)
	}
	assert.NotContains(t, s, ">-0.", "no tick below the bound 0")
}

// Validation losses are dashed, and the legend says so, only when a run recorded them.
func TestCurvesFigure(t *testing.T) {
	train := plotter.XYs{{X: 10, Y: 3}, {X: 20, Y: 2}, {X: 30, Y: 1.5}}
	s := svg(t, CurvesFigure("c", "t", []Curve{{Label: "seed 1", Train: train}}))
	assert.NotContains(t, s, "stroke-dasharray")
	assert.NotContains(t, s, "validation")
	s = svg(t, CurvesFigure("c", "t", []Curve{{Label: "seed 1", Train: train, Valid: plotter.XYs{{X: 10, Y: 3.2}, {X: 30, Y: 2}}}}))
	assert.Contains(t, s, "stroke-dasharray")
	assert.Contains(t, s, ">validation<")
	assert.Contains(t, s, ">seed 1<")
}

type gauss struct{}

func (gauss) Dims() (int, int) { return 20, 20 }
func (gauss) X(c int) float64  { return -2 + 0.2*float64(c) }
func (gauss) Y(r int) float64  { return -2 + 0.2*float64(r) }
func (g gauss) Z(c, r int) float64 {
	x, y := g.X(c), g.Y(r)
	return math.Exp(-(x*x+y*y)/2) / (2 * math.Pi)
}

// Figure.Write writes SVG, PDF and PNG of the figure's size: the PNG at 300 dpi.
func TestWriteFormats(t *testing.T) {
	dir := t.TempDir()
	f := DensityFigure("density", "t", Density{Grid: gauss{}, Lo: [2]float64{-2, -2}, Hi: [2]float64{2, 2},
		Data: plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: -1}}, Samples: plotter.XYs{{X: 0.5, Y: 0.5}}, Names: [2]string{"a", "b"}})
	w, err := f.Write(dir)
	require.NoError(t, err)
	for _, format := range Formats {
		assert.Equal(t, filepath.Join(dir, "density."+format), w.Files[format])
	}
	b, err := os.ReadFile(w.Files["pdf"])
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), "%PDF-"))
	pf, err := os.Open(w.Files["png"])
	require.NoError(t, err)
	defer pf.Close()
	img, err := png.Decode(pf)
	require.NoError(t, err)
	assert.Equal(t, int(math.Round(float64(f.W/vg.Inch)*DPI)), img.Bounds().Dx())
	assert.Contains(t, string(w.SVG), ">density<", "the colour bar is labelled")
	doc := &Document{Title: "T", Sections: []Section{{Heading: "H", Figures: []*Written{w},
		Tables: []Table{{Header: []string{"a"}, Rows: [][]string{{"<b>"}}}}}}}
	html, err := doc.HTML()
	require.NoError(t, err)
	assert.NotContains(t, string(html), "<?xml", "the SVG is inline without its XML declaration")
	assert.Contains(t, string(html), "&lt;b&gt;", "table cells are escaped")
	assert.Contains(t, string(html), `<a href="plots/density.pdf">pdf</a>`)
}
