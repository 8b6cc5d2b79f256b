package study

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/run"
)

// File names inside a cell's run folder, beside rundir's.
const (
	CellFile    = "cell.json"    // which cell this is, and fingerprints of its configuration
	MetricsFile = "metrics.json" // the evaluation, or the cell's error; its presence marks the cell finished
	SamplesFile = "samples.csv"  // model samples of 2-D continuous models, for plots
	// AttemptsFile is the cell's log: one JSON line when a process starts work on the cell
	// (event "start": time, host, pid, slurm_job, action train, resume or evaluate, retry) and
	// one when it stops (event "end": state done, failed or interrupted, error, seconds).
	AttemptsFile = "attempts.jsonl"
)

// LockSuffix ends the name of a cell's lock file, beside its folder under cells/.
const LockSuffix = ".lock"

// ErrOtherConfiguration is wrapped by the error returned when a cell's folder holds a run of
// another configuration than the study's (the study or its base run file changed what is
// trained, or a data file's content changed).
var ErrOtherConfiguration = errors.New("trained with another configuration")

// cellInfo is cell.json.
type cellInfo struct {
	Index  int               `json:"index"`
	Labels map[string]string `json:"labels"`
	Seed   uint64            `json:"seed"`
	Train  string            `json:"train_fingerprint"` // what training depends on (identity.go)
	Eval   string            `json:"eval_fingerprint"`  // the [eval] table and the metrics
}

// cellMetrics is metrics.json.
type cellMetrics struct {
	Metrics     map[string]float64 `json:"metrics"`
	Details     map[string]any     `json:"details,omitempty"`
	Errors      map[string]string  `json:"errors,omitempty"`
	Rows        int                `json:"rows"`
	Counts      framework.Counts   `json:"eval_counts"`
	EvalSeconds float64            `json:"eval_seconds"`
	// Error is set when the cell failed as a whole (training or opening the run for evaluation).
	Error string `json:"error,omitempty"`
	// Attempt is a random token of the execution that wrote the file, so that a process can
	// tell a failure recorded before it started (which it retries) from one recorded since.
	Attempt string `json:"attempt,omitempty"`
}

// cellStatus is what a worker reports for a cell.
type cellStatus int

const (
	cellSkipped cellStatus = iota // already finished
	cellDone
	cellFailed
	cellInterrupted
)

// stored is what the files in a cell's folder say about it.
type stored struct {
	state   State  // StateTodo, StateDone or StateFailed (never StateRunning: that is the lock's)
	err     string // the recorded error of a failed cell
	attempt string // the Attempt token of metrics.json
}

// readCell reads the state of cell c from its folder dir, without changing anything. It
// returns an error when the folder holds a run that is not this cell's. A finished cell whose
// evaluation changed (the [eval] table or the metrics) is to do again: it will be evaluated
// again, without training again.
func (s *Study) readCell(dir string, c *Cell) (stored, error) {
	b, err := os.ReadFile(filepath.Join(dir, CellFile))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(filepath.Join(dir, run.ConfigFile)); serr == nil {
			return stored{}, fmt.Errorf("%s holds a run that is not a cell of this study (no %s): use another --out, or remove it", dir, CellFile)
		}
		return stored{state: StateTodo}, nil
	}
	if err != nil {
		return stored{}, err
	}
	var info cellInfo
	if err := json.Unmarshal(b, &info); err != nil || (info.Train != c.trainHash && info.Train != c.legacyTrain) {
		return stored{}, fmt.Errorf("%s was %w (the study file, its base run file or a data file changed since): use another --out, or remove the folder to run the cell again", dir, ErrOtherConfiguration)
	}
	m, err := readCellMetrics(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return stored{state: StateTodo}, nil
	}
	if err != nil {
		return stored{}, err
	}
	if info.Eval != c.evalHash && info.Eval != c.legacyEval {
		return stored{state: StateTodo}, nil
	}
	if m.Error != "" {
		return stored{state: StateFailed, err: m.Error, attempt: m.Attempt}, nil
	}
	return stored{state: StateDone, attempt: m.Attempt}, nil
}

