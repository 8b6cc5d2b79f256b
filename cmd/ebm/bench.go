package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/goebm/goebm/bench"
	"github.com/goebm/goebm/framework"
)

const benchUsage = "ebm bench [--peers] [--e2e] [--repeats N] [--only w1,w2] [--json FILE] [--allow-busy] | ebm bench --scaling [--peers] [--out DIR] | ebm bench --e2e-config FILE[,FILE...] | ebm bench --study FILE [--study-workers 1,2]"

// benchOptions are the flags of ebm bench.
type benchOptions struct {
	peers, varySeed, noRequest, e2e, allowBusy, scaling, dryRun, child bool
	repeats, steps, workers, chunk                                     int
	only, jsonPath, data, peerDir, python                              string
	sweeps, methods, peerThreads, outDir, e2eConfig, study, studyWork  string
	sets                                                               []string
	seed                                                               uint64
	watch, settle                                                      time.Duration
}

// newBenchCmd returns ebm bench, which runs goebm's performance workloads (the settings and
// data of the PyTorch and scikit-learn peers, see docs/benchmarks.md) and, with --peers, the
// peer scripts in the same invocation, alternating the two sides and repeating them:
//
//	ebm bench [--peers] [--e2e] [--repeats N] [--only w1,w2] [--json FILE] [--data DIR]
//	          [--peer-dir DIR] [--python PATH] [--seed S] [--vary-seed] [--steps N]
//	          [--workers N] [--chunk N] [--no-request] [--allow-busy] [--watch DURATION]
//	ebm bench --scaling [--peers] [--sweeps batch,width,dim] [--methods sm,dsm,ssm]
//	          [--peer-threads 1,2] [--steps N] [--out DIR]
//	ebm bench --e2e-config FILE[,FILE...] [--set key=value ...] [--repeats N]
//	ebm bench --study FILE [--study-workers 1,2] [--repeats N]
//
// It watches the machine before the first run and after the last (and counts what other
// processes took during the runs), and refuses to print ratios measured on a busy machine
// unless --allow-busy (bench.BusyLoad, bench.BusyCPU). Tables go to stdout, a line per run to
// stderr.
func newBenchCmd() *cobra.Command {
	var o benchOptions
	c := &cobra.Command{
		Use:   "bench [flags]",
		Short: "time the peer workloads beside PyTorch and scikit-learn (--peers), end to end (--e2e), as sizes grow (--scaling); refuses ratios from a busy machine",
		Long: `Bench runs goebm's performance workloads (the settings and data of the PyTorch and
scikit-learn peers, see docs/benchmarks.md) and, with --peers, the peer scripts in the same
invocation, alternating the two sides and repeating them. It prints a Markdown table (time per
step, speed-up, accuracy of each side) to stdout and a line per run to stderr; --json FILE
writes every run's figures and the load on the machine.

It watches the machine before the first run and after the last, and counts what other
processes take during the runs. The machine is busy when the 1-minute load average before the
runs is at least 1, or other processes take at least 0.1 cores before, during or after them;
then a table with ratios is refused (exit status 1) unless --allow-busy, which marks every
figure with †.

--e2e also times each training workload through ebm train (steps/s of summary.json);
--e2e-config times any run files that way; --scaling measures seconds per step and peak memory
as the batch, width and dimension grow; --study measures a study's cells per hour against its
number of workers.`,
		Example: `  ebm bench --only gauss20 --repeats 1
  ebm bench --peers --e2e --repeats 3 --vary-seed --json runs/bench-peers.json
  ebm bench --scaling --peers --out docs
  ebm bench --e2e-config examples/ring8-sm.toml,examples/ring8-sm-plugin.toml --set train.steps=300
  ebm bench --study examples/studies/gauss20-small.toml --study-workers 1,2`,
		RunE: func(c *cobra.Command, args []string) error {
			return runBench(c, args, &o)
		},
	}
	fs := c.Flags()
	fs.BoolVar(&o.peers, "peers", false, "run the peer scripts too (needs python3-torch, python3-sklearn, python3-scipy)")
	fs.BoolVar(&o.e2e, "e2e", false, "also time every training workload end to end through `ebm train` (steps/s of summary.json) beside the in-process step")
	fs.IntVar(&o.repeats, "repeats", 3, "rounds; each round runs every workload on both sides, alternating which goes first")
	fs.StringVar(&o.only, "only", "", "comma-separated workloads or groups (gauss20, ring8, digits, langevin; e.g. ring8/dsm)")
	fs.StringVar(&o.jsonPath, "json", "", "write every run's figures and the load on the machine to this JSON file")
	fs.StringVar(&o.data, "data", "", "data folder (default: examples/data in the working directory or a parent)")
	fs.StringVar(&o.peerDir, "peer-dir", "", "folder of the peer scripts (default: $EBM_PEERS_DIR, else bench/peers of the checkout around the working directory, else the copies built into ebm)")
	fs.StringVar(&o.python, "python", "/usr/bin/python3", "Python interpreter of the peers")
	fs.Uint64Var(&o.seed, "seed", 0, "seed of both sides")
	fs.BoolVar(&o.varySeed, "vary-seed", false, "round r uses seed+r on both sides, so that accuracy shows its seed-to-seed spread")
	fs.IntVar(&o.steps, "steps", 0, "steps per training workload and sampler steps per Langevin run on both sides (0: the peers' settings; digits always runs 20 epochs); with --scaling, steps per point (0: 40)")
	fs.IntVar(&o.workers, "workers", 0, "[compute] workers of goebm's runs (0: all cores)")
	fs.IntVar(&o.chunk, "chunk", 0, "[compute] chunk of goebm's runs (0: the default)")
	fs.BoolVar(&o.noRequest, "no-request", false, "skip the MLP request measured against the dgemm rate")
	fs.BoolVar(&o.allowBusy, "allow-busy", false, "print ratios measured on a busy machine, every figure marked †")
	fs.DurationVar(&o.watch, "watch", bench.SampleWindow, "how long the machine is watched for other processes before the first run and after the last")
	fs.DurationVar(&o.settle, "settle", 90*time.Second, "wait up to this long before the first run for the 1-minute load average to fall below 1 (0: no wait)")
	fs.BoolVar(&o.scaling, "scaling", false, "seconds per step and peak memory of the MLP as the batch, width and dimension grow (exact SM, DSM, SSM)")
	fs.StringVar(&o.sweeps, "sweeps", "", "with --scaling: comma-separated sweeps (batch, width, dim; default all)")
	fs.StringVar(&o.methods, "methods", "", "with --scaling: comma-separated estimators (sm, dsm, ssm; default all)")
	fs.StringVar(&o.peerThreads, "peer-threads", "1,2", "with --scaling --peers: torch thread counts to run at each point (the faster is plotted)")
	fs.StringVar(&o.outDir, "out", "", "with --scaling: write scaling.csv, scaling.md and img/scaling-*.{svg,png} into this folder (e.g. docs)")
	fs.StringVar(&o.e2eConfig, "e2e-config", "", "time these run files (comma-separated) end to end with `ebm train`, e.g. a plugin run file against an in-process one")
	setFlag(fs, &o.sets, "with --e2e-config: override a key of every run file (repeatable)")
	fs.StringVar(&o.study, "study", "", "time this study from scratch with each --study-workers count: cells per hour")
	fs.StringVar(&o.studyWork, "study-workers", "1,2", "with --study: comma-separated numbers of cells run at once")
	fs.BoolVar(&o.dryRun, "dry-run", false, "check the command (flags, files, data, peer scripts, workloads) and print what it would run, without running it")
	fs.BoolVar(&o.child, "child", false, "internal: train the run file described on standard input and report its step times (the scaling runs' child process)")
	fs.MarkHidden("child")
	return c
}

