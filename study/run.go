package study

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/internal/lockfile"
)

// Options are the settings of one execution of a study.
type Options struct {
	// Out is the study folder; empty: the study file's out.
	Out string
	// Workers is the number of cells run at once; 0: the study file's workers, else GOMAXPROCS.
	Workers int
	// Cells, when not empty, are the indices of the only cells to run. Run then returns when
	// they are finished (by this process or by others), without writing the study's outputs
	// (Merge does), and with an error wrapping ErrCellFailed when one of them failed.
	Cells []int
	// KeepFailed keeps failed cells failed. By default an execution runs again every cell
	// that had failed when it started.
	KeepFailed bool
	// Poll is how often a process looks again at cells that other processes hold; zero means
	// one second.
	Poll time.Duration
	// Progress, when not nil, receives a one-line display of cells done, running and left,
	// redrawn in place: pass a terminal, never a file or CI log.
	Progress io.Writer
	// Log receives one line per cell finished (and warnings); nil discards them. With Cells
	// set it also receives the training runs' own lines.
	Log io.Writer
	// OnCellDone, when set, is called after each cell that ran to its end (for tests).
	OnCellDone func(c *Cell)
	// OnStep, when set, is called after every training step of every cell, from the cell's
	// worker goroutine (for tests).
	OnStep func(c *Cell, step int)
}

// Outcome counts what an execution did.
type Outcome struct {
	Out string
	// Cells is the number of cells the execution was asked for; Ran of them it ran to their
	// end, Failed of those failed; Skipped were finished before it started; Others were
	// finished by other processes while it ran.
	Cells, Ran, Skipped, Failed, Others int
	Seconds                             float64
}

// ErrCellFailed is wrapped by the error Run returns when a cell it was asked for by
// Options.Cells stands failed at the end.
var ErrCellFailed = errors.New("cell failed")

