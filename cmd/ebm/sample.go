package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/run"
	"github.com/goebm/goebm/samplers"
)

// sampleOptions are the flags of ebm sample.
type sampleOptions struct {
	n     int
	out   string
	quiet bool
	json  bool
	sets  []string
}

func newSampleCmd() *cobra.Command {
	var o sampleOptions
	c := &cobra.Command{
		Use:   "sample (CONFIG.toml | RUN_DIR) [flags]",
		Short: "draw samples from a model; writes samples and diagnostics",
		Long: `Sample draws from the energy of a run file, at its [energy] params or initial parameters,
or from a finished run folder at its trained parameters, with the [sampler]. It writes the
samples (with their energies) as CSV and the diagnostics (acceptance, ESS and split R̂ per
coordinate, energy trace) as JSON beside them, and prints a summary.`,
		Example: `  ebm sample examples/ring8-sample.toml --n 4000 --out runs/ring8-samples.csv`,
		RunE: func(c *cobra.Command, args []string) error {
			return runSample(c, args, &o)
		},
	}
	fs := c.Flags()
	fs.IntVar(&o.n, "n", 1000, "`N` samples to write (rows of the CSV), spread over the chains")
	fs.StringVar(&o.out, "out", "samples.csv", "samples CSV `FILE`; the diagnostics go beside it as <name>.json")
	quietFlag(fs, &o.quiet)
	jsonFlag(fs, &o.json)
	setFlag(fs, &o.sets, "override a key of the run file with `key=value`, e.g. sampler.chains=64 (repeatable)")
	return c
}

func runSample(c *cobra.Command, pos []string, o *sampleOptions) error {
	stdout, stderr := c.OutOrStdout(), c.ErrOrStderr()
	sets := o.sets
	if len(pos) != 1 {
		return usagef("want one CONFIG.toml or RUN_DIR (usage: ebm sample CONFIG.toml|RUN_DIR --n N --out samples.csv [--set key=value ...])")
	}
	if o.n < 1 {
		return usagef("--n must be ≥ 1, got %d", o.n)
	}
	diagPath := strings.TrimSuffix(o.out, filepath.Ext(o.out)) + ".json"
	if err := run.CheckOutputs(map[string]string{"samples": o.out, "diagnostics": diagPath}); err != nil {
		return usageError{err}
	}
	reg := registry()
	file, params := pos[0], ""
	if st, err := os.Stat(file); err == nil && st.IsDir() {
		// A run folder: its resolved config, and its trained parameters unless --set says otherwise.
		file = filepath.Join(pos[0], run.ConfigFile)
		params = filepath.Join(pos[0], run.ParamsFile)
		if _, err := os.Stat(params); err != nil {
			return usagef("%s has no %s: is the run finished? (ebm train --resume %s)", pos[0], run.ParamsFile, pos[0])
		}
		if !hasSet(sets, "energy.params") {
			sets = append([]string{"energy.params=" + params}, sets...)
		}
	}
	cfg, err := loadConfig(file, sets, reg)
	if err != nil {
		return err
	}
	if cfg.Sampler == nil {
		return usageError{cfg.Source.Locate(&run.Error{Key: "sampler", Msg: "missing: add a [sampler] table with method = one of " +
			strings.Join(framework.Names(reg.Samplers), ", ") + " (or --set sampler.method=NAME)"})}
	}
	if cfg.Energy.Params == "" {
		fmt.Fprintf(stderr, "note: no [energy] params: sampling the energy at its initial parameters (its initialiser or preset)\n")
	}
	built, err := run.Build(cfg, reg)
	if err != nil {
		return err
	}
	defer built.Close()
	opts := *cfg.Sampler.Shared.(*samplers.DrawOptions)
	draws := (o.n + opts.Chains - 1) / opts.Chains
	opts.Steps = draws * opts.Thin
	prog := newProgress(stderr, o.quiet)
	target := samplers.Target{Eval: built.Run.Eval, Theta: built.Run.Theta[:built.Spec.NumParams()],
		Streams: built.Streams, Data: built.Train.X,
		Progress: func(done, total int) { prog.step(done, total, 0) }}
	ctx, stop := interruptible(stderr)
	defer stop()
	res, err := samplers.Draw(ctx, target, cfg.Sampler.Method, built.Run.Sampler, opts)
	prog.done()
	if err != nil {
		return err
	}
	if err := writeSamplesCSV(o.out, built.Train.Header, res, o.n); err != nil {
		return err
	}
	if err := framework.WriteJSONAtomic(diagPath, res.Diagnostics); err != nil {
		return err
	}
	if o.json {
		return writeJSON(stdout, struct {
			Samples     string               `json:"samples"`
			Rows        int                  `json:"rows"`
			Diagnostics string               `json:"diagnostics_file"`
			Summary     samplers.Diagnostics `json:"diagnostics"`
		}{o.out, o.n, diagPath, res.Diagnostics})
	}
	printDiagnostics(stdout, o.out, diagPath, &res.Diagnostics, o.n)
	return nil
}

func hasSet(sets []string, key string) bool {
	for _, s := range sets {
		if k, _, _ := strings.Cut(s, "="); strings.TrimSpace(k) == key {
			return true
		}
	}
	return false
}

// writeSamplesCSV writes the first n samples, with the data's header and an energy column.
func writeSamplesCSV(path string, header []string, d *samplers.Draws, n int) error {
	var b bytes.Buffer
	b.WriteString(strings.Join(header, ","))
	b.WriteString(",energy\n")
	rows, cols := d.Samples.Dims()
	for i := 0; i < min(n, rows); i++ {
		row := d.Samples.RawRowView(i)
		for j := 0; j < cols; j++ {
			b.WriteString(strconv.FormatFloat(row[j], 'g', -1, 64))
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatFloat(d.Energy[i], 'g', -1, 64))
		b.WriteByte('\n')
	}
	return framework.WriteFileAtomic(path, b.Bytes())
}

func printDiagnostics(w io.Writer, out, diagPath string, d *samplers.Diagnostics, n int) {
	fmt.Fprintf(w, "samples      %s (%d rows), diagnostics %s\n", out, n, diagPath)
	fmt.Fprintf(w, "sampler      %s on %s: %d chains, %d warm-up + %d steps (thin %d), %.3g chain-steps/s\n",
		d.Method, d.Energy, d.Chains, d.Warmup, d.Steps, d.Thin, d.ChainStepsPerSecond)
	if d.StepSize > 0 {
		fmt.Fprintf(w, "step size    %.4g (after warm-up)\n", d.StepSize)
	}
	fmt.Fprintf(w, "acceptance   %.3f (warm-up %.3f)\n", d.Acceptance, d.WarmupAccept)
	fmt.Fprintf(w, "min ESS      %.1f    max split R̂ %.3f", d.MinESS, d.MaxRHat)
	if d.MaxRHat > 1.01 {
		fmt.Fprintf(w, "   (> 1.01: the chains have not mixed; run longer or warm up more)")
	}
	fmt.Fprintln(w)
	k := min(len(d.Mean), 6)
	parts := make([]string, k)
	for j := 0; j < k; j++ {
		parts[j] = fmt.Sprintf("%.4g±%.2g", d.Mean[j], d.MCSE[j])
	}
	more := ""
	if len(d.Mean) > k {
		more = fmt.Sprintf(" … (%d coordinates)", len(d.Mean))
	}
	fmt.Fprintf(w, "mean±MCSE    %s%s\n", strings.Join(parts, " "), more)
}
