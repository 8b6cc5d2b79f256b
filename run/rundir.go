package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/internal/lockfile"
)

// File names inside a run folder.
const (
	ConfigFile     = "config.toml"
	MetricsFile    = "metrics.jsonl"
	CheckpointFile = "checkpoint.json"
	ParamsFile     = "params.json"
	SummaryFile    = "summary.json"
	// LockFile is held (package internal/lockfile: host, boot id, pid, start time, heartbeat)
	// by the process that trains in the folder.
	LockFile = ".lock"
	// previousPrefix names the folder inside a run folder where a fresh run moves the files of
	// the run it replaces, until its own are written.
	previousPrefix = ".previous-"
)

// runFiles are the files a run writes.
var runFiles = []string{CheckpointFile, SummaryFile, ParamsFile, MetricsFile, ConfigFile}

// Summary is summary.json.
type Summary struct {
	Estimator string            `json:"estimator"`
	Energy    string            `json:"energy"`
	Optimizer string            `json:"optimizer"`
	Seed      uint64            `json:"seed"`
	Paths     map[string]string `json:"derivative_paths"`
	TestLoss  *float64          `json:"final_test_loss,omitempty"`
	// Report is the trainer's own report (framework.Reporter), e.g. a graph selection's path.
	Report any `json:"report,omitempty"`
	framework.Outcome
	// Provenance is the goebm build, the machine and the times of the training.
	Provenance *Provenance `json:"provenance,omitempty"`
}

// Options are the hooks of a training run.
type Options struct {
	// OnStep is called after every step (progress displays).
	OnStep func(step, total int, loss float64)
	// Log receives one-line human messages (what is starting, warnings); nil discards them.
	Log io.Writer
	// Overwrite lets Train start afresh in a folder that holds a finished run or an
	// interrupted run's checkpoint. Only a command-line flag (ebm train --force) sets it,
	// never a run file. The old run's files are moved aside and removed only once the new
	// run has written its own.
	Overwrite bool
	// AllowDataChange lets Resume continue from a checkpoint although a data file changed
	// since it was written.
	AllowDataChange bool
	// Version is the goebm version summary.json records (empty: the module version of the
	// build, see NewProvenance).
	Version string
}

// Errors wrapped by a *FolderError, for errors.Is.
var (
	// ErrFinished: the folder holds a finished run (summary.json).
	ErrFinished = errors.New("the folder holds a finished run")
	// ErrInterruptedRun: the folder holds an interrupted run's checkpoint.
	ErrInterruptedRun = errors.New("the folder holds an interrupted run (checkpoint.json)")
	// ErrNotResumable: the folder has no checkpoint a run can continue from.
	ErrNotResumable = errors.New("cannot resume")
	// ErrLocked: another live process trains in the folder (it wraps *lockfile.HeldError).
	ErrLocked = lockfile.ErrLocked
	// ErrLockLost: the folder's lock was taken over while this process held it.
	ErrLockLost = errors.New("the folder's lock was taken over by another process")
	// ErrDataChanged: a data file differs from the one the checkpoint was written with.
	ErrDataChanged = errors.New("a data file changed since the checkpoint")
	// ErrOutside: a run file's output.dir leads outside the working directory.
	ErrOutside = errors.New("leads outside the working directory")
)

// FolderError is a run folder that cannot be used as asked: which folder, what is wrong
// (one of the errors above, or the file system's), and what to do about it.
type FolderError struct {
	Dir  string
	Err  error
	Hint string
}

func (e *FolderError) Error() string {
	s := fmt.Sprintf("run folder %s: %v", e.Dir, e.Err)
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

func (e *FolderError) Unwrap() error { return e.Err }

// Finished reports whether dir holds a finished run.
func Finished(dir string) bool {
	_, err := os.Lstat(filepath.Join(dir, SummaryFile))
	return err == nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// checkFresh returns an error unless a new run may start in dir: it is absent, or a folder
// that holds neither a finished run nor a checkpoint, or overwrite is set. Unless held (the
// caller holds the folder's lock), a folder another live process trains in is refused too.
func checkFresh(dir string, overwrite, held bool) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return &FolderError{Dir: dir, Err: err}
	case !st.IsDir():
		return &FolderError{Dir: dir, Err: errors.New("is a file, not a folder"), Hint: "pass --out with a folder"}
	}
	if !held {
		if err := checkUnlocked(dir); err != nil {
			return err
		}
	}
	switch {
	case overwrite:
		return nil
	case Finished(dir):
		return &FolderError{Dir: dir, Err: ErrFinished,
			Hint: "pass --out DIR for a new run, or --force to replace it (its files are removed only once the new run has written its own)"}
	case exists(filepath.Join(dir, CheckpointFile)):
		return &FolderError{Dir: dir, Err: ErrInterruptedRun,
			Hint: fmt.Sprintf("continue it with `ebm train --resume %s`, or pass --force to start over (its files are removed only once the new run has written its own)", dir)}
	}
	return nil
}