// Run executes the study: every cell not yet finished, Workers at a time, then writes
// results.csv, timing.csv, summary.md and the plots from the cells' files.
//
// Any number of processes, on one machine or on several sharing the study folder, may run
// the same study at once: a cell is run by the process that holds its lock (a file beside its
// folder, see package internal/lockfile for the rule that frees the lock of a process that
// died), the others take other cells, and then wait for the cells held elsewhere, taking over
// any whose holder died. Every cell is therefore run once.
//
// When ctx is cancelled, running cells stop between two training steps (their checkpoints
// let the next execution continue them) and Run returns an error wrapping
// framework.ErrInterrupted; running it again finishes the study.
func (s *Study) Run(ctx context.Context, o Options) (*Outcome, error) {
	start := time.Now()
	out := s.folder(o.Out)
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	runLog := io.Discard
	if len(o.Cells) > 0 {
		runLog = logw
	}
	workers := o.Workers
	if workers == 0 {
		workers = s.Workers
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	poll := o.Poll
	if poll <= 0 {
		poll = time.Second
	}
	selected := s.Cells
	if len(o.Cells) > 0 {
		selected = nil
		for _, i := range o.Cells {
			if i < 0 || i >= len(s.Cells) {
				return nil, fmt.Errorf("%w %d: the study has %d cells, 0 to %d", ErrNoSuchCell, i, len(s.Cells), len(s.Cells)-1)
			}
			selected = append(selected, s.Cells[i])
		}
	}
	cellsDir := filepath.Join(out, "cells")
	// Every cell is checked before anything runs or is written.
	initial := map[int]stored{}
	for _, c := range selected {
		st, err := s.readCell(filepath.Join(cellsDir, c.Dir), c)
		if err != nil {
			return nil, err
		}
		initial[c.Index] = st
	}
	if err := os.MkdirAll(cellsDir, 0o755); err != nil {
		return nil, fmt.Errorf("study folder: %w", err)
	}
	if err := s.writeSources(out); err != nil {
		return nil, err
	}

	res := &Outcome{Out: out, Cells: len(selected)}
	q := &queue{s: s, out: out, keepFailed: o.KeepFailed, initial: initial}
	for _, c := range selected {
		st := initial[c.Index]
		if st.state == StateDone || (st.state == StateFailed && o.KeepFailed) {
			res.Skipped++
		} else {
			q.pending = append(q.pending, c)
		}
	}
	if res.Skipped > 0 && len(q.pending) > 0 {
		fmt.Fprintf(logw, "study %s: %d of %d cells already finished; running the other %d\n", s.Name, res.Skipped, len(selected), len(q.pending))
	}
	prog := newProgress(o.Progress, s.Name, len(selected), res.Skipped)
	var mu sync.Mutex // guards res, firstErr and the log
	var firstErr error
	stopped := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return firstErr != nil || ctx.Err() != nil
	}
	var waiting sync.Once
	var wg sync.WaitGroup
	nw := min(workers, max(1, len(q.pending))) // before the workers start taking cells from q.pending
	for w := 0; w < nw; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopped() {
				c, lock, wait, err := q.next()
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				if c == nil {
					if !wait {
						return
					}
					waiting.Do(func() {
						mu.Lock()
						prog.clear()
						fmt.Fprintf(logw, "study %s: waiting for cells that other processes run (%s)\n", s.Name, q.heldBy())
						mu.Unlock()
					})
					select {
					case <-ctx.Done():
					case <-time.After(poll):
					}
					continue
				}
				prog.started()
				t0 := time.Now()
				cctx, cancel := context.WithCancel(ctx)
				go func() {
					select {
					case <-lock.Lost():
						cancel()
					case <-cctx.Done():
					}
				}()
				st, err := s.runCell(cctx, c, filepath.Join(cellsDir, c.Dir), !o.KeepFailed, logw, runLog, o.OnStep)
				lost := cctx.Err() != nil && ctx.Err() == nil
				cancel()
				if rerr := lock.Release(); err == nil && rerr != nil {
					err = rerr
				}
				mu.Lock()
				switch {
				case err != nil:
					if firstErr == nil {
						firstErr = fmt.Errorf("cell %d (%s): %w", c.Index, s.describe(c), err)
					}
				case st == cellSkipped:
					res.Others++
				case st == cellDone || st == cellFailed:
					res.Ran++
					what := "done"
					if st == cellFailed {
						res.Failed++
						what = "FAILED (see " + filepath.Join(cellsDir, c.Dir, MetricsFile) + ")"
					}
					prog.clear()
					fmt.Fprintf(logw, "[%d/%d] %s: %s in %.1fs\n", c.Index+1, len(s.Cells), s.describe(c), what, time.Since(t0).Seconds())
				case st == cellInterrupted && lost:
					prog.clear()
					fmt.Fprintf(logw, "cell %d (%s): lock %s lost to another process; leaving the cell to it\n", c.Index, s.describe(c), lockPath(out, c))
					q.requeue(c)
				}
				mu.Unlock()
				prog.finished(st, err)
				if (st == cellDone || st == cellFailed) && err == nil && o.OnCellDone != nil {
					o.OnCellDone(c)
				}
			}
		}()
	}
	wg.Wait()
	prog.stop()
	res.Others += q.others
	res.Seconds = time.Since(start).Seconds()
	if firstErr != nil {
		return res, firstErr
	}
	if err := ctx.Err(); err != nil {
		left := 0
		for _, c := range selected {
			if st, err := s.readCell(filepath.Join(cellsDir, c.Dir), c); err != nil || (st.state != StateDone && st.state != StateFailed) {
				left++
			}
		}
		return res, fmt.Errorf("study %s: %w with %d of %d cells left (%w): run it again to continue", s.Name, framework.ErrInterrupted, left, len(selected), err)
	}
	if len(o.Cells) > 0 {
		var failed []string
		for _, c := range selected {
			st, err := s.readCell(filepath.Join(cellsDir, c.Dir), c)
			if err != nil {
				return res, err
			}
			if st.state == StateFailed {
				failed = append(failed, fmt.Sprintf("cell %d (%s): %s", c.Index, s.describe(c), st.err))
			}
		}
		if len(failed) > 0 {
			return res, fmt.Errorf("%w: %d of %d: %s", ErrCellFailed, len(failed), len(selected), strings.Join(failed, "; "))
		}
		return res, nil
	}
	if err := s.writeOutputs(out, s.Cells, logw); err != nil {
		return res, err
	}
	return res, nil
}

