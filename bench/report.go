package bench

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/goebm/goebm/framework"
)

// WriteTable prints the result as a Markdown table, one row per workload: goebm's time per
// unit (median over the rounds, range in brackets), the peer's, the speed-up peer/goebm
// (median of the rounds' ratios and their range) and each side's accuracy figure; with
// end-to-end runs a second table of both ways of timing; then the MLP request, the machine
// and the load on it.
//
// When the machine was busy (Conditions.Busy) a table with ratios is refused, with an error
// wrapping ErrBusy, unless allowBusy: then every time and ratio is marked † and a footnote
// gives the load. Load slows the single-threaded peers more than goebm, so ratios from a busy
// machine flatter goebm.
func (r *Result) WriteTable(w io.Writer, allowBusy bool) error {
	peers := false
	for _, wr := range r.Workloads {
		peers = peers || wr.PeerTime != nil
	}
	mark, err := checkBusy(r.Conditions, peers, allowBusy)
	if err != nil {
		return err
	}
	busy := mark != ""
	if peers {
		fmt.Fprintln(w, "| workload | unit | goebm | peer | speed-up | accuracy figure | goebm | peer |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	} else {
		fmt.Fprintln(w, "| workload | unit | goebm | accuracy figure | goebm |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
	}
	for _, wr := range r.Workloads {
		g := timeCell(wr.GoebmTime, wr.ChainsPerUnit, wr.Flops) + mark
		ga := statCell(wr.GoebmAccuracy, "%.4g")
		if !peers {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", wr.Name, wr.Unit, g, wr.Accuracy, ga)
			continue
		}
		p, ratio, pa := "–", "–", "–"
		if wr.PeerTime != nil {
			p = timeCell(*wr.PeerTime, wr.ChainsPerUnit, 0) + mark // the count is goebm's algorithm's, not the peer's
			ratio = "**" + statCell(*wr.Ratio, "%.3g×") + "**" + mark
			pa = statCell(*wr.PeerAccuracy, "%.4g")
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", wr.Name, wr.Unit, g, p, ratio, wr.Accuracy, ga, pa)
	}
	fmt.Fprintln(w)
	r.writeE2E(w, mark)
	if q := r.Request; q != nil {
		fmt.Fprintf(w, "MLP request (%s) at batch %d: %s per request%s, %.3g GFLOP/s of matrix products = %.2f of the machine's dgemm rate %.3g GFLOP/s (energy.Gemm on %d cores at once: %.3g at 256×64×64, %.3g at 1024³; gonum Dgemm 1024³: %.3g).\n\n",
			q.Outputs, q.Batch, FormatSeconds(q.Seconds), mark, q.GFlops, q.Fraction, q.DgemmRate, r.Machine.GOMAXPROCS, q.KernelRate, q.Kernel1024, q.GonumRate)
	}
	for _, wr := range r.Workloads {
		if wr.Flops > 0 {
			fmt.Fprintf(w, "%s: %.3g MFLOP of matrix products per %s in goebm's algorithm (bench.ExactSMFlops); the rate in brackets is that count over goebm's median time.\n", wr.Name, wr.Flops/1e6, wr.Unit)
		}
	}
	m := r.Machine
	fmt.Fprintf(w, "Machine: %s, nproc %d (GOMAXPROCS %d), %s %s, gemm kernel: %s. %d round(s)%s, %s, %.0f s.\n",
		m.Model, m.CPUs, m.GOMAXPROCS, m.Go, m.OS, m.Kernel,
		r.Repeats, map[bool]string{true: " (round r with seed s + r on both sides)", false: ""}[r.VarySeed], r.Date, r.WallSeconds)
	fmt.Fprintf(w, "Load: %s.\n", r.Conditions.Summary())
	if busy {
		fmt.Fprintf(w, "\n† Measured on a busy machine (--allow-busy): %s. Do not quote these figures.\n\n", strings.Join(r.Conditions.Busy, "; "))
	}
	for _, c := range r.PeerCommands {
		fmt.Fprintf(w, "Peer: `%s`\n", c)
	}
	return nil
}

// writeE2E prints both ways of timing side by side, for the workloads timed end to end.
func (r *Result) writeE2E(w io.Writer, mark string) {
	has := false
	for _, wr := range r.Workloads {
		has = has || wr.E2ETime != nil
	}
	if !has {
		return
	}
	fmt.Fprintln(w, "Both ways of timing: the step inside one process (median over the steps after the warm-up) and the whole run (goebm: `ebm train`, wall_seconds of summary.json per unit; peer: its whole training loop per unit, warm-up included).")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| workload | unit | goebm step | goebm `ebm train` | peer step | peer whole loop | speed-up, step | speed-up, end to end |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, wr := range r.Workloads {
		if wr.E2ETime == nil {
			continue
		}
		cells := []string{timeCell(wr.GoebmTime, 0, 0) + mark, timeCell(*wr.E2ETime, 0, 0) + mark, "–", "–", "–", "–"}
		if wr.PeerTime != nil {
			cells[2] = timeCell(*wr.PeerTime, 0, 0) + mark
			cells[3] = timeCell(*wr.PeerLoop, 0, 0) + mark
			cells[4] = "**" + statCell(*wr.Ratio, "%.3g×") + "**" + mark
			cells[5] = "**" + statCell(*wr.E2ERatio, "%.3g×") + "**" + mark
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", wr.Name, wr.Unit, strings.Join(cells, " | "))
	}
	fmt.Fprintln(w)
}

func timeCell(s Stats, chains, flops float64) string {
	c := FormatSeconds(s.Median)
	if s.Min != s.Max {
		c += fmt.Sprintf(" (%s–%s)", FormatSeconds(s.Min), FormatSeconds(s.Max))
	}
	if chains > 0 && s.Median > 0 {
		c += fmt.Sprintf(", %.3g M chain-steps/s", chains/s.Median/1e6)
	}
	if flops > 0 && s.Median > 0 {
		c += fmt.Sprintf(" [%.3g GFLOP/s]", flops/s.Median/1e9)
	}
	return c
}

func statCell(s Stats, format string) string {
	if math.IsNaN(s.Median) {
		return "–"
	}
	c := fmt.Sprintf(format, s.Median)
	if s.Min != s.Max {
		c += " (" + fmt.Sprintf(format, s.Min) + "–" + fmt.Sprintf(format, s.Max) + ")"
	}
	return c
}

// WriteJSON writes the result, every run included, to path.
func (r *Result) WriteJSON(path string) error {
	b, err := framework.MarshalJSON(r, true)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return framework.WriteFileAtomic(path, append(b, '\n'))
}
