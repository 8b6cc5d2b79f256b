package bench

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/goebm/goebm/framework"
)

// checkBusy returns an error wrapping ErrBusy when the machine was busy, the result has
// ratios and allowBusy is not set; else the mark to put on every figure ("†" when busy).
func checkBusy(c Conditions, ratios, allowBusy bool) (string, error) {
	if len(c.Busy) == 0 {
		return "", nil
	}
	if ratios && !allowBusy {
		return "", fmt.Errorf("%w: %s. A ratio from a busy machine flatters goebm (load slows the single-threaded peer more); run again on an idle machine, or pass --allow-busy to write the figures marked",
			ErrBusy, strings.Join(c.Busy, "; "))
	}
	return "†", nil
}

func (r *ScalingResult) hasPeer() bool {
	for _, s := range r.Sweeps {
		for _, row := range s.Rows {
			if len(row.Peer) > 0 {
				return true
			}
		}
	}
	return false
}

// Files writes, into dir: scaling.csv (one line per sweep, method and size, every side's
// figures), scaling.md (the tables) and img/scaling-SWEEP-{time,memory}.{svg,png} (log–log
// plots). On a busy machine it writes nothing and returns an error wrapping ErrBusy unless
// allowBusy, as Result.WriteTable.
func (r *ScalingResult) Files(dir string, allowBusy bool) ([]string, error) {
	mark, err := checkBusy(r.Conditions, r.hasPeer(), allowBusy)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "img"), 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	var written []string
	var buf bytes.Buffer
	if err := r.WriteCSV(&buf); err != nil {
		return nil, err
	}
	p := filepath.Join(dir, "scaling.csv")
	if err := framework.WriteFileAtomic(p, buf.Bytes()); err != nil {
		return nil, err
	}
	written = append(written, p)
	buf.Reset()
	if err := r.WriteMarkdown(&buf, allowBusy); err != nil {
		return nil, err
	}
	p = filepath.Join(dir, "scaling.md")
	if err := framework.WriteFileAtomic(p, buf.Bytes()); err != nil {
		return nil, err
	}
	written = append(written, p)
	for _, s := range r.Sweeps {
		for _, what := range []string{"time", "memory"} {
			pl, err := r.plot(s, what, mark)
			if err != nil {
				return written, err
			}
			for _, ext := range []string{"svg", "png"} {
				p := filepath.Join(dir, "img", fmt.Sprintf("scaling-%s-%s.%s", s.Name, what, ext))
				if err := savePlot(pl, p); err != nil {
					return written, err
				}
				written = append(written, p)
			}
		}
	}
	return written, nil
}

// savePlot renders a plot in the format of path's extension and writes it atomically.
func savePlot(p *plot.Plot, path string) error {
	wt, err := p.WriterTo(16*vg.Centimeter, 11*vg.Centimeter, strings.TrimPrefix(filepath.Ext(path), "."))
	if err != nil {
		return fmt.Errorf("bench: %s: %w", path, err)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return fmt.Errorf("bench: %s: %w", path, err)
	}
	return framework.WriteFileAtomic(path, buf.Bytes())
}

// peerThreadsOf returns the thread counts the peer ran with, in order.
func (r *ScalingResult) peerThreadsOf() []int {
	var ts []int
	for _, s := range r.Sweeps {
		for _, row := range s.Rows {
			for _, m := range row.Peer {
				if !containsInt(ts, m.Threads) {
					ts = append(ts, m.Threads)
				}
			}
		}
	}
	return ts
}

func containsInt(v []int, x int) bool {
	for _, y := range v {
		if y == x {
			return true
		}
	}
	return false
}

