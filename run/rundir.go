package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/goebm/goebm/framework"
)

// File names inside a run folder.
const (
	ConfigFile     = "config.toml"
	MetricsFile    = "metrics.jsonl"
	CheckpointFile = "checkpoint.json"
	ParamsFile     = "params.json"
	SummaryFile    = "summary.json"
)

// Summary is summary.json.
type Summary struct {
	Estimator string            `json:"estimator"`
	Energy    string            `json:"energy"`
	Optimizer string            `json:"optimizer"`
	Seed      uint64            `json:"seed"`
	Paths     map[string]string `json:"derivative_paths"`
	TestLoss  *float64          `json:"final_test_loss,omitempty"`
	framework.Outcome
}

// Options are the hooks of a training run.
type Options struct {
	// OnStep is called after every step (progress displays).
	OnStep func(step, total int, loss float64)
	// Log receives one-line human messages (what is starting, warnings); nil discards them.
	Log io.Writer
	// Overwrite lets Train replace a finished run in its folder.
	Overwrite bool
}

// ErrFinished is returned (wrapped) when asked to train into or resume a finished run.
var ErrFinished = errors.New("the folder holds a finished run")

// ErrNotResumable is returned (wrapped) when a folder has no usable checkpoint.
var ErrNotResumable = errors.New("cannot resume")

// Prepare creates dir for a new run and checks it is writable before any work starts. A
// folder that already holds a finished run is left alone unless overwrite is set.
func Prepare(dir string, overwrite bool) error {
	if Finished(dir) && !overwrite {
		return fmt.Errorf("%s: %w: pass --out DIR, set [output] overwrite = true (or --set output.overwrite=true), or remove it", dir, ErrFinished)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("run folder: %w", err)
	}
	probe, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("run folder %s is not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	for _, f := range []string{SummaryFile, ParamsFile, CheckpointFile} {
		os.Remove(filepath.Join(dir, f)) // an overwritten run must not look finished, or resumable, halfway
	}
	return nil
}

// Finished reports whether dir holds a finished run.
func Finished(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, SummaryFile))
	return err == nil
}

// Train builds the run described by cfg (reading its data and starting its energy, so that
// bad input fails before any folder is made), prepares dir with Prepare, trains into it and
// writes its outputs. When ctx is cancelled the run stops between two steps, writes a
// checkpoint and returns an error wrapping framework.ErrInterrupted.
func Train(ctx context.Context, cfg *Config, reg *framework.Registry, dir string, opts Options) (*Summary, error) {
	return train(ctx, cfg, reg, dir, nil, opts)
}

// Resume continues the interrupted run in dir from its checkpoint, with its own config.toml
// (plus sets, which make the result differ from an uninterrupted run).
func Resume(ctx context.Context, dir string, sets []string, reg *framework.Registry, opts Options) (*Summary, error) {
	if Finished(dir) {
		return nil, fmt.Errorf("%s: %w: nothing to resume", dir, ErrFinished)
	}
	cp, err := framework.ReadCheckpoint(filepath.Join(dir, CheckpointFile))
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrNotResumable, dir, err)
	}
	src, err := Load(filepath.Join(dir, ConfigFile), sets)
	if err != nil {
		return nil, err
	}
	cfg, err := Decode(src, reg)
	if err != nil {
		return nil, err
	}
	if err := truncateMetrics(filepath.Join(dir, MetricsFile), cp.Records); err != nil {
		return nil, err
	}
	return train(ctx, cfg, reg, dir, cp, opts)
}

