package study

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/goebm/goebm/eval"
	"github.com/goebm/goebm/report"
	"github.com/goebm/goebm/run"
)

// ReportFile is the study's HTML report, in the study folder.
const ReportFile = "report.html"

// writeReport writes report.html: the summary table, every figure inline, the failures, the
// study and base run files, and the provenance of the cells and of the report.
func (s *Study) writeReport(out string, rows []*row, figs *figures) error {
	if figs == nil {
		figs = &figures{}
	}
	failed := 0
	for _, r := range rows {
		if r.status != "ok" {
			failed++
		}
	}
	sub := fmt.Sprintf("Base run file %s; %d cells: %d grid points × %d seeds (%s).", filepath.Base(s.Base),
		len(s.Cells), len(s.Points), len(s.Seeds), joinUints(s.Seeds))
	if failed > 0 {
		sub += fmt.Sprintf(" %d cells failed.", failed)
	}
	if len(rows) < len(s.Cells) {
		sub += fmt.Sprintf(" Partial: %d of %d cells finished; the others are not in this report.", len(rows), len(s.Cells))
	}
	head, table := s.summaryTable(rows)
	doc := &report.Document{Title: "Study " + s.Name, Subtitle: sub}
	doc.Sections = append(doc.Sections, report.Section{Heading: "Summary",
		Text:   "Each entry is the mean across seeds ± the half-width of its 95% Student-t interval (t₀.₉₇₅,ₙ₋₁·sd/√n, n the number of seeds with a value); — marks a metric no seed has. The last columns are the mean training work per cell (the Evaluator's rows). results.csv holds every cell's values.",
		Tables: []report.Table{{Caption: "Metrics and work by grid point", Header: head, Rows: table}}})
	if len(figs.metrics) > 0 {
		doc.Sections = append(doc.Sections, report.Section{Heading: "Metrics", Figures: figs.metrics})
	}
	if len(figs.curves) > 0 {
		doc.Sections = append(doc.Sections, report.Section{Heading: "Learning curves", Figures: figs.curves})
	}
	if len(figs.densities) > 0 {
		doc.Sections = append(doc.Sections, report.Section{Heading: "Learned densities", Figures: figs.densities})
	}
	if failed > 0 {
		t := report.Table{Header: []string{"cell", "grid point", "error"}}
		for _, r := range rows {
			if r.status != "ok" {
				t.Rows = append(t.Rows, []string{fmt.Sprint(r.cell.Index), s.describe(r.cell), r.err})
			}
		}
		doc.Sections = append(doc.Sections, report.Section{Heading: "Failures", Tables: []report.Table{t}})
	}
	for _, f := range []struct{ name, path string }{{"study.toml", filepath.Join(out, "study.toml")}, {"base.toml", filepath.Join(out, "base.toml")}} {
		if b, err := os.ReadFile(f.path); err == nil {
			doc.Sources = append(doc.Sources, report.Source{Name: f.name, Text: string(b)})
		}
	}
	doc.Provenance = provenanceRows(rows)
	return doc.Write(filepath.Join(out, ReportFile))
}

// provenanceRows describes what trained the cells (from their summary.json) and what wrote
// the report.
func provenanceRows(rows []*row) [][2]string {
	var out [][2]string
	versions, hosts := map[string]bool{}, map[string]bool{}
	var first, last time.Time
	var p *run.Provenance
	for _, r := range rows {
		if r.summary == nil || r.summary.Provenance == nil {
			continue
		}
		p = r.summary.Provenance
		v := p.Version
		if p.Commit != "" {
			v += " (" + p.Commit + ")"
		}
		versions[v], hosts[p.Host] = true, true
		if first.IsZero() || p.Start.Before(first) {
			first = p.Start
		}
		if p.End.After(last) {
			last = p.End
		}
	}
	if p != nil {
		out = append(out, [2]string{"trained by goebm", strings.Join(slices.Sorted(maps.Keys(versions)), ", ")},
			[2]string{"on hosts", strings.Join(slices.Sorted(maps.Keys(hosts)), ", ")},
			[2]string{"Go", p.GoVersion}, [2]string{"kernels", p.Kernels + " (" + strings.Join(p.CPUFeatures, " ") + ")"},
			[2]string{"training from", first.Format(time.RFC3339)}, [2]string{"training to", last.Format(time.RFC3339)})
	}
	now := run.NewProvenance("")
	out = append(out, [2]string{"report written", now.Start.Format(time.RFC3339) + " on " + now.Host + " by goebm " + now.Version})
	return out
}

