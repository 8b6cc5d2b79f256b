package study

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/goebm/goebm/eval"
	"github.com/goebm/goebm/report"
)

// ci formats the mean and 95% t-interval of vals for a table: "mean ± hw", the mean alone
// for one value, "—" for none.
func ci(vals []float64) string {
	iv := report.MeanCI(vals)
	switch {
	case iv.N == 0:
		return "—"
	case math.IsNaN(iv.HW):
		return fmt.Sprintf("%.4g", iv.Mean)
	}
	return fmt.Sprintf("%.4g ± %.2g", iv.Mean, iv.HW)
}

// point groups the rows of one grid point.
func (s *Study) points(rows []*row) [][]*row {
	g := make([][]*row, len(s.Points))
	for _, r := range rows {
		g[r.cell.Point] = append(g[r.cell.Point], r)
	}
	return g
}

// mainColumns are the headline metric columns (eval.Headline of each metric).
func (s *Study) mainColumns() []string {
	var cols []string
	for _, m := range s.Metrics {
		cols = append(cols, eval.Headline(m)...)
	}
	return cols
}

// writeSummary writes summary.md: a table per grid point with every metric's mean and 95%
// interval across seeds and the mean training work from the Evaluator counts.
func (s *Study) writeSummary(w io.Writer, rows []*row) {
	failed := 0
	for _, r := range rows {
		if r.status != "ok" {
			failed++
		}
	}
	fmt.Fprintf(w, "# Study %s\n\n", s.Name)
	fmt.Fprintf(w, "Base run file `%s`; %d cells: %d grid points × %d seeds (%s)", filepath.Base(s.Base), len(s.Cells), len(s.Points), len(s.Seeds), joinUints(s.Seeds))
	if failed > 0 {
		fmt.Fprintf(w, "; **%d failed** (see results.csv, column error)", failed)
	}
	if len(rows) < len(s.Cells) {
		fmt.Fprintf(w, "; **partial**: %d of %d cells finished, the others not in these tables", len(rows), len(s.Cells))
	}
	fmt.Fprintf(w, ".\n\n")
	fmt.Fprintf(w, "Every metric is lower-is-better, except coverage (of the 95%% Wald intervals) and edge_f1 (of the selected graph). Each entry is the mean across seeds ± the half-width of its 95%% Student-t interval (t₀.₉₇₅,ₙ₋₁·sd/√n; n is the number of seeds with a value).\n\n")

	head, table := s.summaryTable(rows)
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	for _, cells := range table {
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	fmt.Fprintf(w, "\n## Compute\n\n")
	fmt.Fprintf(w, "The last columns are the mean training work per cell from the Evaluator's counts: rows for which E was computed, rows for which ∇ₓE or ∇θE was, and rows of second-order outputs (mixed products, Laplacians, Hessian-vector products). Compare estimators at matched compute by these counts rather than by steps: the work of one step differs from estimator to estimator. Derivatives computed by finite differences (the Evaluator's fallbacks) are named in the last column; they count as the first-order rows they cost. Wall times are in timing.csv.\n")
	if failed > 0 {
		fmt.Fprintf(w, "\n## Failures\n\n")
		for _, r := range rows {
			if r.status != "ok" {
				fmt.Fprintf(w, "- cell %d (%s): %s\n", r.cell.Index, s.describe(r.cell), r.err)
			}
		}
	}
	var errs []string
	for _, r := range rows {
		if r.status == "ok" && r.err != "" {
			errs = append(errs, fmt.Sprintf("- cell %d (%s): %s", r.cell.Index, s.describe(r.cell), r.err))
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "\n## Metrics not computed\n\n%s\n", strings.Join(errs, "\n"))
	}
}

// summaryTable returns the header and rows of the summary: per grid point its labels, the
// estimator, energy and seeds finished, every headline metric's mean and 95% interval, and
// the mean training work.
func (s *Study) summaryTable(rows []*row) (head []string, table [][]string) {
	for _, ax := range s.Axes {
		head = append(head, ax.Name)
	}
	head = append(head, "estimator", "energy", "seeds")
	head = append(head, s.mainColumns()...)
	head = append(head, "steps", "energy rows", "grad rows", "2nd-order rows", "derivatives")
	for p, group := range s.points(rows) {
		var cells []string
		cells = append(cells, s.Points[p]...)
		est, energy, paths := "", "", ""
		ok := 0
		var steps, er, gr, sr []float64
		for _, r := range group {
			est = r.cell.cfg.Trainer.Method
			if r.summary != nil {
				energy, paths = r.summary.Energy, pathsString(r.summary.Paths)
				steps = append(steps, float64(r.summary.Steps))
				er = append(er, float64(r.summary.Counts.EnergyRows))
				gr = append(gr, float64(r.summary.Counts.GradRows))
				sr = append(sr, float64(r.summary.Counts.SecondOrderRows))
			}
			if r.status == "ok" {
				ok++
			}
		}
		cells = append(cells, est, energy, fmt.Sprintf("%d/%d", ok, len(group)))
		for _, col := range s.mainColumns() {
			var vals []float64
			for _, r := range group {
				vals = append(vals, r.value(col))
			}
			cells = append(cells, ci(vals))
		}
		cells = append(cells, count(steps), count(er), count(gr), count(sr), paths)
		table = append(table, cells)
	}
	return head, table
}

func count(v []float64) string {
	iv := report.MeanCI(v)
	if iv.N == 0 {
		return "—"
	}
	return fmt.Sprintf("%.4g", iv.Mean)
}

func joinUints(s []uint64) string {
	var p []string
	for _, v := range s {
		p = append(p, fmt.Sprint(v))
	}
	return strings.Join(p, ", ")
}
