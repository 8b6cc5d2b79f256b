package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	force bool
	quiet bool
	json  bool
	sets  []string
}

func newSampleCmd() *cobra.Command {
	var o sampleOptions
	c := &cobra.Command{
		Use:   "sample (RUN_DIR | CONFIG.toml) [flags]",
		Short: "draw samples from a model; writes samples and diagnostics",
		Long: `Sample draws from a finished run folder at its trained parameters, or from the energy of a
run file at its [energy] params (else its initial parameters). The sampler is the run's
[sampler] table when it has one, else the one that fits the energy: MALA for continuous
energies, Gibbs for binary and spin ones (block Gibbs where the energy offers it), with 8
chains started from the domain's default (normal, or uniform bits/spins), 500 warm-up steps
and every 50th state kept; --set sampler.KEY=VALUE changes any of them (ebm list samplers).

It writes the samples, each with its energy, as CSV, and the diagnostics (acceptance, ESS and
split R̂ per coordinate, energy trace) as JSON beside them: RUN_DIR/samples.csv and
RUN_DIR/samples.json by default (for a run file, in the folder ebm train would use), or
--out FILE.csv and FILE.json. An existing file is never replaced without --force, and the
files of a run (config.toml, params.json, ...) never are. It then prints a summary, and what
to change when the diagnostics say the chains have not mixed.`,
		Example: `  ebm sample runs/gauss20 --n 1000
  ebm sample runs/ising10 --n 5000 --set sampler.thin=20 --out runs/ising10-samples.csv
  ebm sample examples/ring8-sample.toml --n 4000 --out runs/ring8-samples.csv`,
		RunE: func(c *cobra.Command, args []string) error {
			return runSample(c, args, &o)
		},
	}
	fs := c.Flags()
	fs.IntVarP(&o.n, "n", "n", 1000, "`N` samples to write (rows of the CSV), spread over the chains")
	fs.StringVar(&o.out, "out", "", "samples CSV `FILE` (default RUN_DIR/samples.csv); the diagnostics go beside it as FILE.json")
	fs.BoolVar(&o.force, "force", false, "replace the samples and diagnostics files if they exist")
	quietFlag(fs, &o.quiet)
	jsonFlag(fs, &o.json)
	setFlag(fs, &o.sets, "override a key of the run file with `key=value`, e.g. sampler.chains=64 (repeatable)")
	return c
}