// WriteCSV writes one line per sweep, method and size: seconds per step and peak memory
// (MiB) of goebm and of the peer at each thread count, the faster peer's speed-up, and for
// exact SM the FLOP count of a step and goebm's rate.
func (r *ScalingResult) WriteCSV(w io.Writer) error {
	ts := r.peerThreadsOf()
	head := []string{"sweep", "method", "batch", "width", "dim", "steps", "goebm_sec_per_step", "goebm_peak_mib"}
	for _, t := range ts {
		head = append(head, fmt.Sprintf("torch_%dt_sec_per_step", t), fmt.Sprintf("torch_%dt_peak_mib", t))
	}
	head = append(head, "speedup_vs_fastest_torch", "gemm_flops_per_step", "goebm_gflops")
	cw := csv.NewWriter(w)
	cw.Write(head)
	f := func(v float64) string {
		if math.IsNaN(v) || math.IsInf(v, 0) || v == 0 {
			return ""
		}
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	for _, s := range r.Sweeps {
		for _, row := range s.Rows {
			rec := []string{s.Name, row.Method, strconv.Itoa(row.Batch), strconv.Itoa(row.Width), strconv.Itoa(row.Dim),
				strconv.Itoa(row.Goebm.Steps), f(row.Goebm.SecPerStep), f(kibToMiB(row.Goebm.MaxRSSKiB))}
			for _, t := range ts {
				sec, mib := "", ""
				for _, m := range row.Peer {
					if m.Threads == t {
						sec, mib = f(m.SecPerStep), f(kibToMiB(m.MaxRSSKiB))
					}
				}
				rec = append(rec, sec, mib)
			}
			ratio := ""
			if b := row.BestPeer(); b != nil {
				ratio = f(b.SecPerStep / row.Goebm.SecPerStep)
			}
			rec = append(rec, ratio, f(row.Flops), f(row.Flops/row.Goebm.SecPerStep/1e9))
			cw.Write(rec)
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteMarkdown prints a table per sweep. It refuses a busy machine as Files does.
func (r *ScalingResult) WriteMarkdown(w io.Writer, allowBusy bool) error {
	mark, err := checkBusy(r.Conditions, r.hasPeer(), allowBusy)
	if err != nil {
		return err
	}
	peer := r.hasPeer()
	for _, s := range r.Sweeps {
		fmt.Fprintf(w, "**Growing the %s** (%s):\n\n", sweepNames[s.Name], fixedSizes(s.Name))
		if peer {
			fmt.Fprintf(w, "| method | %s | goebm s/step | torch s/step (faster of %s threads) | speed-up | goebm peak MiB | torch peak MiB | goebm GFLOP/s (exact SM) |\n", s.Name, joinInts(r.peerThreadsOf(), ", "))
			fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
		} else {
			fmt.Fprintf(w, "| method | %s | goebm s/step | goebm peak MiB | goebm GFLOP/s (exact SM) |\n", s.Name)
			fmt.Fprintln(w, "|---|---|---|---|---|")
		}
		for _, row := range s.Rows {
			v := map[string]int{"batch": row.Batch, "width": row.Width, "dim": row.Dim}[s.Name]
			gf := "–"
			if row.Flops > 0 && row.Goebm.SecPerStep > 0 {
				gf = fmt.Sprintf("%.3g", row.Flops/row.Goebm.SecPerStep/1e9)
			}
			g := FormatSeconds(row.Goebm.SecPerStep) + mark
			gm := fmt.Sprintf("%.0f", kibToMiB(row.Goebm.MaxRSSKiB))
			if !peer {
				fmt.Fprintf(w, "| %s | %d | %s | %s | %s |\n", row.Method, v, g, gm, gf)
				continue
			}
			p, ratio, pm := "–", "–", "–"
			if b := row.BestPeer(); b != nil {
				p = fmt.Sprintf("%s (%d)%s", FormatSeconds(b.SecPerStep), b.Threads, mark)
				ratio = fmt.Sprintf("**%.3g×**%s", b.SecPerStep/row.Goebm.SecPerStep, mark)
				pm = fmt.Sprintf("%.0f", kibToMiB(b.MaxRSSKiB))
			}
			fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s |\n", row.Method, v, g, p, ratio, gm, pm, gf)
		}
		fmt.Fprintln(w)
	}
	m := r.Machine
	fmt.Fprintf(w, "Seconds per step: median over the %d steps after the first %d of each point's run; peak memory: the process's high-water mark (getrusage ru_maxrss of the finished child: goebm's `ebm bench --child`, the peer's python3, start-up and data included). Machine: %s, nproc %d (GOMAXPROCS %d), %s, %s, %.0f s. Load: %s.\n",
		r.Steps-Warmup, Warmup, m.Model, m.CPUs, m.GOMAXPROCS, m.Go, r.Date, r.WallSeconds, r.Conditions.Summary())
	if mark != "" {
		fmt.Fprintf(w, "\n† Measured on a busy machine (--allow-busy): %s. Do not quote these figures.\n", strings.Join(r.Conditions.Busy, "; "))
	}
	return nil
}

func joinInts(v []int, sep string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, sep)
}

var sweepNames = map[string]string{"batch": "batch", "width": "hidden width w", "dim": "dimension d"}

// fixedSizes names the sizes that stay fixed in a sweep: "width 64, d = 2".
func fixedSizes(sweep string) string {
	var s []string
	if sweep != "batch" {
		s = append(s, fmt.Sprintf("batch %d", scaleBatch))
	}
	if sweep != "width" {
		s = append(s, fmt.Sprintf("width %d", scaleWidth))
	}
	if sweep != "dim" {
		s = append(s, fmt.Sprintf("d = %d", scaleDim))
	}
	return strings.Join(s, ", ")
}

var methodColor = map[string]color.RGBA{"sm": {31, 119, 180, 255}, "dsm": {214, 39, 40, 255}, "ssm": {44, 160, 44, 255}}

// plot draws one sweep log–log: seconds per step ("time") or peak MiB ("memory") against
// the growing size, goebm solid and the faster peer dashed, a colour per method.
func (r *ScalingResult) plot(s *ScaleSweep, what, mark string) (*plot.Plot, error) {
	p := plot.New()
	unit := map[string]string{"time": "seconds per step", "memory": "peak resident memory (MiB)"}[what]
	p.Title.Text = fmt.Sprintf("MLP d→w→w→1, %s: %s as the %s grows%s", fixedSizes(s.Name), unit, sweepNames[s.Name], map[bool]string{true: " († busy machine)", false: ""}[mark != ""])
	p.X.Label.Text = sweepNames[s.Name]
	p.Y.Label.Text = unit
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	var ticks plot.ConstantTicks
	for _, v := range s.Values {
		ticks = append(ticks, plot.Tick{Value: float64(v), Label: strconv.Itoa(v)})
	}
	p.X.Tick.Marker = ticks
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top, p.Legend.Left = true, true
	value := func(m *ScaleMeasure) float64 {
		if m == nil {
			return math.NaN()
		}
		if what == "time" {
			return m.SecPerStep
		}
		return kibToMiB(m.MaxRSSKiB)
	}
	drawn := 0
	for _, method := range ScaleMethods {
		var g, t plotter.XYs
		for _, row := range s.Rows {
			if row.Method != method {
				continue
			}
			x := float64(map[string]int{"batch": row.Batch, "width": row.Width, "dim": row.Dim}[s.Name])
			if y := value(&row.Goebm); y > 0 && !math.IsInf(y, 0) {
				g = append(g, plotter.XY{X: x, Y: y})
			}
			if y := value(row.BestPeer()); y > 0 && !math.IsInf(y, 0) {
				t = append(t, plotter.XY{X: x, Y: y})
			}
		}
		for k, pts := range []plotter.XYs{g, t} {
			if len(pts) == 0 {
				continue
			}
			l, sc, err := plotter.NewLinePoints(pts)
			if err != nil {
				return nil, fmt.Errorf("bench: plot: %w", err)
			}
			l.LineStyle.Color, sc.GlyphStyle.Color = methodColor[method], methodColor[method]
			name := "goebm " + method
			if k == 1 {
				l.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				sc.GlyphStyle.Shape = draw.BoxGlyph{}
				name = "torch " + method
			}
			p.Add(l, sc)
			p.Legend.Add(name, l, sc)
			drawn++
		}
	}
	if drawn == 0 {
		return nil, fmt.Errorf("bench: plot of the %s sweep: no positive figures to draw", s.Name)
	}
	return p, nil
}
