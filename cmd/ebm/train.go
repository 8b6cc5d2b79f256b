package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/run"
)

// interrupted is a run stopped by a signal after writing a checkpoint: exit status 3.
type interrupted struct{ err error }

func (i interrupted) Error() string { return i.err.Error() }
func (i interrupted) Unwrap() error { return i.err }

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

func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	out := fs.String("out", "", "run folder (overrides [output] dir)")
	resume := fs.String("resume", "", "continue the interrupted run in this folder from its checkpoint")
	quiet := fs.Bool("quiet", false, "no progress display")
	var sets setFlags
	fs.Var(&sets, "set", "override a key: --set trainer.method=sm (repeatable)")
	pos, err := parseArgs(fs, args, stderr)
	if err != nil {
		return err
	}
	reg := registry()
	prog := newProgress(stderr, *quiet)
	opts := run.Options{OnStep: prog.step, Log: stderr}
	ctx, stop := interruptible(stderr)
	defer stop()

	var sum *run.Summary
	var dir string
	if *resume != "" {
		if len(pos) != 0 || *out != "" {
			return usagef("--resume RUN_DIR takes no CONFIG.toml and no --out: the run folder holds both")
		}
		dir = *resume
		if len(sets) > 0 {
			fmt.Fprintf(stderr, "warning: --set on a resumed run changes its configuration; the result will differ from an uninterrupted run\n")
		}
		sum, err = run.Resume(ctx, dir, sets, reg, opts)
	} else {
		if len(pos) != 1 {
			return usagef("want one CONFIG.toml, got %d arguments (usage: ebm train CONFIG.toml [--out DIR] [--set key=value ...])", len(pos))
		}
		cfg, lerr := loadConfig(pos[0], sets, reg)
		if lerr != nil {
			return lerr
		}
		dir = runDir(cfg, pos[0], *out)
		opts.Overwrite = cfg.Output.Overwrite
		sum, err = run.Train(ctx, cfg, reg, dir, opts)
		var pe *os.PathError
		if errors.As(err, &pe) && strings.HasPrefix(err.Error(), "run folder") {
			return usageError{err}
		}
	}
	prog.done()
	switch {
	case errors.Is(err, framework.ErrInterrupted):
		return interrupted{err}
	case errors.Is(err, run.ErrFinished), errors.Is(err, run.ErrNotResumable):
		return usageError{err}
	case err != nil:
		var ce *run.Error
		if errors.As(err, &ce) {
			return usageError{err}
		}
		return err
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
				fmt.Fprintf(stderr, "\nstopping after the current step and writing a checkpoint (signal again to quit at once)\n")
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

// runDir chooses the run folder: --out, else [output] dir (relative to the file), else
// runs/<config name> in the working directory.
func runDir(cfg *run.Config, file, out string) string {
	if out != "" {
		return out
	}
	if cfg.Output.Dir != "" {
		return cfg.Path("output.dir", cfg.Output.Dir)
	}
	return filepath.Join("runs", strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)))
}

func runValidate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	var sets setFlags
	fs.Var(&sets, "set", "override a key (repeatable)")
	pos, err := parseArgs(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one CONFIG.toml")
	}
	reg := registry()
	cfg, err := loadConfig(pos[0], sets, reg)
	if err != nil {
		return err
	}
	if len(cfg.Energy.Plugin) > 0 {
		argv, err := cfg.PluginArgv()
		if err != nil {
			return usageError{err}
		}
		fmt.Fprintln(stdout, run.PluginWarning(argv))
	}
	start := time.Now()
	built, err := run.Build(cfg, reg)
	if err != nil {
		return usageError{err}
	}
	defer built.Close()
	n, d := built.Train.X.Dims()
	fmt.Fprintf(stdout, "%s: valid (%s on %s, %d parameters; data %d×%d %s; checked in %s)\n", pos[0],
		cfg.Trainer.Method, built.Spec.Name, len(built.Run.Theta), n, d, built.Train.Domain(), time.Since(start).Round(time.Millisecond))
	return nil
}
