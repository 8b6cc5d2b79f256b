package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/goebm/goebm/eval"
	"github.com/goebm/goebm/run"
	"github.com/goebm/goebm/study"
)

// runEval evaluates a finished run folder and prints the metrics as JSON:
//
//	ebm eval RUN_DIR [--data FILE] [--metric nll,ksd,...] [--eval FILE.toml] [--set eval.key=value ...]
//
// The [eval] table (quadrature grid, AIS, sampler, target, reference parameters) comes from
// --eval (any run or study file with an [eval] table), else the defaults; --set overrides its
// keys.
func runEval(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	data := fs.String("data", "", "evaluation data CSV (default: [eval] data, else the run's test, valid or training data)")
	metric := fs.String("metric", "", "comma-separated metrics: "+strings.Join(eval.Metrics, ", ")+" (default: those that apply to the energy)")
	evalFile := fs.String("eval", "", "TOML file whose [eval] table sets the evaluation (a run or study file)")
	var sets setFlags
	fs.Var(&sets, "set", "override an [eval] key: --set eval.ais.chains=200 (repeatable)")
	pos, err := parseArgs(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one RUN_DIR (usage: ebm eval RUN_DIR [--data FILE] [--metric a,b,...] [--eval FILE.toml] [--set eval.key=value ...])")
	}
	var src *run.Source
	if *evalFile != "" {
		src, err = run.Load(*evalFile, sets)
	} else {
		src, err = run.Parse("(command line)", nil, sets)
	}
	if err != nil {
		return usageError{err}
	}
	reg := registry()
	sr, err := study.OpenRun(pos[0], reg)
	if err != nil {
		return err
	}
	defer sr.Close()
	var metrics []string
	if *metric != "" {
		metrics = strings.Split(*metric, ",")
		if err := eval.CheckMetrics(metrics); err != nil {
			return usageError{err}
		}
	} else {
		metrics = defaultMetrics(sr)
	}
	rep, err := sr.Evaluate(context.Background(), study.EvalRequest{Source: src, Metrics: metrics, Data: *data}, reg)
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
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(b))
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
