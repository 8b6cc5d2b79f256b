package framework

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
)

// Stateful is implemented by trainers, optimizers and samplers that carry state from step to
// step (Adam's moments, a persistent chain buffer, an adapted step size). A checkpoint keeps
// that state so that a resumed run continues bit for bit. It is the standard library's
// encoding.BinaryMarshaler and BinaryUnmarshaler together.
type Stateful interface {
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}

// CheckpointVersion is the format version of checkpoint.json. Version 2 added the guard's
// last good state, the loss scale, the last logged losses and the input digests, and
// components save their state in binary.
const CheckpointVersion = 2

// ErrBadCheckpoint is wrapped by the errors of a checkpoint that does not fit the run it is
// restored into, or holds values no run writes (an edited or damaged file).
var ErrBadCheckpoint = errors.New("checkpoint does not fit this run")

// Checkpoint is the whole state of a training run between two steps.
type Checkpoint struct {
	Version   int        `json:"version"`
	Step      int        `json:"step"` // steps completed
	Epochs    int        `json:"epochs"`
	Pos       int        `json:"pos"`  // rows of the current epoch already used
	Perm      []int      `json:"perm"` // the current epoch's row order
	Theta     []float64  `json:"theta"`
	LR        float64    `json:"lr"`
	Shuffle   []byte     `json:"shuffle_rng"`
	TrainRNG  []byte     `json:"trainer_rng"`
	Optimizer []byte     `json:"optimizer,omitempty"`
	Trainer   []byte     `json:"trainer,omitempty"`
	Sampler   []byte     `json:"sampler,omitempty"`
	Counts    Counts     `json:"counts"`
	Records   int        `json:"metrics_records"` // records in metrics.jsonl up to this step
	LossSum   float64    `json:"loss_sum"`        // training loss summed since the last record
	LossCount int        `json:"loss_count"`
	LossScale float64    `json:"loss_scale"` // the loss's scale for Guard.MaxLossRatio
	TrainLoss float64    `json:"train_loss"` // the last logged training loss
	ValidLoss *float64   `json:"valid_loss,omitempty"`
	Rollbacks []Rollback `json:"rollbacks,omitempty"`
	Seconds   float64    `json:"seconds"` // wall time spent before this checkpoint
	// Good is the divergence guard's last good state (only with Guard.MaxRollbacks > 0), and
	// Pending says that the state of this checkpoint itself awaits confirmation by the next
	// step: a resumed run rolls back exactly where the uninterrupted one would.
	Good    *Checkpoint `json:"good,omitempty"`
	Pending bool        `json:"pending,omitempty"`
	// Final marks the checkpoint a BatchOptimizer's run writes when its solve has ended
	// (only the outputs are left to write), with the solver's report.
	Final  bool          `json:"final,omitempty"`
	Solver *SolverReport `json:"solver,omitempty"`
	// Inputs are digests of the files the run reads ("data.train" → "sha256:…"), filled by
	// whoever writes the checkpoint, so that a resume can refuse data that changed.
	Inputs map[string]string `json:"inputs,omitempty"`
}

// Rollback records one recovery from divergence.
type Rollback struct {
	Step     int     `json:"step"`     // the step at which the bad value appeared
	Quantity string  `json:"quantity"` // what went bad: loss, gradient, parameters, or an energy output
	Value    float64 `json:"value"`    // the bad value
	ToStep   int     `json:"to_step"`  // the step the run went back to
	LR       float64 `json:"lr"`       // the learning rate after backing off
}

// ReadCheckpoint reads a checkpoint.json written by a run.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return ParseCheckpoint(path, b)
}

// ParseCheckpoint is ReadCheckpoint on bytes already read; path is used in errors. Whether the
// checkpoint fits a run (its sizes, positions and ranges) is checked when it is restored.
func ParseCheckpoint(path string, b []byte) (*Checkpoint, error) {
	var c Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("checkpoint %s is damaged (%v): remove it to start the run afresh: %w", path, err, ErrBadCheckpoint)
	}
	if c.Version != CheckpointVersion {
		return nil, fmt.Errorf("checkpoint %s has format version %d, this ebm reads version %d: %w", path, c.Version, CheckpointVersion, ErrBadCheckpoint)
	}
	return &c, nil
}