func train(ctx context.Context, cfg *Config, reg *framework.Registry, dir string, cp *framework.Checkpoint, opts Options) (*Summary, error) {
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	if err := cfg.RequireTrainer(reg); err != nil {
		return nil, err
	}
	if cp == nil && Finished(dir) && !opts.Overwrite {
		return nil, fmt.Errorf("%s: %w: pass --out DIR, set [output] overwrite = true (or --set output.overwrite=true), or remove it", dir, ErrFinished)
	}
	built, err := BuildContext(ctx, cfg, reg)
	if err != nil {
		return nil, err
	}
	defer built.Close()
	if cp == nil {
		if err := Prepare(dir, opts.Overwrite); err != nil {
			return nil, err
		}
		resolved, err := cfg.Resolved()
		if err != nil {
			return nil, err
		}
		if err := framework.WriteFileAtomic(filepath.Join(dir, ConfigFile), resolved); err != nil {
			return nil, err
		}
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if cp != nil {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	mf, err := os.OpenFile(filepath.Join(dir, MetricsFile), flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	defer mf.Close()
	enc := json.NewEncoder(mf)
	r := built.Run
	r.Resume = cp
	r.OnMetrics = func(m framework.Metrics) error { return enc.Encode(m) }
	cpPath := filepath.Join(dir, CheckpointFile)
	r.OnCheckpoint = func(c *framework.Checkpoint) error {
		if err := mf.Sync(); err != nil {
			return err
		}
		return framework.WriteJSONAtomic(cpPath, c)
	}
	r.OnStep = opts.OnStep
	verb := "training"
	if cp != nil {
		verb = fmt.Sprintf("resuming at step %d:", cp.Step)
	}
	fmt.Fprintf(logw, "%s %s with %s on %s (%d rows × %d) → %s\n", verb, built.Spec.Name, cfg.Trainer.Method,
		filepath.Base(built.Train.Path), r.Train.RawMatrix().Rows, built.Spec.Dim, dir)
	outcome, err := framework.Train(ctx, r)
	if err != nil {
		if errors.Is(err, framework.ErrInterrupted) {
			if _, serr := os.Stat(cpPath); serr != nil {
				return nil, fmt.Errorf("%w; the run has no checkpoint yet, so it cannot be resumed: train it again", err)
			}
			return nil, fmt.Errorf("%w; continue from the last checkpoint with `ebm train --resume %s`", err, dir)
		}
		return nil, err
	}
	sum := &Summary{Estimator: cfg.Trainer.Method, Energy: built.Spec.Name, Optimizer: cfg.Optimizer.Method,
		Seed: cfg.Seed, Paths: derivativePaths(r), Outcome: *outcome}
	if built.Test != nil {
		ctx := &framework.StepContext{Eval: r.Eval, RNG: built.Streams.Rand("test", 0), Step: outcome.Steps}
		if tl, err := r.Trainer.Step(ctx, built.Test.X, r.Theta, nil); err == nil {
			sum.TestLoss = &tl
		} else {
			fmt.Fprintf(logw, "warning: test loss not computed: %v\n", err)
		}
	}
	pf, err := framework.NewParamsFile(built.Spec.Name, built.Blocks, r.Theta)
	if err != nil {
		return nil, err
	}
	if err := framework.WriteJSONAtomic(filepath.Join(dir, ParamsFile), pf); err != nil {
		return nil, err
	}
	if err := framework.WriteJSONAtomic(filepath.Join(dir, SummaryFile), sum); err != nil {
		return nil, err
	}
	os.Remove(cpPath) // finished: params.json and summary.json say so
	return sum, nil
}

// derivativePaths merges the Evaluator's record with the trainer's own (trainers that take
// finite differences themselves report them through a Paths method).
func derivativePaths(r *framework.Run) map[string]string {
	p := r.Eval.Paths()
	if tp, ok := r.Trainer.(framework.PathReporter); ok {
		for k, v := range tp.Paths() {
			p[k] = v
		}
	}
	return p
}

// truncateMetrics keeps the first n records of metrics.jsonl: those the checkpoint covers.
func truncateMetrics(path string, n int) error {
	b, err := os.ReadFile(path)
	if err != nil && !(errors.Is(err, os.ErrNotExist) && n == 0) {
		return fmt.Errorf("resume: %w", err)
	}
	off := 0
	for i := 0; i < n; i++ {
		j := bytes.IndexByte(b[off:], '\n')
		if j < 0 {
			return fmt.Errorf("resume: %s has %d records, the checkpoint expects at least %d", path, i, n)
		}
		off += j + 1
	}
	return framework.WriteFileAtomic(path, b[:off])
}

// ReadSummary reads a finished run's summary.json.
func ReadSummary(dir string) (*Summary, error) {
	b, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, SummaryFile), err)
	}
	return &s, nil
}
