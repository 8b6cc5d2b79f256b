package report

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/goebm/goebm/framework"
)

// Figure is a drawing of a given size on a page.
type Figure struct {
	// Name is the file name without extension.
	Name string
	// Caption says what the figure shows, for a report.
	Caption string
	W, H    vg.Length
	// Draw draws the figure on a canvas of size W×H.
	Draw func(draw.Canvas)
}

// Formats are the file formats Write writes, in order.
var Formats = []string{"svg", "pdf", "png"}

// Written is a figure written to files.
type Written struct {
	*Figure
	// Files are the paths written, by format.
	Files map[string]string
	// SVG is the SVG document, for a report to inline.
	SVG []byte
}

// Write writes the figure into dir as NAME.svg, NAME.pdf and NAME.png (DPI dots per inch),
// each atomically.
func (f *Figure) Write(dir string) (*Written, error) {
	w := &Written{Figure: f, Files: map[string]string{}}
	for _, format := range Formats {
		var b bytes.Buffer
		if err := f.Render(&b, format); err != nil {
			return nil, fmt.Errorf("figure %s: %w", f.Name, err)
		}
		path := filepath.Join(dir, f.Name+"."+format)
		if err := framework.WriteFileAtomic(path, b.Bytes()); err != nil {
			return nil, err
		}
		w.Files[format] = path
		if format == "svg" {
			w.SVG = b.Bytes()
		}
	}
	return w, nil
}

// Render writes the figure in one format: "svg", "pdf" or "png".
func (f *Figure) Render(out io.Writer, format string) error {
	var c interface {
		vg.CanvasSizer
		io.WriterTo
	}
	switch format {
	case "svg":
		c = vgsvg.New(f.W, f.H)
	case "pdf":
		p := vgpdf.New(f.W, f.H)
		p.EmbedFonts(true)
		c = p
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(f.W, f.H), vgimg.UseDPI(DPI))}
	default:
		return fmt.Errorf("unknown format %q (have svg, pdf, png)", format)
	}
	f.Draw(draw.New(c))
	_, err := c.WriteTo(out)
	return err
}