func runSample(c *cobra.Command, pos []string, o *sampleOptions) error {
	stdout, stderr := c.OutOrStdout(), c.ErrOrStderr()
	if len(pos) != 1 {
		return usagef("want one RUN_DIR or CONFIG.toml (see 'ebm sample --help')")
	}
	if o.n < 1 {
		return usagef("--n must be ≥ 1, got %d", o.n)
	}
	reg := registry()
	file, runFolder, params := pos[0], "", ""
	if st, err := os.Stat(file); err == nil && st.IsDir() {
		// A run folder: its resolved config, and its trained parameters unless --set says otherwise.
		runFolder = file
		if !run.Finished(runFolder) {
			return usagef("%s holds no finished run (no %s): sample a folder that ebm train finished, or continue it with ebm train --resume %s", runFolder, run.SummaryFile, runFolder)
		}
		file = filepath.Join(runFolder, run.ConfigFile)
		if !hasSet(o.sets, "energy.params") {
			params = filepath.Join(runFolder, run.ParamsFile)
		}
	}
	cfg, err := loadConfig(file, o.sets, reg)
	if err != nil {
		return err
	}
	cfg.UseSampler(reg)
	folder := runFolder
	if folder == "" {
		name := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
		if folder, err = cfg.OutputDir("", name); err != nil {
			return usageError{err}
		}
	}
	out, err := run.SampleOutputs(folder, o.out, o.force)
	if err != nil {
		return usageError{err}
	}
	if cfg.Energy.Params == "" && params == "" {
		fmt.Fprintf(stderr, "note: no [energy] params: sampling the energy at its initial parameters (its initialiser or preset)\n")
	}
	built, err := run.Build(cfg, reg)
	if err != nil {
		return err
	}
	defer built.Close()
	if params != "" {
		if err := built.ReadParams(params); err != nil {
			return err
		}
	}
	opts := *cfg.Sampler.Shared.(*samplers.DrawOptions)
	draws := (o.n + opts.Chains - 1) / opts.Chains
	opts.Steps = draws * opts.Thin
	prog := newProgress(stderr, o.quiet, "steps")
	target := samplers.Target{Eval: built.Run.Eval, Theta: built.Run.Theta[:built.Spec.NumParams()],
		Streams: built.Streams, Data: built.Train.X,
		Progress: func(done, total int) { prog.update(done, total, "") }}
	ctx, stop := interruptible(stderr)
	defer stop()
	res, err := samplers.Draw(ctx, target, cfg.Sampler.Method, built.Run.Sampler, opts)
	prog.done()
	if err != nil {
		if ctx.Err() != nil {
			return interrupted{err}
		}
		return err
	}
	res = res.Head(o.n)
	if err := out.Prepare(); err != nil {
		return err
	}
	var b bytes.Buffer
	if err := res.WriteCSV(&b, built.Train.Header); err != nil {
		return err
	}
	if err := framework.WriteFileAtomic(out.CSV, b.Bytes()); err != nil {
		return err
	}
	if err := framework.WriteJSONAtomic(out.JSON, res.Diagnostics); err != nil {
		return err
	}
	advice := res.Diagnostics.Advice(built.Train.Header)
	if o.json {
		return writeJSON(stdout, struct {
			Samples     string               `json:"samples"`
			Rows        int                  `json:"rows"`
			Diagnostics string               `json:"diagnostics_file"`
			Advice      []string             `json:"advice"`
			Summary     samplers.Diagnostics `json:"diagnostics"`
		}{out.CSV, res.Samples.RawMatrix().Rows, out.JSON, advice, res.Diagnostics})
	}
	printDiagnostics(stdout, out, &res.Diagnostics, res.Samples.RawMatrix().Rows, cfg.Sampler.Chosen)
	for _, a := range advice {
		fmt.Fprintf(stdout, "warning      %s\n", a)
	}
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

func printDiagnostics(w io.Writer, out *run.SampleFiles, d *samplers.Diagnostics, n int, chosen bool) {
	fmt.Fprintf(w, "samples      %s (%d rows), diagnostics %s\n", out.CSV, n, out.JSON)
	how := ""
	if chosen {
		how = " (chosen for the energy; [sampler] method = NAME chooses another)"
	}
	fmt.Fprintf(w, "sampler      %s on %s%s: %d chains, %d warm-up + %d steps (thin %d), %.3g chain-steps/s\n",
		d.Method, d.Energy, how, d.Chains, d.Warmup, d.Steps, d.Thin, d.ChainStepsPerSecond)
	if d.StepSize > 0 {
		adapted := " (after warm-up)"
		if d.Warmup == 0 {
			adapted = " (fixed: no warm-up)"
		}
		fmt.Fprintf(w, "step size    %.4g%s\n", d.StepSize, adapted)
	}
	fmt.Fprintf(w, "acceptance   %s (warm-up %s)\n", fmtNum(d.Acceptance, "%.3f"), fmtNum(d.WarmupAccept, "%.3f"))
	fmt.Fprintf(w, "min ESS      %s    max split R̂ %s\n", fmtNum(d.MinESS, "%.1f"), fmtNum(d.MaxRHat, "%.3f"))
	k := min(len(d.Mean), 6)
	parts := make([]string, k)
	for j := 0; j < k; j++ {
		parts[j] = fmt.Sprintf("%.4g", d.Mean[j])
		if d.MCSE[j] == d.MCSE[j] {
			parts[j] += fmt.Sprintf("±%.2g", d.MCSE[j])
		}
	}
	more := ""
	if len(d.Mean) > k {
		more = fmt.Sprintf(" … (%d coordinates)", len(d.Mean))
	}
	fmt.Fprintf(w, "mean±MCSE    %s%s\n", strings.Join(parts, " "), more)
}

// fmtNum formats v, or says that it is undefined (NaN: no warm-up, too few draws).
func fmtNum(v float64, format string) string {
	if v != v {
		return "undefined"
	}
	return fmt.Sprintf(format, v)
}