func (s *Study) cellInfo(c *Cell) cellInfo {
	labels := map[string]string{}
	for a, ax := range s.Axes {
		labels[ax.Name] = c.Labels[a]
	}
	return cellInfo{Index: c.Index, Labels: labels, Seed: c.Seed, Train: c.trainHash, Eval: c.evalHash}
}

// attempt is one line of attempts.jsonl.
type attempt struct {
	Event   string    `json:"event"` // start or end
	Time    time.Time `json:"time"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Job     string    `json:"slurm_job,omitempty"` // ARRAYJOB_TASK, or the job id
	Action  string    `json:"action,omitempty"`    // start: train, resume or evaluate
	Retry   bool      `json:"retry,omitempty"`     // start: the cell had failed before
	State   string    `json:"state,omitempty"`     // end: done, failed or interrupted
	Error   string    `json:"error,omitempty"`
	Seconds float64   `json:"seconds,omitempty"`
}

// slurmJob names the Slurm job this process runs in, or "".
func slurmJob() string {
	if a, t := os.Getenv("SLURM_ARRAY_JOB_ID"), os.Getenv("SLURM_ARRAY_TASK_ID"); a != "" && t != "" {
		return a + "_" + t
	}
	return os.Getenv("SLURM_JOB_ID")
}

// logAttempt appends one line to the cell's attempts.jsonl. The caller holds the cell's lock.
func logAttempt(dir string, a attempt) error {
	host, _ := os.Hostname()
	a.Time, a.Host, a.PID, a.Job = time.Now().UTC(), host, os.Getpid(), slurmJob()
	b, err := framework.MarshalJSON(a, false)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, AttemptsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		return err
	}
	_, werr := f.Write(append(b, '\n'))
	return errors.Join(werr, f.Close())
}

func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// runCell trains and evaluates one cell, continuing whatever an earlier run left. The caller
// holds the cell's lock. A failed cell is run again only when retry is set; a cell whose
// evaluation changed is evaluated again.
func (s *Study) runCell(ctx context.Context, c *Cell, dir string, retry bool, logw, runLog io.Writer, onStep func(*Cell, int)) (cellStatus, error) {
	st, err := s.readCell(dir, c)
	if err != nil {
		return cellFailed, err
	}
	if st.state == StateDone || (st.state == StateFailed && !retry) {
		return cellSkipped, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return cellFailed, err
	}
	for _, f := range []string{MetricsFile, SamplesFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return cellFailed, err
		}
	}
	if err := framework.WriteJSONAtomic(filepath.Join(dir, CellFile), s.cellInfo(c)); err != nil {
		return cellFailed, err
	}
	if err := s.refreshConfig(c, dir); err != nil {
		return cellFailed, err
	}
	action := "train"
	switch {
	case run.Finished(dir):
		action = "evaluate"
	case fileExists(filepath.Join(dir, run.CheckpointFile)):
		action = "resume"
	}
	if err := logAttempt(dir, attempt{Event: "start", Action: action, Retry: st.state == StateFailed}); err != nil {
		return cellFailed, err
	}
	t0 := time.Now()
	status, msg, err := s.work(ctx, c, dir, logw, runLog, onStep)
	end := attempt{Event: "end", Seconds: time.Since(t0).Seconds(), Error: msg}
	switch {
	case err != nil:
		end.State, end.Error = "failed", err.Error()
	case status == cellDone:
		end.State = "done"
	case status == cellFailed:
		end.State = "failed"
	default:
		end.State = "interrupted"
	}
	return status, errors.Join(err, logAttempt(dir, end))
}

// refreshConfig rewrites the cell's config.toml when it names the files at other paths than the
// study's (the study was moved, or the shared file system is mounted elsewhere here), so that
// resuming and evaluating read them where they are now. The cell's fingerprint already
// matched, so only the paths differ.
func (s *Study) refreshConfig(c *Cell, dir string) error {
	path := filepath.Join(dir, run.ConfigFile)
	old, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	now, err := c.cfg.Resolved()
	if err != nil {
		return err
	}
	if bytes.Equal(old, now) {
		return nil
	}
	return framework.WriteFileAtomic(path, now)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// work trains (or resumes) and evaluates the cell. It returns the status, the error recorded
// in metrics.json when the cell failed, and an error when the folder could not be written.
func (s *Study) work(ctx context.Context, c *Cell, dir string, logw, runLog io.Writer, onStep func(*Cell, int)) (cellStatus, string, error) {
	token := newToken()
	ropts := run.Options{Log: runLog}
	if onStep != nil {
		ropts.OnStep = func(step, _ int, _ float64) { onStep(c, step) }
	}
	if !run.Finished(dir) {
		var err error
		resumed := false
		if fileExists(filepath.Join(dir, run.CheckpointFile)) {
			_, err = run.Resume(ctx, dir, nil, s.reg, ropts)
			resumed = err == nil || ctx.Err() != nil
			if !resumed {
				fmt.Fprintf(logw, "cell %d: cannot resume (%v); starting it again\n", c.Index, err)
			}
		}
		if !resumed {
			// The cell's own run, which could not be resumed, is replaced (its files are
			// removed once the new run has written its own).
			ropts.Overwrite = true
			_, err = run.Train(ctx, c.cfg, s.reg, dir, ropts)
		}
		if err != nil {
			if ctx.Err() != nil {
				return cellInterrupted, "", nil
			}
			m := cellMetrics{Error: "training: " + err.Error(), Attempt: token}
			return cellFailed, m.Error, framework.WriteJSONAtomic(filepath.Join(dir, MetricsFile), m)
		}
	}
	start := time.Now()
	m, err := s.evaluateCell(ctx, c, dir)
	if err != nil {
		if ctx.Err() != nil {
			return cellInterrupted, "", nil
		}
		m = &cellMetrics{Error: "evaluation: " + err.Error()}
	}
	m.EvalSeconds = time.Since(start).Seconds()
	m.Attempt = token
	if err := framework.WriteJSONAtomic(filepath.Join(dir, MetricsFile), m); err != nil {
		return cellFailed, "", err
	}
	if m.Error != "" {
		return cellFailed, m.Error, nil
	}
	return cellDone, "", nil
}

// evaluateCell computes the study's metrics from the cell's saved parameters (never from the
// trainer's memory, so that a resumed study computes the same numbers).
func (s *Study) evaluateCell(ctx context.Context, c *Cell, dir string) (*cellMetrics, error) {
	run, err := s.openCell(c, dir)
	if err != nil {
		return nil, err
	}
	defer run.Close()
	spec := run.Built.Spec
	plane := spec.Domain == framework.Continuous && spec.Dim == 2
	rep, err := run.Evaluate(ctx, EvalRequest{Source: c.source, Metrics: s.Metrics, KeepSamples: plane}, s.reg)
	if err != nil {
		return nil, err
	}
	if plane && rep.Samples != nil {
		if err := writeCSV(filepath.Join(dir, SamplesFile), []string{"x1", "x2"}, rep.Samples); err != nil {
			return nil, err
		}
	}
	return &cellMetrics{Metrics: rep.Values, Details: rep.Details, Errors: rep.Errors, Rows: rep.Rows, Counts: rep.Counts}, nil
}

// writeCSV writes a matrix with a header, atomically, every value in its shortest exact form.
func writeCSV(path string, header []string, x *mat.Dense) error {
	var b bytes.Buffer
	if err := framework.WriteCSV(&b, header, x); err != nil {
		return err
	}
	return framework.WriteFileAtomic(path, b.Bytes())
}

func readCellMetrics(dir string) (*cellMetrics, error) {
	b, err := os.ReadFile(filepath.Join(dir, MetricsFile))
	if err != nil {
		return nil, err
	}
	var m cellMetrics
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, MetricsFile), err)
	}
	return &m, nil
}
