package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/run"
)

// loadConfig reads, overrides and validates a run file; errors are usage errors.
func loadConfig(path string, sets []string, reg *framework.Registry) (*run.Config, error) {
	src, err := run.Load(path, sets)
	if err != nil {
		return nil, usageError{err}
	}
	cfg, err := run.Decode(src, reg)
	if err != nil {
		return nil, usageError{err}
	}
	return cfg, nil
}

// trainOptions are the flags of ebm train.
type trainOptions struct {
	out, resume        string
	quiet, json, force bool
	allowDataChange    bool
	sets               []string
}

func newTrainCmd() *cobra.Command {
	var o trainOptions
	c := &cobra.Command{
		Use:   "train (CONFIG.toml | --resume RUN_DIR) [flags]",
		Short: "train a model; writes a run folder",
		Long: `Train reads a run file, checks all of it (keys, data, energy, trainer) before anything
starts, and trains into a run folder: --out, else [output] dir, else runs/<file name>. The
folder holds config.toml (the resolved configuration), metrics.jsonl, params.json and
summary.json. Every check runs before the folder is touched; the folder is locked while a
process trains in it. A folder that holds a finished run, or an interrupted run's checkpoint,
is refused unless --force: the files of the run it replaces are then removed only once the
new run has written its own. A run file's relative [output] dir must stay below the working
directory (--out may name any folder).

The first SIGINT or SIGTERM finishes the current step, writes a checkpoint and exits with
status 3; ebm train --resume RUN_DIR continues bit for bit. A second signal quits at once
(status 130) and the folder keeps its last checkpoint.`,
		Example: `  ebm train examples/gauss20-sm.toml --out runs/gauss20
  ebm train examples/ring8-sm.toml --set trainer.method=dsm --set trainer.sigma=0.1 --out runs/ring8-dsm
  ebm train --resume runs/ring8-dsm`,
		RunE: func(c *cobra.Command, args []string) error {
			return runTrain(c, args, &o)
		},
	}
	fs := c.Flags()
	fs.StringVar(&o.out, "out", "", "run folder `DIR` (overrides [output] dir)")
	fs.StringVar(&o.resume, "resume", "", "continue the interrupted run in `RUN_DIR` from its checkpoint")
	fs.BoolVar(&o.force, "force", false, "start afresh in a folder that holds a finished or interrupted run (its files are removed once the new run has written its own)")
	fs.BoolVar(&o.force, "overwrite", false, "the same as --force")
	fs.BoolVar(&o.allowDataChange, "allow-data-change", false, "with --resume: continue although a data file changed since the checkpoint")
	quietFlag(fs, &o.quiet)
	jsonFlag(fs, &o.json)
	setFlag(fs, &o.sets, "override a key of the run file with `key=value`, e.g. trainer.method=sm (repeatable)")
	return c
}

func runTrain(c *cobra.Command, pos []string, o *trainOptions) error {
	stdout, stderr := c.OutOrStdout(), c.ErrOrStderr()
	var err error
	reg := registry()
	prog := newProgress(stderr, o.quiet, "steps")
	opts := run.Options{OnStep: prog.step, Log: stderr, Overwrite: o.force, AllowDataChange: o.allowDataChange, Version: Version}
	ctx, stop := interruptible(stderr)
	defer stop()

	var sum *run.Summary
	var dir string
	if o.resume != "" {
		if len(pos) != 0 || o.out != "" || o.force {
			return usagef("--resume RUN_DIR takes no CONFIG.toml, no --out and no --force: the run folder holds the run to continue")
		}
		dir = o.resume
		if len(o.sets) > 0 {
			fmt.Fprintf(stderr, "warning: --set on a resumed run changes its configuration; the result will differ from an uninterrupted run\n")
		}
		sum, err = run.Resume(ctx, dir, o.sets, reg, opts)
	} else {
		if len(pos) != 1 {
			return usagef("want one CONFIG.toml, got %d arguments (usage: ebm train CONFIG.toml [--out DIR] [--set key=value ...])", len(pos))
		}
		if o.allowDataChange {
			return usagef("--allow-data-change goes with --resume RUN_DIR")
		}
		cfg, lerr := loadConfig(pos[0], o.sets, reg)
		if lerr != nil {
			return lerr
		}
		name := strings.TrimSuffix(filepath.Base(pos[0]), filepath.Ext(pos[0]))
		if dir, err = cfg.OutputDir(o.out, name); err != nil {
			return usageError{err}
		}
		sum, err = run.Train(ctx, cfg, reg, dir, opts)
	}
	prog.done()
	switch {
	case errors.Is(err, framework.ErrInterrupted):
		return interrupted{err}
	case err != nil:
		return err // exitCode classifies it by type (a *run.FolderError is a usage error)
	}
	if o.json {
		return writeJSON(stdout, struct {
			Dir string `json:"run_dir"`
			*run.Summary
		}{dir, sum})
	}
	printSummary(stdout, dir, sum)
	return nil
}

// interruptible returns a context cancelled by the first SIGINT or SIGTERM: the run then
// finishes its step, checkpoints and exits with status 3. A second signal exits at once
// with status 130.
func interruptible(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		n := 0
		for {
			select {
			case <-done:
				return
			case <-ch:
			}
			n++
			if n == 1 {
				fmt.Fprintf(stderr, "\nstopping after the current step and writing a checkpoint; a plugin's requests stop at once and their step is abandoned, keeping the last checkpoint (signal again to quit at once)\n")
				cancel()
				continue
			}
			fmt.Fprintf(stderr, "\nquitting at once; the run folder keeps its last checkpoint\n")
			os.Exit(exitSignal)
		}
	}()
	return ctx, func() { signal.Stop(ch); close(done); cancel() }
}

func printSummary(w io.Writer, dir string, s *run.Summary) {
	fmt.Fprintf(w, "run folder   %s\n", dir)
	if s.ClosedForm {
		fmt.Fprintf(w, "estimator    %s (closed form) on %s\n", s.Estimator, s.Energy)
	} else {
		fmt.Fprintf(w, "estimator    %s on %s, %d steps in %.2fs (%.0f steps/s)\n", s.Estimator, s.Energy, s.Steps, s.Seconds, s.StepsPerSec)
	}
	fmt.Fprintf(w, "train loss   %.6g\n", s.TrainLoss)
	if s.ValidLoss != nil {
		fmt.Fprintf(w, "valid loss   %.6g\n", *s.ValidLoss)
	}
	if s.TestLoss != nil {
		fmt.Fprintf(w, "test loss    %.6g\n", *s.TestLoss)
	}
	for _, rb := range s.Rollbacks {
		fmt.Fprintf(w, "rollback     step %d: %s = %g; back to step %d with lr %g\n", rb.Step, rb.Quantity, rb.Value, rb.ToStep, rb.LR)
	}
	var paths []string
	for k, v := range s.Paths {
		paths = append(paths, k+"="+v)
	}
	if len(paths) > 0 {
		fmt.Fprintf(w, "derivatives  %s\n", strings.Join(sorted(paths), " "))
	}
}
