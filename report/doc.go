// Package report implements goebm's figures and its HTML reports, for people and for papers.
//
// Figures are drawn with gonum/plot and written three ways (Figure.Write): SVG and PDF, vector
// formats a journal takes, and PNG at 300 dpi, all at a size meant for a page (16 cm wide for
// a two-column figure) with 8 to 10 point sans-serif text. Axes have regular ticks (steps of
// 1, 2, 2.5 or 5 times a power of ten) and a grid; legends and colour bars sit outside the data.
//
//   - MetricFigure: a metric by grid point, each seed a dot, the mean with its Student-t 95%
//     interval (n, the number of seeds with a value, written under each point), clipped to the
//     values the metric can take (eval.Range); a point without any value is marked "no value"
//     rather than left out.
//   - CurvesFigure: learning curves, training loss solid and validation loss dashed, one
//     colour per seed.
//   - DensityFigure: a learned 2-D density with its colour bar and model samples on top, beside
//     the data.
//
// Document is a self-contained HTML report (report.html): headings, tables, the figures'
// SVG inline, source files and provenance, with no reference to anything outside the file.
// `ebm study` writes one per study and `ebm eval --html` one per run.
package report
