package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/run"
	"github.com/goebm/goebm/study"
)

// runStudy runs a study file:
//
//	ebm study STUDY.toml [--out DIR] [--workers N] [--quiet]
//
// Every cell not yet finished in the study folder is trained and evaluated, N at a time; a
// finished study folder is left as it is and its outputs written again. A signal stops the
// running cells between two steps (exit status 3); the same command continues the study.
func runStudy(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("study", flag.ContinueOnError)
	out := fs.String("out", "", "study folder (default: the study file's out, else runs/study-NAME)")
	workers := fs.Int("workers", 0, "cells run at once, each on one core (default: the study file's workers, else the number of CPUs)")
	quiet := fs.Bool("quiet", false, "no progress display and no line per cell")
	pos, err := parseArgs(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one STUDY.toml (usage: ebm study STUDY.toml [--out DIR] [--workers N])")
	}
	if *workers < 0 {
		return usagef("--workers must be ≥ 0, got %d", *workers)
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
	opts := study.Options{Out: *out, Workers: *workers}
	if !*quiet {
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
	fmt.Fprintf(stdout, "study %s: %d cells (%d run now, %d already finished, %d failed) in %.1fs\n",
		s.Name, res.Cells, res.Ran, res.Skipped, res.Failed, res.Seconds)
	fmt.Fprintf(stdout, "results      %s\nsummary      %s\nplots        %s\n\n",
		filepath.Join(res.Out, "results.csv"), filepath.Join(res.Out, "summary.md"), filepath.Join(res.Out, "plots"))
	if b, err := os.ReadFile(filepath.Join(res.Out, "summary.md")); err == nil {
		stdout.Write(b)
	}
	return nil
}
