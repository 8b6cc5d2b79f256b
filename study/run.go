package study

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/goebm/goebm/framework"
)

// Options are the settings of one execution of a study.
type Options struct {
	// Out is the study folder; empty: the study file's out.
	Out string
	// Workers is the number of cells run at once; 0: the study file's workers, else GOMAXPROCS.
	Workers int
	// Progress, when not nil, receives a one-line display of cells done, running and left,
	// redrawn in place: pass a terminal, never a file or CI log.
	Progress io.Writer
	// Log receives one line per cell finished (and warnings); nil discards them.
	Log io.Writer
	// OnCellDone, when set, is called after each cell that ran to its end (for tests).
	OnCellDone func(c *Cell)
	// OnStep, when set, is called after every training step of every cell, from the cell's
	// worker goroutine (for tests).
	OnStep func(c *Cell, step int)
}

// Outcome counts what an execution did.
type Outcome struct {
	Out                         string
	Cells, Ran, Skipped, Failed int
	Seconds                     float64
}

// Run executes the study: every cell not yet finished, Workers at a time, then writes
// results.csv, timing.csv, summary.md and the plots from the cells' files. When ctx is
// cancelled, running cells stop between two training steps (their checkpoints let the next
// execution continue them) and Run returns an error wrapping framework.ErrInterrupted;
// running it again finishes the study.
func (s *Study) Run(ctx context.Context, o Options) (*Outcome, error) {
	start := time.Now()
	out := o.Out
	if out == "" {
		out = s.Out
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	workers := o.Workers
	if workers == 0 {
		workers = s.Workers
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	cellsDir := filepath.Join(out, "cells")
	if err := os.MkdirAll(cellsDir, 0o755); err != nil {
		return nil, fmt.Errorf("study folder: %w", err)
	}
	for _, c := range s.Cells {
		if err := s.checkCell(filepath.Join(cellsDir, c.Dir), c); err != nil {
			return nil, err
		}
	}
	if err := s.writeSources(out); err != nil {
		return nil, err
	}

	res := &Outcome{Out: out, Cells: len(s.Cells)}
	var todo []*Cell
	for _, c := range s.Cells {
		if finished(filepath.Join(cellsDir, c.Dir)) {
			res.Skipped++
		} else {
			todo = append(todo, c)
		}
	}
	if res.Skipped > 0 && len(todo) > 0 {
		fmt.Fprintf(logw, "study %s: %d of %d cells already finished; running the other %d\n", s.Name, res.Skipped, len(s.Cells), len(todo))
	}
	prog := newProgress(o.Progress, s.Name, len(s.Cells), res.Skipped)
	queue := make(chan *Cell)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for w := 0; w < min(workers, max(1, len(todo))); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range queue {
				prog.started()
				t0 := time.Now()
				st, err := s.runCell(ctx, c, filepath.Join(cellsDir, c.Dir), logw, o.OnStep)
				mu.Lock()
				switch {
				case err != nil:
					if firstErr == nil {
						firstErr = fmt.Errorf("cell %d (%s): %w", c.Index, s.describe(c), err)
					}
				case st == cellDone || st == cellFailed:
					res.Ran++
					what := "done"
					if st == cellFailed {
						res.Failed++
						what = "FAILED (see " + filepath.Join(cellsDir, c.Dir, MetricsFile) + ")"
					}
					prog.clear()
					fmt.Fprintf(logw, "[%d/%d] %s: %s in %.1fs\n", c.Index+1, len(s.Cells), s.describe(c), what, time.Since(t0).Seconds())
				}
				mu.Unlock()
				prog.finished(st, err)
				if (st == cellDone || st == cellFailed) && err == nil && o.OnCellDone != nil {
					o.OnCellDone(c)
				}
			}
		}()
	}
	for _, c := range todo {
		if ctx.Err() != nil {
			break
		}
		select {
		case queue <- c:
		case <-ctx.Done():
		}
	}
	close(queue)
	wg.Wait()
	prog.stop()
	res.Seconds = time.Since(start).Seconds()
	if firstErr != nil {
		return res, firstErr
	}
	if err := ctx.Err(); err != nil {
		left := 0
		for _, c := range s.Cells {
			if !finished(filepath.Join(cellsDir, c.Dir)) {
				left++
			}
		}
		return res, fmt.Errorf("study %s: %w with %d of %d cells left (%w): run it again to continue", s.Name, framework.ErrInterrupted, left, len(s.Cells), err)
	}
	if err := s.writeOutputs(out, logw); err != nil {
		return res, err
	}
	return res, nil
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
