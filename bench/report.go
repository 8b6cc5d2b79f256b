package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strings"
)

// WriteTable prints the result as a Markdown table, one row per workload: goebm's time per
// unit (median over the rounds, range in brackets), the peer's, the speed-up peer/goebm
// (median of the rounds' ratios and their range) and each side's accuracy figure; then the
// MLP request and the machine.
func (r *Result) WriteTable(w io.Writer) {
	peers := false
	for _, wr := range r.Workloads {
		peers = peers || wr.PeerTime != nil
	}
	if peers {
		fmt.Fprintln(w, "| workload | unit | goebm | peer | speed-up | accuracy figure | goebm | peer |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	} else {
		fmt.Fprintln(w, "| workload | unit | goebm | accuracy figure | goebm |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
	}
	for _, wr := range r.Workloads {
		g := timeCell(wr.GoebmTime, wr.ChainsPerUnit)
		ga := statCell(wr.GoebmAccuracy, "%.4g")
		if !peers {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", wr.Name, wr.Unit, g, wr.Accuracy, ga)
			continue
		}
		p, ratio, pa := "–", "–", "–"
		if wr.PeerTime != nil {
			p = timeCell(*wr.PeerTime, wr.ChainsPerUnit)
			ratio = statCell(*wr.Ratio, "%.3g×")
			pa = statCell(*wr.PeerAccuracy, "%.4g")
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | **%s** | %s | %s | %s |\n", wr.Name, wr.Unit, g, p, ratio, wr.Accuracy, ga, pa)
	}
	fmt.Fprintln(w)
	if q := r.Request; q != nil {
		fmt.Fprintf(w, "MLP request (%s) at batch %d: %s per request, %.3g GFLOP/s of matrix products = %.2f of the machine's dgemm rate %.3g GFLOP/s (energy.Gemm on %d cores at once: %.3g at 256×64×64, %.3g at 1024³; gonum Dgemm 1024³: %.3g).\n\n",
			q.Outputs, q.Batch, FormatSeconds(q.Seconds), q.GFlops, q.Fraction, q.DgemmRate, r.Machine.GOMAXPROCS, q.KernelRate, q.Kernel1024, q.GonumRate)
	}
	m := r.Machine
	fmt.Fprintf(w, "Machine: %s, nproc %d (GOMAXPROCS %d), %s %s, gemm kernel: %s. Load average before %s, after %s. %d rounds%s, %s, %.0f s.\n",
		m.Model, m.CPUs, m.GOMAXPROCS, m.Go, m.OS, m.Kernel, strings.Join(m.LoadBefore, " "), strings.Join(m.LoadAfter, " "),
		r.Repeats, map[bool]string{true: " (round r with seed s + r on both sides)", false: ""}[r.VarySeed], r.Date, r.WallSeconds)
	for _, c := range r.PeerCommands {
		fmt.Fprintf(w, "Peer: `%s`\n", c)
	}
}

func timeCell(s Stats, chains float64) string {
	c := FormatSeconds(s.Median)
	if s.Min != s.Max {
		c += fmt.Sprintf(" (%s–%s)", FormatSeconds(s.Min), FormatSeconds(s.Max))
	}
	if chains > 0 && s.Median > 0 {
		c += fmt.Sprintf(", %.3g M chain-steps/s", chains/s.Median/1e6)
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
	b, err := json.MarshalIndent(jsonSafe(r), "", "  ")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// jsonSafe returns v as maps, slices and scalars with every NaN and ±Inf made nil (JSON has
// no such numbers), following the json tags of its structs.
func jsonSafe(v any) any { return safeValue(reflect.ValueOf(v)) }

func safeValue(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Invalid:
		return nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return safeValue(v.Elem())
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return f
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = safeValue(v.Index(i))
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		for _, k := range v.MapKeys() {
			out[fmt.Sprint(k.Interface())] = safeValue(v.MapIndex(k))
		}
		return out
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			if strings.Contains(opts, "omitempty") && fv.IsZero() {
				continue
			}
			out[name] = safeValue(fv)
		}
		return out
	}
	return v.Interface()
}