// checkUnlocked returns the error of a folder another live process trains in, without taking
// its lock: that says more than the checkpoint the other process is writing.
func checkUnlocked(dir string) error {
	path := filepath.Join(dir, LockFile)
	holder, stale, err := lockfile.Inspect(path, lockfile.Options{})
	if err != nil || stale {
		return nil
	}
	return &FolderError{Dir: dir, Err: &lockfile.HeldError{Path: path, Holder: holder},
		Hint: "another process is training in it: wait for it to end, or use another --out"}
}

// folder is a run folder held by this process.
type folder struct {
	dir     string
	lock    *lockfile.Lock
	created bool   // this process made the folder
	aside   string // where the replaced run's files went, "" when none
}

// openFolder takes the folder's lock, making the folder first when create is set.
func openFolder(dir string, create bool) (*folder, error) {
	f := &folder{dir: dir}
	if create {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			f.created = true
		}
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return nil, &FolderError{Dir: dir, Err: unwrapPath(err), Hint: "cannot make it"}
		}
	}
	lock, err := lockfile.Acquire(filepath.Join(dir, LockFile), lockfile.Options{Purpose: "ebm train"})
	if err != nil {
		f.removeIfCreated()
		if errors.Is(err, lockfile.ErrLocked) {
			return nil, &FolderError{Dir: dir, Err: err, Hint: "another process is training in it: wait for it to end, or use another --out"}
		}
		return nil, &FolderError{Dir: dir, Err: err, Hint: "is it writable?"}
	}
	f.lock = lock
	return f, nil
}

// release drops the lock.
func (f *folder) release() {
	if f.lock != nil {
		f.lock.Release()
		f.lock = nil
	}
}

// removeIfCreated drops the lock and removes the folder if this process made it and nothing
// was written in it.
func (f *folder) removeIfCreated() {
	f.release()
	if f.created {
		os.Remove(f.dir) // only if empty
	}
}

// lost returns an error once the lock is no longer this process's.
func (f *folder) lost() error {
	select {
	case <-f.lock.Lost():
		return &FolderError{Dir: f.dir, Err: ErrLockLost, Hint: "this process stopped writing; check which process is training in it"}
	default:
		return nil
	}
}

// cleanTemp removes the temporary files that atomic writes of a killed process left behind
// (".checkpoint.json.tmp-…"). Only the lock holder calls it, so none is being written.
func (f *folder) cleanTemp() {
	for _, name := range runFiles {
		matches, _ := filepath.Glob(filepath.Join(f.dir, "."+name+".tmp-*"))
		for _, m := range matches {
			os.Remove(m)
		}
	}
}

// moveAside moves the files of a run already in the folder into a hidden folder beside them,
// so that nothing is lost if the new run fails; removePrevious deletes them once the new run
// has written its outputs.
func (f *folder) moveAside() error {
	for _, name := range runFiles {
		src := filepath.Join(f.dir, name)
		if st, err := os.Lstat(src); err != nil || st.IsDir() {
			continue // a folder of that name is no run's file: the new run will fail to write there
		}
		if f.aside == "" {
			f.aside = filepath.Join(f.dir, previousPrefix+strconv.FormatInt(time.Now().UnixNano(), 36))
			if err := os.Mkdir(f.aside, 0o777); err != nil {
				return &FolderError{Dir: f.dir, Err: unwrapPath(err), Hint: "cannot move the previous run aside"}
			}
		}
		if err := os.Rename(src, filepath.Join(f.aside, name)); err != nil {
			return &FolderError{Dir: f.dir, Err: unwrapPath(err), Hint: "cannot move the previous run aside"}
		}
	}
	return nil
}

// removePrevious deletes the runs a finished run replaced.
func (f *folder) removePrevious() {
	matches, _ := filepath.Glob(filepath.Join(f.dir, previousPrefix+"*"))
	for _, m := range matches {
		os.RemoveAll(m)
	}
}

