package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/run"
	"github.com/goebm/goebm/study"
)

// studyUsage is the synopsis of ebm study.
const studyUsage = "ebm study STUDY.toml [--out DIR] [--workers N] [--quiet] [--retry-failed=false] [--plan [--json] | --cell LIST | --merge [--partial] | --slurm [--sbatch \"OPTIONS\"] [--dry-run]]"

// executable returns the path of the running ebm binary, which --slurm writes into the batch
// scripts (a variable so that tests of the scripts can name another).
var executable = defaultExecutable

func defaultExecutable() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(p)
}

// studyOptions are the flags of ebm study.
type studyOptions struct {
	out                           string
	workers                       int
	quiet, retry, plan, asJSON    bool
	cells                         string
	merge, partial, slurm, dryRun bool
	sbatchOpts                    string
}

// newStudyCmd returns ebm study:
//
//	ebm study STUDY.toml [--out DIR] [--workers N] [--quiet] [--retry-failed=false]
//	ebm study STUDY.toml --plan [--json]
//	ebm study STUDY.toml --cell 3,5-9
//	ebm study STUDY.toml --merge [--partial]
//	ebm study STUDY.toml --slurm [--sbatch "OPTIONS"] [--dry-run]
func newStudyCmd() *cobra.Command {
	var o studyOptions
	c := &cobra.Command{
		Use:   "study STUDY.toml [flags]",
		Short: "train and evaluate a grid of runs over estimators and seeds; resumable, in parallel or on Slurm",
		Long: `Study runs a study file: every cell of its grid (every combination of values, once per seed)
not yet finished in the study folder is trained and evaluated, N at a time, each in its own run
folder; then it writes results.csv, timing.csv, summary.md and plots. A finished study folder
is left as it is and its outputs written again. Any number of processes may run one study
folder at once (each cell has a lock). A signal stops the running cells between two steps
(exit status 3); the same command continues the study.

--plan lists the cells and their states; --cell runs only the cells listed and exits non-zero
if one fails; --merge writes the outputs from the finished cells; --slurm submits the cells not
done to a Slurm cluster as a job array, with a merge job after it.`,
		Example: `  ebm study examples/studies/gauss20-small.toml
  ebm study examples/studies/ring8.toml --workers 4 --out runs/ring8-study
  ebm study examples/studies/ring8.toml --plan`,
		RunE: func(c *cobra.Command, args []string) error {
			return runStudy(c, args, &o)
		},
	}
	fs := c.Flags()
	fs.StringVar(&o.out, "out", "", "study folder `DIR` (default: the study file's out, else runs/study-NAME)")
	fs.IntVar(&o.workers, "workers", 0, "`N` cells run at once, each on compute.workers cores (default: the study file's workers, else the number of CPUs); with --slurm, the array tasks at once")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress display and no line per cell")
	fs.BoolVar(&o.retry, "retry-failed", true, "run failed cells again; --retry-failed=false keeps them failed")
	fs.BoolVar(&o.plan, "plan", false, "list every cell with its index, folder, grid values, seed and state (todo, running, done, failed); run nothing")
	fs.BoolVar(&o.asJSON, "json", false, "print the result as JSON: with --plan the plan (a stable format, see examples/studies/README.md), else what the run did and where its outputs are")
	fs.StringVar(&o.cells, "cell", "", "run only these `CELLS`, e.g. 3 or 3,5-9, in the shared study folder; exit non-zero if one fails")
	fs.BoolVar(&o.merge, "merge", false, "write results.csv, timing.csv, summary.md and the plots from the finished cells; exit non-zero if some are not")
	fs.BoolVar(&o.partial, "partial", false, "with --merge: write the outputs even when cells are not finished")
	fs.BoolVar(&o.slurm, "slurm", false, "submit the cells not done to Slurm: a job array (one task per cell) and a merge job after it")
	fs.StringVar(&o.sbatchOpts, "sbatch", "", "with --slurm: further sbatch `OPTIONS` for every job, e.g. \"--account=lab --qos=short\"")
	fs.BoolVar(&o.dryRun, "dry-run", false, "with --slurm: write and print the batch scripts, submit nothing")
	return c
}