// queue hands out the cells of one execution to its workers, each with its lock held.
type queue struct {
	s          *Study
	out        string
	keepFailed bool
	initial    map[int]stored // the cells' states when the execution started

	mu      sync.Mutex
	pending []*Cell
	held    map[int]lockfile.Info // cells last found held by other processes
	others  int                   // cells found finished by other processes
}

// next returns a pending cell with its lock held. When every pending cell is held by another
// process it returns wait = true; when none is left, nil and false.
func (q *queue) next() (*Cell, *lockfile.Lock, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.held = map[int]lockfile.Info{}
	for i := 0; i < len(q.pending); i++ {
		c := q.pending[i]
		done, err := q.finished(c)
		if err != nil {
			return nil, nil, false, err
		}
		if done {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			q.others++
			i--
			continue
		}
		purpose := fmt.Sprintf("cell %d of study %s", c.Index, q.s.Name)
		if job := slurmJob(); job != "" {
			purpose += ", Slurm job " + job
		}
		lock, err := lockfile.Acquire(lockPath(q.out, c), lockfile.Options{Purpose: purpose})
		var he *lockfile.HeldError
		if errors.As(err, &he) {
			q.held[c.Index] = he.Holder
			continue
		}
		if err != nil {
			return nil, nil, false, err
		}
		if done, err = q.finished(c); err != nil || done {
			lock.Release()
			if err != nil {
				return nil, nil, false, err
			}
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			q.others++
			i--
			continue
		}
		q.pending = append(q.pending[:i], q.pending[i+1:]...)
		return c, lock, false, nil
	}
	return nil, nil, len(q.pending) > 0, nil
}

// finished reports whether another process finished cell c since the execution started: it
// is done, or it failed (again) after the execution started, or it failed and failed cells
// are kept.
func (q *queue) finished(c *Cell) (bool, error) {
	st, err := q.s.readCell(filepath.Join(q.out, "cells", c.Dir), c)
	if err != nil {
		return false, err
	}
	switch st.state {
	case StateDone:
		return true, nil
	case StateFailed:
		return q.keepFailed || st.attempt != q.initial[c.Index].attempt, nil
	}
	return false, nil
}

// requeue puts back a cell whose lock was lost, to wait for its new holder.
func (q *queue) requeue(c *Cell) {
	q.mu.Lock()
	q.pending = append(q.pending, c)
	q.mu.Unlock()
}

// heldBy describes the holders of the cells last found held.
func (q *queue) heldBy() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var parts []string
	for _, c := range q.pending {
		if h, ok := q.held[c.Index]; ok {
			parts = append(parts, fmt.Sprintf("cell %d: %s", c.Index, h))
		}
	}
	return strings.Join(parts, "; ")
}

// folder returns the study folder: out, or the study file's out when out is empty.
func (s *Study) folder(out string) string {
	if out == "" {
		return s.Out
	}
	return out
}

// writeSources keeps copies of the study file and its base run file in the study folder.
func (s *Study) writeSources(out string) error {
	text, err := os.ReadFile(s.Path)
	if err != nil {
		return err
	}
	if err := framework.WriteFileAtomic(filepath.Join(out, "study.toml"), text); err != nil {
		return err
	}
	return framework.WriteFileAtomic(filepath.Join(out, "base.toml"), s.baseText)
}
