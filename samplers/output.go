package samplers

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// WriteCSV writes the kept states as CSV: a header row (names, or x1..xd when names is nil)
// and one row per state in the order of Samples, each value in the shortest form that
// parses back to the same float64. framework.ReadCSV reads the file back.
func (dr *Draws) WriteCSV(w io.Writer, names []string) error {
	n, d := dr.Samples.Dims()
	if names == nil {
		for j := 0; j < d; j++ {
			names = append(names, "x"+strconv.Itoa(j+1))
		}
	}
	if len(names) != d {
		return fmt.Errorf("samples: %d column names for %d columns", len(names), d)
	}
	bw := bufio.NewWriter(w)
	bw.WriteString(strings.Join(names, ","))
	bw.WriteByte('\n')
	var buf []byte
	for i := 0; i < n; i++ {
		for j, v := range dr.Samples.RawRowView(i) {
			if j > 0 {
				bw.WriteByte(',')
			}
			buf = strconv.AppendFloat(buf[:0], v, 'g', -1, 64)
			bw.Write(buf)
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
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
