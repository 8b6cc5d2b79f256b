package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/goebm/goebm/eval"
	"github.com/goebm/goebm/run"
	"github.com/goebm/goebm/study"
)

// evalOptions are the flags of ebm eval.
type evalOptions struct {
	html, json             bool
	data, metric, evalFile string
	sets                   []string
}

func newEvalCmd() *cobra.Command {
	var o evalOptions
	c := &cobra.Command{
		Use:   "eval RUN_DIR [flags]",
		Short: "evaluate a finished run (NLL, KSD, MMD, parameter error, ...); prints JSON",
		Long: `Eval computes metrics of a finished run folder: NLL (by enumeration, quadrature or AIS),
parameter error against a reference, Fisher divergence to a target, KSD, MMD, the held-out
score-matching loss and the pseudo-likelihood. The [eval] table (quadrature grid, AIS, sampler,
target, reference parameters) comes from --eval (any run or study file with an [eval] table),
else the defaults; --set overrides its keys. It prints the metrics as JSON.`,
		Example: `  ebm eval runs/gauss20 --metric sm_loss,ksd
  ebm eval runs/ising10 --eval examples/studies/ising10-base.toml
  ebm eval runs/ring8 --html`,
		RunE: func(c *cobra.Command, args []string) error {
			return runEval(c, args, &o)
		},
	}
	fs := c.Flags()
	fs.StringVar(&o.data, "data", "", "evaluation data `FILE` (default: [eval] data, else the run's test, valid or training data)")
	fs.StringVar(&o.metric, "metric", "", "comma-separated `METRICS`: "+strings.Join(eval.Metrics, ", ")+" (default: those that apply to the energy)")
	fs.StringVar(&o.evalFile, "eval", "", "TOML `FILE` whose [eval] table sets the evaluation (a run or study file)")
	fs.BoolVar(&o.json, "json", false, "print the metrics as JSON (what eval prints in any case; accepted like every command's --json)")
	fs.BoolVar(&o.html, "html", false, "also write RUN_DIR/report.html: the metrics, the learning curve, the learned density of a 2-D model, config.toml and provenance, in one self-contained page (figures also in RUN_DIR/plots as SVG, PDF and PNG)")
	setFlag(fs, &o.sets, "override an [eval] key with `key=value`, e.g. eval.ais.chains=200 (repeatable)")
	return c
}

// runEval evaluates a finished run folder and prints the metrics as JSON.
func runEval(c *cobra.Command, pos []string, o *evalOptions) error {
	stdout := c.OutOrStdout()
	var err error
	if len(pos) != 1 {
		return usagef("want one RUN_DIR (usage: ebm eval RUN_DIR [--data FILE] [--metric a,b,...] [--eval FILE.toml] [--set eval.key=value ...])")
	}
	var src *run.Source
	if o.evalFile != "" {
		src, err = run.Load(o.evalFile, o.sets)
	} else {
		src, err = run.Parse("(command line)", nil, o.sets)
	}
	if err != nil {
		return usageError{err}
	}
	if !run.Finished(pos[0]) {
		return usagef("%s holds no finished run (no %s): give a folder that ebm train finished", pos[0], run.SummaryFile)
	}
	reg := registry()
	sr, err := study.OpenRun(pos[0], reg)
	if err != nil {
		return err
	}
	defer sr.Close()
	var metrics []string
	if o.metric != "" {
		metrics = strings.Split(o.metric, ",")
		if err := eval.CheckMetrics(metrics); err != nil {
			return usageError{err}
		}
	} else {
		metrics = defaultMetrics(sr)
	}
	rep, err := sr.Evaluate(context.Background(), study.EvalRequest{Source: src, Metrics: metrics, Data: o.data}, reg)
	if err != nil {
		var ce *run.Error
		if errors.As(err, &ce) {
			return usageError{err}
		}
		return err
	}
	out := struct {
		Run    string `json:"run"`
		Energy string `json:"energy"`
		Seed   uint64 `json:"seed"`
		*eval.Report
	}{pos[0], sr.Built.Spec.Name, sr.Config.Seed, rep}
	if err := writeJSON(stdout, out); err != nil {
		return err
	}
	if o.html {
		path, err := sr.WriteReport(rep, src)
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		fmt.Fprintf(c.ErrOrStderr(), "wrote %s\n", path)
	}
	if len(rep.Errors) > 0 && len(rep.Values) == 0 {
		return fmt.Errorf("no metric could be computed (see errors above)")
	}
	return nil
}

// defaultMetrics are the metrics that apply to the run's energy without further settings.
func defaultMetrics(r *study.Run) []string {
	spec := r.Built.Spec
	if spec.Domain.Discrete() {
		return []string{"nll", "pseudo_nll"}
	}
	if spec.Dim <= 2 {
		return []string{"nll", "sm_loss", "ksd"}
	}
	return []string{"sm_loss", "ksd"}
}