func runStudy(c *cobra.Command, pos []string, o *studyOptions) error {
	stdout, stderr := c.OutOrStdout(), c.ErrOrStderr()
	var err error
	if len(pos) != 1 {
		return usagef("want one STUDY.toml (usage: %s)", studyUsage)
	}
	if o.workers < 0 {
		return usagef("--workers must be ≥ 0, got %d", o.workers)
	}
	modes := 0
	for _, on := range []bool{o.plan, o.cells != "", o.merge, o.slurm} {
		if on {
			modes++
		}
	}
	switch {
	case modes > 1:
		return usagef("--plan, --cell, --merge and --slurm exclude each other (usage: %s)", studyUsage)
	case o.asJSON && (o.merge || o.slurm):
		return usagef("--json goes with --plan, --cell or a study's run")
	case o.partial && !o.merge:
		return usagef("--partial goes with --merge")
	case (o.sbatchOpts != "" || o.dryRun) && !o.slurm:
		return usagef("--sbatch and --dry-run go with --slurm")
	}
	reg := registry()
	s, err := study.Load(pos[0], reg)
	if err != nil {
		var ce *run.Error
		if errors.As(err, &ce) {
			return usageError{err}
		}
		return err
	}
	// again is the command that acts on the same study folder, for hints.
	again := "ebm study " + pos[0]
	if o.out != "" {
		again += " --out " + o.out
	}
	switch {
	case o.plan:
		return studyPlan(s, o.out, o.asJSON, stdout)
	case o.merge:
		return studyMerge(s, o.out, o.partial, again, stdout, stderr, o.quiet)
	case o.slurm:
		return studySlurm(s, o.out, o.workers, o.sbatchOpts, !o.retry, o.dryRun, again, stdout)
	}

	opts := study.Options{Out: o.out, Workers: o.workers, KeepFailed: !o.retry}
	if o.cells != "" {
		if opts.Cells, err = study.ParseCells(o.cells, len(s.Cells)); err != nil {
			return usageError{fmt.Errorf("--cell: %w", err)}
		}
	}
	if !o.quiet {
		opts.Log = stderr
		if isTerminal(stderr) {
			opts.Progress = stderr
		}
	}
	ctx, stop := interruptible(stderr)
	defer stop()
	res, err := s.Run(ctx, opts)
	if err != nil {
		if errors.Is(err, framework.ErrInterrupted) {
			return interrupted{err}
		}
		return err
	}
	if o.asJSON {
		return writeJSON(stdout, studyResult(s, res))
	}
	if len(opts.Cells) > 0 {
		fmt.Fprintf(stdout, "study %s: cells %s: %d run now, %d already finished, %d finished by other processes, %d failed, in %.1fs\n",
			s.Name, o.cells, res.Ran, res.Skipped, res.Others, res.Failed, res.Seconds)
		return nil
	}
	fmt.Fprintf(stdout, "study %s: %d cells (%d run now, %d already finished, %d failed", s.Name, res.Cells, res.Ran, res.Skipped, res.Failed)
	if res.Others > 0 {
		fmt.Fprintf(stdout, ", %d run by other processes", res.Others)
	}
	fmt.Fprintf(stdout, ") in %.1fs\n", res.Seconds)
	printOutputs(stdout, res.Out)
	return nil
}

// studyResult is the --json output of a study's run: what it did and where its outputs are.
func studyResult(s *study.Study, res *study.Outcome) any {
	return struct {
		Study   string  `json:"study"`
		Out     string  `json:"out"`
		Cells   int     `json:"cells"`
		Ran     int     `json:"ran"`
		Skipped int     `json:"already_finished"`
		Others  int     `json:"run_by_others"`
		Failed  int     `json:"failed"`
		Seconds float64 `json:"seconds"`
		Results string  `json:"results"`
		Summary string  `json:"summary"`
		Report  string  `json:"report"`
	}{s.Name, res.Out, res.Cells, res.Ran, res.Skipped, res.Others, res.Failed, res.Seconds,
		filepath.Join(res.Out, "results.csv"), filepath.Join(res.Out, "summary.md"), filepath.Join(res.Out, study.ReportFile)}
}

// printOutputs names the study's outputs and prints summary.md.
func printOutputs(stdout io.Writer, out string) {
	fmt.Fprintf(stdout, "results      %s\nsummary      %s\nplots        %s\nreport       %s\n\n",
		filepath.Join(out, "results.csv"), filepath.Join(out, "summary.md"), filepath.Join(out, "plots"), filepath.Join(out, study.ReportFile))
	if b, err := os.ReadFile(filepath.Join(out, "summary.md")); err == nil {
		stdout.Write(b)
	}
}

