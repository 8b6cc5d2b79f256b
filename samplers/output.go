package samplers

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// WriteCSV writes the kept states as CSV (framework.WriteCSV): a header row (names, or x1..xd
// when names is nil, then "energy") and one row per state in the order of Samples, with E of
// the state in the last column. framework.ReadCSV reads the file back, bit for bit.
func (dr *Draws) WriteCSV(w io.Writer, names []string) error {
	_, d := dr.Samples.Dims()
	if names == nil {
		for j := 0; j < d; j++ {
			names = append(names, "x"+strconv.Itoa(j+1))
		}
	}
	if len(names) != d {
		return fmt.Errorf("samples: %d column names for %d columns", len(names), d)
	}
	return framework.WriteCSV(w, append(names[:d:d], "energy"), dr.Samples, dr.Energy)
}

// Head returns the first n kept states (all of them when n exceeds their number), sharing
// their storage. Rows are draw-major, so any prefix of whole draws holds every chain.
func (dr *Draws) Head(n int) *Draws {
	rows, d := dr.Samples.Dims()
	if n >= rows {
		return dr
	}
	h := *dr
	h.Samples = dr.Samples.Slice(0, n, 0, d).(*mat.Dense)
	h.Energy = dr.Energy[:n]
	return &h
}

// Summary returns a few lines for a person: what ran, acceptance, the worst ESS and R̂ over
// the coordinates, the energy's mean and mixing, and the speed.
func (d *Diagnostics) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s (d = %d): %d chains × %d draws (warm-up %d, thin %d)\n",
		d.Method, d.Energy, d.Dim, d.Chains, d.Draws, d.Warmup, d.Thin)
	fmt.Fprintf(&b, "acceptance %.3f", d.Acceptance)
	if d.StepSize > 0 {
		fmt.Fprintf(&b, ", step %.4g", d.StepSize)
	}
	b.WriteByte('\n')
	fmt.Fprintf(&b, "min ESS %s, max R̂ %s over %d coordinates", num(d.MinESS, "%.0f"), num(d.MaxRHat, "%.3f"), d.Dim)
	if d.MaxRHat > 1.01 {
		b.WriteString(" (R̂ > 1.01: the chains have not mixed; run longer)")
	}
	b.WriteByte('\n')
	if len(d.EnergyTrace) > 0 {
		fmt.Fprintf(&b, "energy: mean %.4g, ESS %s, R̂ %s\n", mean(d.EnergyTrace), num(d.EnergyESS, "%.0f"), num(d.EnergyRHat, "%.3f"))
	}
	fmt.Fprintf(&b, "%.3g chain-steps/s, %.2f s sampling, %.2f s warm-up\n", d.ChainStepsPerSecond, d.SampleSeconds, d.WarmupSeconds)
	return b.String()
}

func num(v float64, format string) string {
	if math.IsNaN(v) {
		return "undefined"
	}
	return fmt.Sprintf(format, v)
}

// Thresholds of Advice.
const (
	// MaxRHat is the split R̂ above which chains count as not mixed (Vehtari et al. 2021).
	MaxRHat = 1.01
	// MinESS is the effective sample size below which a mean is too uncertain to report
	// without a warning: its Monte Carlo error is sd/√ESS, a tenth of a standard deviation.
	MinESS = 100
)

// Advice returns what the diagnostics say is wrong with the draws, in words a user can act
// on, worst first: chains that have not mixed (split R̂ above MaxRHat on some coordinate or on
// the energy), too few independent draws (ESS below MinESS), an acceptance rate at which a
// Metropolis-adjusted sampler (mala, hmc) barely moves, too few draws per chain for the
// diagnostics. names are the coordinates' names (nil: x1, x2, ...). It is empty when nothing
// is wrong.
func (d *Diagnostics) Advice(names []string) []string {
	name := func(j int) string {
		if j < len(names) {
			return names[j]
		}
		return "x" + strconv.Itoa(j+1)
	}
	var out []string
	if d.Draws < 8 {
		out = append(out, fmt.Sprintf("only %d draws per chain: ESS and R̂ need at least 8; draw more samples or use fewer sampler.chains", d.Draws))
	}
	// worst returns the coordinate where bad(v) holds with the largest score(v), and the
	// number of coordinates where it holds.
	worst := func(vals []float64, bad func(float64) bool, score func(float64) float64) (int, int) {
		at, n := -1, 0
		for j, v := range vals {
			if !bad(v) {
				continue
			}
			n++
			if at < 0 || score(v) > score(vals[at]) {
				at = j
			}
		}
		return at, n
	}
	others := func(n int, what string) string {
		if n <= 1 {
			return ""
		}
		return fmt.Sprintf(" (and %d other coordinates %s)", n-1, what)
	}
	if j, n := worst(d.RHat, func(v float64) bool { return v > MaxRHat }, func(v float64) float64 { return v }); j >= 0 {
		out = append(out, fmt.Sprintf("R̂ %s on %s%s: the chains have not mixed (they disagree with each other or have not forgotten their start); raise sampler.warmup or sampler.thin",
			num(d.RHat[j], "%.3f"), name(j), others(n, fmt.Sprintf("above %.2f", MaxRHat))))
	} else if d.EnergyRHat > MaxRHat {
		out = append(out, fmt.Sprintf("R̂ %s on the energy: the chains have not mixed; raise sampler.warmup or sampler.thin", num(d.EnergyRHat, "%.3f")))
	}
	if j, n := worst(d.ESS, func(v float64) bool { return v < MinESS }, func(v float64) float64 { return -v }); j >= 0 {
		out = append(out, fmt.Sprintf("ESS %.0f on %s%s: the draws hold about %.0f independent ones, so the mean of %s is known to ±%.2g (sd/√ESS); raise sampler.thin or draw more samples",
			d.ESS[j], name(j), others(n, fmt.Sprintf("below %d", MinESS)), d.ESS[j], name(j), d.MCSE[j]))
	}
	if d.Method == "mala" || d.Method == "hmc" {
		switch {
		case d.Acceptance < 0.2:
			out = append(out, fmt.Sprintf("acceptance %.3f: most proposals are rejected, the step size (%.3g) is too large for this energy; lower sampler.step, or raise sampler.warmup so that it adapts", d.Acceptance, d.StepSize))
		case d.Acceptance > 0.98 && d.Warmup == 0:
			out = append(out, fmt.Sprintf("acceptance %.3f: the step size (%.3g) is small and the chains move slowly; raise sampler.step, or sampler.warmup so that it adapts", d.Acceptance, d.StepSize))
		}
	}
	return out
}