// WriteReport writes report.html into the run's folder (its figures into plots/ there): the
// metrics of rep and their errors, the learning curve, for a 2-D continuous model the learned
// density with the run's samples.csv on top, config.toml and the provenance of summary.json.
// src is the [eval] table of the evaluation (nil: the defaults). It returns the report's path.
func (r *Run) WriteReport(rep *eval.Report, src *run.Source) (string, error) {
	if src == nil {
		var err error
		if src, err = run.Parse("(defaults)", nil, nil); err != nil {
			return "", err
		}
	}
	dir := filepath.Join(r.Dir, "plots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	sum, err := run.ReadSummary(r.Dir)
	if err != nil {
		return "", err
	}
	name := filepath.Base(filepath.Clean(r.Dir))
	doc := &report.Document{Title: "Run " + name,
		Subtitle: fmt.Sprintf("%s on %s, seed %d: %d steps (%s)", sum.Estimator, sum.Energy, sum.Seed, sum.Steps, r.Dir)}
	t := report.Table{Caption: fmt.Sprintf("Metrics on %v rows of %v", rep.Rows, rep.Details["data"]), Header: []string{"metric", "value"}}
	for _, k := range slices.Sorted(maps.Keys(rep.Values)) {
		t.Rows = append(t.Rows, []string{k, fmt.Sprintf("%.6g", rep.Values[k])})
	}
	for _, k := range slices.Sorted(maps.Keys(rep.Errors)) {
		t.Rows = append(t.Rows, []string{k, "not computed: " + rep.Errors[k]})
	}
	train := report.Table{Caption: "Training (summary.json)", Header: []string{"quantity", "value"},
		Rows: [][]string{{"estimator", sum.Estimator}, {"energy", sum.Energy}, {"optimizer", sum.Optimizer},
			{"steps", fmt.Sprint(sum.Steps)}, {"final training loss", fmt.Sprintf("%.6g", sum.TrainLoss)},
			{"wall seconds", fmt.Sprintf("%.3g", sum.Seconds)}}}
	if sum.ValidLoss != nil {
		train.Rows = append(train.Rows, []string{"final validation loss", fmt.Sprintf("%.6g", *sum.ValidLoss)})
	}
	if sum.TestLoss != nil {
		train.Rows = append(train.Rows, []string{"test loss", fmt.Sprintf("%.6g", *sum.TestLoss)})
	}
	doc.Sections = append(doc.Sections, report.Section{Heading: "Evaluation", Tables: []report.Table{t, train}})
	var figs []*report.Written
	var firstErr error
	add := func(f *report.Figure, err error) {
		if err == nil && f != nil {
			var w *report.Written
			if w, err = f.Write(dir); err == nil {
				figs = append(figs, w)
			}
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if c, err := curveOf(r.Dir, report.SeedLabel(sum.Seed)); c != nil || err != nil {
		if err != nil {
			add(nil, err)
		} else {
			add(report.CurvesFigure("curves", name+": learning curve", []report.Curve{*c}), nil)
		}
	}
	add(r.densityFigure("density", name, src, filepath.Join(r.Dir, run.SamplesFile)))
	if firstErr != nil {
		return "", firstErr
	}
	if len(figs) > 0 {
		doc.Sections = append(doc.Sections, report.Section{Heading: "Figures", Figures: figs})
	}
	if b, err := os.ReadFile(filepath.Join(r.Dir, run.ConfigFile)); err == nil {
		doc.Sources = append(doc.Sources, report.Source{Name: run.ConfigFile, Text: string(b)})
	}
	if p := sum.Provenance; p != nil {
		commit := p.Commit
		if commit == "" {
			commit = "not recorded"
		}
		doc.Provenance = [][2]string{{"goebm", p.Version}, {"commit", commit}, {"Go", p.GoVersion},
			{"host", p.Host + " (" + p.OS + "/" + p.Arch + ", " + fmt.Sprint(p.CPUs) + " CPUs)"},
			{"kernels", p.Kernels + " (" + strings.Join(p.CPUFeatures, " ") + ")"},
			{"trained from", p.Start.Format(time.RFC3339)}, {"trained to", p.End.Format(time.RFC3339)}}
	}
	path := filepath.Join(r.Dir, ReportFile)
	return path, doc.Write(path)
}