// watching returns how the machine is watched.
func (f *benchOptions) watching(log io.Writer) bench.Watching {
	return bench.Watching{Window: f.watch, Settle: f.settle, Log: log}
}

func runBench(c *cobra.Command, pos []string, f *benchOptions) error {
	stdout, stderr := c.OutOrStdout(), c.ErrOrStderr()
	if len(pos) != 0 {
		return usagef("unexpected argument %q (usage: %s)", pos[0], benchUsage)
	}
	if f.repeats < 1 || f.steps < 0 || f.workers < 0 || f.chunk < 0 || f.watch < 0 || f.settle < 0 {
		return usagef("--repeats must be ≥ 1 and --steps, --workers, --chunk, --watch, --settle ≥ 0")
	}
	modes := 0
	for _, on := range []bool{f.scaling, f.e2eConfig != "", f.study != "", f.child} {
		if on {
			modes++
		}
	}
	if modes > 1 {
		return usagef("--scaling, --e2e-config, --study and --child are separate modes: give one")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if f.child && f.dryRun {
		fmt.Fprintln(stdout, "would run: one child (a run file on standard input)")
		return nil
	}
	if f.child {
		return bench.ServeChild(ctx, c.InOrStdin(), stdout)
	}
	command := commandLine(c)
	ebmArgv, err := selfArgv()
	if err != nil {
		return err
	}
	dry := func(what string, files ...string) error {
		for _, f := range files {
			if _, err := os.Stat(f); err != nil {
				return usageError{fmt.Errorf("bench: %w", err)}
			}
		}
		fmt.Fprintf(stdout, "would run: %s\n", what)
		return nil
	}
	switch {
	case f.e2eConfig != "" && f.dryRun:
		return dry(fmt.Sprintf("ebm train on %s, %d round(s)", f.e2eConfig, f.repeats), strings.Split(f.e2eConfig, ",")...)
	case f.study != "" && f.dryRun:
		if _, err := ints("--study-workers", f.studyWork); err != nil {
			return err
		}
		return dry(fmt.Sprintf("ebm study %s with workers %s, %d round(s)", f.study, f.studyWork, f.repeats), f.study)
	case f.e2eConfig != "":
		res, err := bench.TimeRunFiles(ctx, bench.RunFilesOptions{Ebm: ebmArgv, Files: strings.Split(f.e2eConfig, ","), Sets: f.sets,
			Repeats: f.repeats, Watching: f.watching(stderr), Log: stderr})
		if err != nil {
			return err
		}
		res.Command = command
		return finish(res, res.WriteTable(stdout, f.allowBusy), f.jsonPath, stderr)
	case f.study != "":
		ws, err := ints("--study-workers", f.studyWork)
		if err != nil {
			return err
		}
		res, err := bench.StudyRate(ctx, bench.StudyRateOptions{Ebm: ebmArgv, File: f.study, Workers: ws, Repeats: f.repeats, Watching: f.watching(stderr), Log: stderr})
		if err != nil {
			return err
		}
		res.Command = command
		return finish(res, res.WriteTable(stdout, f.allowBusy), f.jsonPath, stderr)
	}
	dir, err := bench.FindDataDir(f.data)
	if err != nil {
		return usageError{err}
	}
	pe := bench.PeerEnv{Python: f.python, Steps: f.steps, DataDir: dir}
	if f.peers {
		var cleanup func()
		if pe.Dir, cleanup, err = bench.FindPeerDir(f.peerDir); err != nil {
			return usageError{err}
		}
		defer cleanup()
	}
	env := bench.Env{DataDir: dir, Seed: f.seed, Workers: f.workers, Chunk: f.chunk, Steps: f.steps}
	if f.scaling {
		threads, err := ints("--peer-threads", f.peerThreads)
		if err != nil {
			return err
		}
		o := bench.ScalingOptions{Env: env, Child: append(ebmArgv, "bench", "--child"), Sweeps: list(f.sweeps), Methods: list(f.methods),
			Peers: f.peers, PeerEnv: pe, PeerThreads: threads, Watching: f.watching(stderr), Log: stderr}
		if f.dryRun {
			if err := bench.CheckScaling(o); err != nil {
				return usageIfSelection(err)
			}
			return dry(fmt.Sprintf("scaling sweeps %v, methods %v, peers %v (scripts in %s), output to %q", list(f.sweeps), list(f.methods), f.peers, pe.Dir, f.outDir))
		}
		res, err := bench.Scaling(ctx, o)
		if err != nil {
			return usageIfSelection(err)
		}
		res.Command = command
		werr := res.WriteMarkdown(stdout, f.allowBusy)
		if werr == nil && f.outDir != "" {
			files, err := res.Files(f.outDir, f.allowBusy)
			for _, f := range files {
				fmt.Fprintf(stderr, "wrote %s\n", f)
			}
			werr = err
		}
		return finish(res, werr, f.jsonPath, stderr)
	}
	ws, err := bench.Select(list(f.only))
	if err != nil {
		return usageError{err}
	}
	if f.dryRun {
		var names []string
		for _, w := range ws {
			names = append(names, w.Name)
		}
		return dry(fmt.Sprintf("%s, %d round(s), peers %v (scripts in %s), end to end %v", strings.Join(names, ", "), f.repeats, f.peers, pe.Dir, f.e2e))
	}
	o := bench.Options{
		Env: env, Workloads: ws, Peers: f.peers, Repeats: f.repeats, VarySeed: f.varySeed, Request: !f.noRequest, Log: stderr,
		PeerEnv: pe, Watching: f.watching(stderr),
	}
	if f.e2e {
		scratch, err := os.MkdirTemp("", "goebm-bench-e2e-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(scratch)
		o.E2E = &bench.Trainer{Argv: ebmArgv, Dir: scratch}
	}
	res, err := bench.Compare(ctx, o)
	if err != nil {
		return err
	}
	res.Command = command
	return finish(res, res.WriteTable(stdout, f.allowBusy), f.jsonPath, stderr)
}

// finish writes the JSON of a result (even when its table was refused: the figures and the
// load are kept) and returns the table's error.
func finish(res any, tableErr error, jsonPath string, stderr io.Writer) error {
	if jsonPath != "" {
		b, err := framework.MarshalJSON(res, true)
		if err != nil {
			return err
		}
		if err := framework.WriteFileAtomic(jsonPath, append(b, '\n')); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s\n", jsonPath)
	}
	return tableErr
}

// selfArgv returns the command that runs this ebm again (for `ebm train` and the scaling
// children).
func selfArgv() ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: cannot find the ebm command to run children: %w", err)
	}
	return []string{exe}, nil
}

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// ints parses a comma-separated list of positive integers.
func ints(flagName, s string) ([]int, error) {
	var out []int
	for _, f := range list(s) {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, usagef("%s: %q is not a positive integer (e.g. %s 1,2)", flagName, f, flagName)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, usagef("%s: give at least one number (e.g. %s 1,2)", flagName, flagName)
	}
	return out, nil
}

// usageIfSelection makes an unknown sweep or method a usage error.
func usageIfSelection(err error) error {
	var se *bench.SelectionError
	if errors.As(err, &se) {
		return usageError{err}
	}
	return err
}