// check returns an error wrapping ErrBadCheckpoint unless c fits a run of n rows, p values
// of θ and total steps, with every value in a range a run can write.
func (c *Checkpoint) check(n, p, total int) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrBadCheckpoint, fmt.Sprintf(format, a...))
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case c.Version != CheckpointVersion:
		return bad("checkpoint at step %d is incomplete: a component could not save its state", c.Step)
	case len(c.Theta) != p || len(c.Perm) != n:
		return bad("it has %d parameters and %d rows, the run %d and %d (was the config or the data changed?)", len(c.Theta), len(c.Perm), p, n)
	case c.Step < 0 || c.Step > total:
		return bad("step %d is outside this run's 0 to %d steps", c.Step, total)
	case c.Pos < 0 || c.Pos > n:
		return bad("position %d in the epoch is outside 0 to %d rows", c.Pos, n)
	case c.Epochs < 0 || c.Epochs > c.Step:
		return bad("%d epochs after %d steps", c.Epochs, c.Step)
	case c.Records < 0 || c.LossCount < 0 || c.LossCount > c.Step:
		return bad("%d metrics records and %d losses since the last after %d steps", c.Records, c.LossCount, c.Step)
	case !finite(c.LR) || c.LR < 0:
		return bad("learning rate %v", c.LR)
	case !finite(c.LossSum) || !finite(c.TrainLoss) || !finite(c.Seconds) || c.Seconds < 0:
		return bad("loss sum %v, last loss %v, %v seconds", c.LossSum, c.TrainLoss, c.Seconds)
	case !finite(c.LossScale) || (c.LossScale != 0 && c.LossScale < 1):
		return bad("loss scale %v (0, or at least 1)", c.LossScale)
	case c.ValidLoss != nil && !finite(*c.ValidLoss):
		return bad("validation loss %v", *c.ValidLoss)
	case min(c.Counts.Requests, c.Counts.Calls, c.Counts.Rows, c.Counts.EnergyRows, c.Counts.GradRows, c.Counts.SecondOrderRows, c.Counts.RoundTrips) < 0:
		return bad("negative work counts %+v", c.Counts)
	}
	for i, v := range c.Theta {
		if !finite(v) {
			return bad("parameter %d is %v", i, v)
		}
	}
	seen := make([]bool, n)
	for i, j := range c.Perm {
		if j < 0 || j >= n || seen[j] {
			return bad("the row order is not a permutation of the %d rows (entry %d is %d)", n, i, j)
		}
		seen[j] = true
	}
	for i, rb := range c.Rollbacks {
		if rb.Step < 0 || rb.ToStep < 0 || rb.ToStep > rb.Step || rb.Step > total || !finite(rb.LR) || rb.LR <= 0 {
			return bad("rollback %d: from step %d to %d with learning rate %v", i, rb.Step, rb.ToStep, rb.LR)
		}
	}
	return nil
}

func marshalState(x any) ([]byte, error) {
	if s, ok := x.(Stateful); ok {
		return s.MarshalBinary()
	}
	return nil, nil
}

// unmarshalState restores a component's state. The bytes may come from an edited file, so a
// component that panics on them gives an error, not a crash.
func unmarshalState(x any, b []byte, what string) (err error) {
	s, ok := x.(Stateful)
	switch {
	case ok && b != nil:
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%w: restore %s state: the %s failed on it: %v", ErrBadCheckpoint, what, what, p)
			}
		}()
		if err := s.UnmarshalBinary(b); err != nil {
			return fmt.Errorf("%w: restore %s state: %w", ErrBadCheckpoint, what, err)
		}
	case ok && b == nil:
		return fmt.Errorf("%w: restore %s state: the checkpoint has none (was it written with another method?)", ErrBadCheckpoint, what)
	case !ok && b != nil:
		return fmt.Errorf("%w: restore %s state: the checkpoint has state this %s cannot take (was it written with another method?)", ErrBadCheckpoint, what, what)
	}
	return nil
}

func pcgState(p *rand.PCG) []byte {
	b, _ := p.MarshalBinary() // PCG's MarshalBinary never fails
	return b
}
