package framework

import (
	"encoding/json"
	"fmt"
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

// CheckpointVersion is the format version of checkpoint.json.
const CheckpointVersion = 1

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
	Rollbacks []Rollback `json:"rollbacks,omitempty"`
	Seconds   float64    `json:"seconds"` // wall time spent before this checkpoint
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
	var c Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("checkpoint %s is damaged (%v): remove it to start the run afresh", path, err)
	}
	if c.Version != CheckpointVersion {
		return nil, fmt.Errorf("checkpoint %s has format version %d, this ebm reads version %d", path, c.Version, CheckpointVersion)
	}
	return &c, nil
}

func marshalState(x any) ([]byte, error) {
	if s, ok := x.(Stateful); ok {
		return s.MarshalBinary()
	}
	return nil, nil
}

func unmarshalState(x any, b []byte, what string) error {
	s, ok := x.(Stateful)
	switch {
	case ok && b != nil:
		if err := s.UnmarshalBinary(b); err != nil {
			return fmt.Errorf("restore %s state: %w", what, err)
		}
	case ok && b == nil:
		return fmt.Errorf("restore %s state: the checkpoint has none (was it written with another method?)", what)
	case !ok && b != nil:
		return fmt.Errorf("restore %s state: the checkpoint has state this %s cannot take (was it written with another method?)", what, what)
	}
	return nil
}

func pcgState(p *rand.PCG) []byte {
	b, _ := p.MarshalBinary() // PCG's MarshalBinary never fails
	return b
}
