package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/run"
	"github.com/goebm/goebm/samplers"
)

func runSample(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sample", flag.ContinueOnError)
	n := fs.Int("n", 1000, "number of samples to write (rows of the CSV), spread over the chains")
	out := fs.String("out", "samples.csv", "samples CSV; the diagnostics go beside it as <name>.json")
	quiet := fs.Bool("quiet", false, "no progress display")
	var sets setFlags
	fs.Var(&sets, "set", "override a key of the run file, e.g. --set sampler.chains=64 (repeatable)")
	pos, err := parseArgs(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one CONFIG.toml or RUN_DIR (usage: ebm sample CONFIG.toml|RUN_DIR --n N --out samples.csv [--set key=value ...])")
	}
	if *n < 1 {
		return usagef("--n must be ≥ 1, got %d", *n)
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
	draws := (*n + opts.Chains - 1) / opts.Chains
	opts.Steps = draws * opts.Thin
	prog := newProgress(stderr, *quiet)
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
	if err := writeSamplesCSV(*out, built.Train.Header, res, *n); err != nil {
		return err
	}
	diagPath := strings.TrimSuffix(*out, filepath.Ext(*out)) + ".json"
	if err := framework.WriteJSONAtomic(diagPath, res.Diagnostics); err != nil {
		return err
	}
	printDiagnostics(stdout, *out, diagPath, &res.Diagnostics, *n)
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
