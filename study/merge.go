package study

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrIncomplete is wrapped by the error Merge returns when cells are not finished.
var ErrIncomplete = errors.New("cells not finished")

// MergeOptions are the settings of Merge.
type MergeOptions struct {
	// Out is the study folder; empty: the study file's out.
	Out string
	// Partial writes the outputs from the finished cells even when others are not.
	Partial bool
	// Log receives warnings; nil discards them.
	Log io.Writer
}

// MergeOutcome says what Merge found.
type MergeOutcome struct {
	Out string
	// Done and Failed count the finished cells in the outputs; Missing are the cells not
	// finished (to do, or running), not in them.
	Done, Failed int
	Missing      []CellState
	// Written is false when Merge wrote nothing (cells are missing and Partial is not set).
	Written bool
}

// Merge writes results.csv, timing.csv, summary.md and the plots from the cells finished in
// the study folder (a failed cell is finished: its row holds its error). Unless Partial is
// set, it writes nothing when a cell is not finished and returns an error wrapping
// ErrIncomplete that lists them.
func (s *Study) Merge(o MergeOptions) (*MergeOutcome, error) {
	out := s.folder(o.Out)
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	states, err := s.States(out)
	if err != nil {
		return nil, err
	}
	res := &MergeOutcome{Out: out}
	var cells []*Cell
	for _, cs := range states {
		switch cs.State {
		case StateDone:
			res.Done++
			cells = append(cells, cs.Cell)
		case StateFailed:
			res.Failed++
			cells = append(cells, cs.Cell)
		default:
			res.Missing = append(res.Missing, cs)
		}
	}
	if len(res.Missing) > 0 && !o.Partial {
		return res, fmt.Errorf("study %s: %w: %d of %d: %s; run them (ebm study, --cell or --slurm) or merge what there is with --partial",
			s.Name, ErrIncomplete, len(res.Missing), len(s.Cells), s.DescribeStates(res.Missing))
	}
	if err := s.writeOutputs(out, cells, logw); err != nil {
		return res, err
	}
	res.Written = true
	return res, nil
}

// DescribeStates lists cells with their states for messages: "cell 3 (trainer=sm seed=1):
// running (pid 12 on node7 since …)", at most ten of them.
func (s *Study) DescribeStates(states []CellState) string {
	var parts []string
	for i, cs := range states {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more", len(states)-10))
			break
		}
		d := fmt.Sprintf("cell %d (%s): %s", cs.Cell.Index, s.describe(cs.Cell), cs.State)
		if cs.Holder != nil {
			d += fmt.Sprintf(" (pid %d on %s)", cs.Holder.PID, cs.Holder.Host)
		}
		parts = append(parts, d)
	}
	return strings.Join(parts, "; ")
}