func studyPlan(s *study.Study, out string, asJSON bool, stdout io.Writer) error {
	p, err := s.Plan(out)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, p)
	}
	c := p.Counts
	fmt.Fprintf(stdout, "study %s: %d cells in %s: %d done, %d running, %d failed, %d todo\n\n",
		p.Study, len(p.Cells), p.Out, c.Done, c.Running, c.Failed, c.Todo)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "cell\tstate\t%s\tseed\tfolder\t\n", strings.Join(p.Axes, "\t"))
	for _, pc := range p.Cells {
		var labels []string
		for _, a := range p.Axes {
			labels = append(labels, pc.Labels[a])
		}
		note := ""
		switch {
		case pc.Holder != nil:
			note = fmt.Sprintf("pid %d on %s since %s", pc.Holder.PID, pc.Holder.Host, pc.Holder.Since.Local().Format(time.DateTime))
		case pc.Error != "":
			note = pc.Error
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", pc.Index, pc.State, strings.Join(labels, "\t"), pc.Seed, pc.Dir, note)
	}
	return tw.Flush()
}

func studyMerge(s *study.Study, out string, partial bool, again string, stdout, stderr io.Writer, quiet bool) error {
	o := study.MergeOptions{Out: out, Partial: partial}
	if !quiet {
		o.Log = stderr
	}
	res, err := s.Merge(o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "study %s: merged %d cells (%d done, %d failed)", s.Name, res.Done+res.Failed, res.Done, res.Failed)
	if len(res.Missing) > 0 {
		fmt.Fprintf(stdout, "; %d not finished, not in the outputs: %s (see %s --plan)", len(res.Missing), s.DescribeStates(res.Missing), again)
	}
	fmt.Fprintln(stdout)
	printOutputs(stdout, res.Out)
	return nil
}

func studySlurm(s *study.Study, out string, throttle int, sbatchOpts string, keepFailed, dryRun bool, again string, stdout io.Writer) error {
	opts, err := study.SplitOptions(sbatchOpts)
	if err != nil {
		return usageError{err}
	}
	exe, err := executable()
	if err != nil {
		return fmt.Errorf("slurm: the path of this ebm binary: %w", err)
	}
	sub, err := s.Submit(context.Background(), study.SlurmOptions{Out: out, Executable: exe, Throttle: throttle, Sbatch: opts, KeepFailed: keepFailed, DryRun: dryRun})
	if err != nil {
		return err
	}
	todo := 0
	for _, a := range sub.Arrays {
		todo += len(a.Cells)
	}
	fmt.Fprintf(stdout, "study %s: %d cells: %d to submit, %d finished, %d running elsewhere\n", s.Name, len(s.Cells), todo, sub.Done, len(sub.Running))
	if len(sub.Running) > 0 {
		fmt.Fprintf(stdout, "not submitted, held by other processes: %s\n", s.DescribeStates(sub.Running))
	}
	if todo == 0 {
		fmt.Fprintf(stdout, "nothing to submit; when no cell is running any more, merge with: %s --merge\n", again)
		return nil
	}
	if dryRun {
		for _, path := range append(scripts(sub), sub.MergeScript) {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "\n==> %s <==\n%s", path, b)
		}
		fmt.Fprintf(stdout, "\ndry run: nothing submitted; submit with\n")
		for _, c := range sub.Commands() {
			fmt.Fprintf(stdout, "  %s\n", c)
		}
		return nil
	}
	var ids []string
	for _, a := range sub.Arrays {
		fmt.Fprintf(stdout, "submitted job %s: cells %s (%d CPUs each), script %s\n", a.JobID, a.Spec, a.CPUs, a.Script)
		ids = append(ids, a.JobID)
	}
	fmt.Fprintf(stdout, "submitted job %s: merge when job %s has ended (afterany), script %s\n", sub.MergeJobID, strings.Join(ids, ", "), sub.MergeScript)
	ids = append(ids, sub.MergeJobID)
	fmt.Fprintf(stdout, "watch:   squeue -j %s\n", strings.Join(ids, ","))
	fmt.Fprintf(stdout, "state:   %s --plan\n", again)
	fmt.Fprintf(stdout, "logs:    %s (cell-NNN-jobJ.out for each cell, merge-jobJ.out), and attempts.jsonl in each cell's folder\n", sub.Logs)
	fmt.Fprintf(stdout, "cancel:  scancel %s\n", strings.Join(ids, " "))
	return nil
}

func scripts(sub *study.SlurmSubmission) []string {
	var p []string
	for _, a := range sub.Arrays {
		p = append(p, a.Script)
	}
	return p
}