// openRunFile opens a file in a run folder without following a symbolic link.
func openRunFile(path string, flags int) (*os.File, error) {
	if oNoFollow == 0 {
		if st, err := os.Lstat(path); err == nil && st.Mode()&fs.ModeSymlink != 0 {
			return nil, &os.PathError{Op: "open", Path: path, Err: errors.New("is a symbolic link")}
		}
	}
	return os.OpenFile(path, flags|oNoFollow, 0o666)
}

// readRunFile reads a file in a run folder without following a symbolic link.
func readRunFile(path string, max int64) ([]byte, error) {
	if oNoFollow == 0 {
		if st, err := os.Lstat(path); err == nil && st.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s is a symbolic link", path)
		}
	}
	return readLimited(path, max, oNoFollow)
}

// maxCheckpointBytes bounds what is read of a checkpoint.json (θ, the data's row order and
// component state, as JSON).
const maxCheckpointBytes = 1 << 34

// Train builds the run described by cfg and trains it into dir. It is a transaction on the
// folder: every check that can fail (the whole configuration, the data and their shapes, the
// energy, plugin start-up, the trainer's and sampler's start-up) runs before the folder is
// touched. Then Train takes the folder's lock (see LockFile), refuses a folder that holds a
// finished run or a checkpoint unless opts.Overwrite is set, moves the files of a run it
// replaces aside, trains, writes a final checkpoint, then params.json and summary.json, and
// only then removes the checkpoint and the replaced run.
//
// When ctx is cancelled the run stops, writes a checkpoint and returns an error wrapping
// framework.ErrInterrupted. Errors about the folder are *FolderError values.
func Train(ctx context.Context, cfg *Config, reg *framework.Registry, dir string, opts Options) (*Summary, error) {
	built, err := Check(ctx, cfg, reg, dir, opts.Overwrite)
	if err != nil {
		return nil, err
	}
	defer built.Close()
	resolved, err := cfg.Resolved()
	if err != nil {
		return nil, err
	}

	// Every check has passed: the folder is touched from here on.
	f, err := openFolder(dir, true)
	if err != nil {
		return nil, err
	}
	defer f.release()
	if err := checkFresh(dir, opts.Overwrite, true); err != nil { // again, now that no other process can change it
		f.removeIfCreated()
		return nil, err
	}
	f.cleanTemp()
	if err := f.moveAside(); err != nil {
		return nil, err
	}
	if err := framework.WriteFileAtomic(filepath.Join(dir, ConfigFile), resolved); err != nil {
		return nil, f.failed(err)
	}
	mf, err := openRunFile(filepath.Join(dir, MetricsFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY)
	if err != nil {
		return nil, f.failed(&FolderError{Dir: dir, Err: err})
	}
	return f.train(ctx, cfg, built, mf, nil, opts)
}

// Check runs every check that Train runs before it touches a folder, dir being the folder
// it would train into: the [trainer] table, whether dir can take a new run (a finished or
// interrupted run there needs overwrite), the whole build (the configuration, the data files
// and their shapes and domains, the energy, a plugin's start-up, the components), the
// trainer's start-up on the energy and data (an estimator that does not fit the domain) and
// the resolved configuration. `ebm validate` is this check. It returns the run built and
// started, ready to train; Close it.
func Check(ctx context.Context, cfg *Config, reg *framework.Registry, dir string, overwrite bool) (*Built, error) {
	if err := cfg.RequireTrainer(reg); err != nil {
		return nil, err
	}
	if err := checkFresh(dir, overwrite, false); err != nil {
		return nil, err
	}
	built, err := BuildContext(ctx, cfg, reg)
	if err != nil {
		return nil, err
	}
	if err := built.Run.Init(); err != nil {
		built.Close()
		return nil, &InputError{Err: err}
	}
	if _, err := cfg.Resolved(); err != nil {
		built.Close()
		return nil, err
	}
	return built, nil
}

// failed adds to err where the replaced run's files are, when there is one.
func (f *folder) failed(err error) error {
	if f.aside == "" {
		return err
	}
	return fmt.Errorf("%w (the files of the run this one was replacing are kept in %s)", err, f.aside)
}

// Resume continues the interrupted run in dir from its checkpoint, with its own config.toml
// (plus sets, which make the result differ from an uninterrupted run). It takes the folder's
// lock, then checks everything (the checkpoint's format and ranges, the configuration, the
// data and their digests against the checkpoint's, the components' start-up and the restore
// of their state) before it touches the folder.
func Resume(ctx context.Context, dir string, sets []string, reg *framework.Registry, opts Options) (*Summary, error) {
	st, err := os.Stat(dir)
	switch {
	case err != nil:
		return nil, &FolderError{Dir: dir, Err: fmt.Errorf("%w: %w", ErrNotResumable, unwrapPath(err))}
	case !st.IsDir():
		return nil, &FolderError{Dir: dir, Err: fmt.Errorf("%w: not a folder", ErrNotResumable)}
	}
	f, err := openFolder(dir, false)
	if err != nil {
		return nil, err
	}
	defer f.release()
	if Finished(dir) {
		return nil, &FolderError{Dir: dir, Err: ErrFinished, Hint: "nothing to resume"}
	}
	cpPath := filepath.Join(dir, CheckpointFile)
	b, err := readRunFile(cpPath, maxCheckpointBytes)
	if err != nil {
		return nil, &FolderError{Dir: dir, Err: fmt.Errorf("%w: %s: %w", ErrNotResumable, CheckpointFile, err),
			Hint: "a run that was killed before its first checkpoint starts again with ebm train"}
	}
	cp, err := framework.ParseCheckpoint(cpPath, b)
	if err != nil {
		return nil, &FolderError{Dir: dir, Err: fmt.Errorf("%w: %w", ErrNotResumable, err)}
	}
	cfgPath := filepath.Join(dir, ConfigFile)
	text, err := readRunFile(cfgPath, MaxFileBytes)
	if err != nil {
		return nil, &FolderError{Dir: dir, Err: fmt.Errorf("%w: %s: %w", ErrNotResumable, ConfigFile, err)}
	}
	src, err := Parse(cfgPath, text, sets)
	if err != nil {
		return nil, err
	}
	cfg, err := Decode(src, reg)
	if err != nil {
		return nil, err
	}
	if err := cfg.RequireTrainer(reg); err != nil {
		return nil, err
	}
	built, err := BuildContext(ctx, cfg, reg)
	if err != nil {
		return nil, err
	}
	defer built.Close()
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	for _, key := range sortedKeys(cp.Inputs) {
		want, got := cp.Inputs[key], built.Inputs[key]
		if want == got {
			continue
		}
		path := built.InputPaths[key]
		if got == "" {
			path = key
		}
		msg := fmt.Errorf("%w: %s (%s) is %s, the checkpoint was written with %s", ErrDataChanged, key, path, orNone(got), want)
		if !opts.AllowDataChange {
			return nil, &FolderError{Dir: dir, Err: msg,
				Hint: "put the original file back, or pass --allow-data-change to continue on these data (the result then differs from an uninterrupted run)"}
		}
		fmt.Fprintf(logw, "warning: %v; continuing (--allow-data-change)\n", msg)
	}
	built.Run.Resume = cp
	if err := built.Run.Init(); err != nil {
		if errors.Is(err, framework.ErrBadCheckpoint) {
			return nil, &FolderError{Dir: dir, Err: fmt.Errorf("%w: %s: %w", ErrNotResumable, CheckpointFile, err)}
		}
		return nil, err
	}

	// Every check has passed: the folder is touched from here on.
	f.cleanTemp()
	if err := truncateMetrics(filepath.Join(dir, MetricsFile), cp.Records); err != nil {
		return nil, &FolderError{Dir: dir, Err: err}
	}
	mf, err := openRunFile(filepath.Join(dir, MetricsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND)
	if err != nil {
		return nil, &FolderError{Dir: dir, Err: err}
	}
	return f.train(ctx, cfg, built, mf, cp, opts)
}

func orNone(s string) string {
	if s == "" {
		return "not read"
	}
	return s
}

// train runs the built run in the held folder, appending to mf, and writes its outputs.
func (f *folder) train(ctx context.Context, cfg *Config, built *Built, mf *os.File, cp *framework.Checkpoint, opts Options) (*Summary, error) {
	defer mf.Close()
	dir := f.dir
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	r := built.Run
	r.OnMetrics = func(m framework.Metrics) error {
		if err := f.lost(); err != nil {
			return err
		}
		b, err := framework.MarshalJSON(m, false)
		if err != nil {
			return err
		}
		_, err = mf.Write(append(b, '\n'))
		return err
	}
	cpPath := filepath.Join(dir, CheckpointFile)
	r.OnCheckpoint = func(c *framework.Checkpoint) error {
		if err := f.lost(); err != nil {
			return err
		}
		if err := mf.Sync(); err != nil {
			return err
		}
		c.Inputs = built.Inputs
		return framework.WriteJSONAtomic(cpPath, c)
	}
	r.OnStep = opts.OnStep
	verb := "training"
	if cp != nil {
		verb = fmt.Sprintf("resuming at step %d:", cp.Step)
	}
	fmt.Fprintf(logw, "%s %s with %s on %s (%d rows × %d) → %s\n", verb, built.Spec.Name, cfg.Trainer.Method,
		filepath.Base(built.Train.Path), r.Train.RawMatrix().Rows, built.Spec.Dim, dir)
	prov := NewProvenance(opts.Version)
	if cp != nil {
		prov.ResumedAt = cp.Step
	}
	outcome, err := framework.Train(ctx, r)
	if err != nil {
		if errors.Is(err, framework.ErrInterrupted) {
			if _, serr := os.Lstat(cpPath); serr != nil {
				return nil, f.failed(fmt.Errorf("%w; the run has no checkpoint yet, so it cannot be resumed: train it again", err))
			}
			return nil, f.failed(fmt.Errorf("%w; continue from the last checkpoint with `ebm train --resume %s`", err, dir))
		}
		return nil, f.failed(err)
	}
	sum := &Summary{Estimator: cfg.Trainer.Method, Energy: built.Spec.Name, Optimizer: cfg.Optimizer.Method,
		Seed: cfg.Seed, Paths: derivativePaths(r), Outcome: *outcome, Provenance: prov}
	if built.Test != nil {
		ctx := &framework.StepContext{Eval: r.Eval, RNG: built.Streams.Rand("test", 0), Step: outcome.Steps}
		if tl, err := r.Trainer.Step(ctx, built.Test.X, r.Theta, nil); err == nil {
			sum.TestLoss = &tl
		} else {
			fmt.Fprintf(logw, "warning: test loss not computed: %v\n", err)
		}
	}
	if err := trainerOutputs(r.Trainer, dir, sum); err != nil {
		return nil, err
	}
	pf, err := framework.NewParamsFile(built.Spec.Name, built.Blocks, r.Theta)
	if err != nil {
		return nil, err
	}
	// The final checkpoint is on disk (framework.Train wrote it after the last step): if a
	// write below fails, `ebm train --resume` writes the outputs again from it.
	if err := f.lost(); err != nil {
		return nil, err
	}
	if err := framework.WriteJSONAtomic(filepath.Join(dir, ParamsFile), pf); err != nil {
		return nil, f.failed(fmt.Errorf("%w; the final checkpoint is kept: write the outputs again with `ebm train --resume %s`", err, dir))
	}
	prov.End = time.Now().UTC()
	if err := framework.WriteJSONAtomic(filepath.Join(dir, SummaryFile), sum); err != nil {
		os.Remove(filepath.Join(dir, ParamsFile))
		return nil, f.failed(fmt.Errorf("%w; the final checkpoint is kept: write the outputs again with `ebm train --resume %s`", err, dir))
	}
	os.Remove(cpPath) // finished: params.json and summary.json say so
	f.removePrevious()
	return sum, nil
}

// trainerOutputs puts a trainer's report (framework.Reporter) into the summary and writes its
// files (framework.Filer) into the run folder.
func trainerOutputs(t framework.Trainer, dir string, sum *Summary) error {
	if rp, ok := t.(framework.Reporter); ok {
		sum.Report = rp.Report()
	}
	if f, ok := t.(framework.Filer); ok {
		for name, b := range f.Files() {
			if filepath.Base(name) != name {
				return fmt.Errorf("trainer file %q: not a plain file name", name)
			}
			if err := framework.WriteFileAtomic(filepath.Join(dir, name), b); err != nil {
				return err
			}
		}
	}
	return nil
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
	b, err := readRunFile(path, 1<<40)
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
	if err == nil && off == len(b) {
		return nil
	}
	return framework.WriteFileAtomic(path, b[:off])
}

// ReadSummary reads a finished run's summary.json.
func ReadSummary(dir string) (*Summary, error) {
	b, err := readRunFile(filepath.Join(dir, SummaryFile), 1<<30)
	if err != nil {
		return nil, &FolderError{Dir: dir, Err: err}
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, SummaryFile), err)
	}
	return &s, nil
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
