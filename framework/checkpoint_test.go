package framework

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// noisyTrainer draws from its stream every step and keeps a running state, so that a resume
// that lost either would change the trajectory.
type noisyTrainer struct{ calls float64 }

func (n *noisyTrainer) Init(*TrainContext) error { return nil }
func (n *noisyTrainer) Step(ctx *StepContext, batch *mat.Dense, theta, grad []float64) (float64, error) {
	r, d := batch.Dims()
	loss := 0.0
	for j := 0; j < d; j++ {
		mu := mat.Sum(batch.ColView(j)) / float64(r)
		diff := theta[j] - mu
		loss += diff * diff / 2
		if grad != nil {
			grad[j] = diff + 0.1*ctx.RNG.NormFloat64() + 1e-3*n.calls
		}
	}
	if grad != nil {
		n.calls++
	}
	return loss, nil
}
func (n *noisyTrainer) MarshalBinary() ([]byte, error) { return json.Marshal(n.calls) }
func (n *noisyTrainer) UnmarshalBinary(b []byte) error { return json.Unmarshal(b, &n.calls) }

// momentum is a stateful optimizer.
type momentum struct {
	lr float64
	v  []float64
}

func (m *momentum) Update(theta, grad []float64) {
	if m.v == nil {
		m.v = make([]float64, len(theta))
	}
	for i := range theta {
		m.v[i] = 0.9*m.v[i] + grad[i]
		theta[i] -= m.lr * m.v[i]
	}
}
func (m *momentum) LR() float64                    { return m.lr }
func (m *momentum) SetLR(lr float64)               { m.lr = lr }
func (m *momentum) MarshalBinary() ([]byte, error) { return json.Marshal(m.v) }
func (m *momentum) UnmarshalBinary(b []byte) error { return json.Unmarshal(b, &m.v) }

func resumableRun() *Run {
	rng := rand.New(rand.NewPCG(1, 1))
	data := randDense(rng, 50, 3)
	return &Run{Eval: NewEvaluator(&quartic{d: 3}), Trainer: &noisyTrainer{}, Optimizer: &momentum{lr: 0.05},
		Train: data, Theta: make([]float64, 3), Streams: Streams{Seed: 9},
		Schedule: Schedule{Batch: 7, Steps: 40, Shuffle: true, LogEvery: 3}}
}

// cancelAt cancels the run's context once it has completed the given step.
func cancelAt(r *Run, step int) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	r.OnStep = func(s, total int, loss float64) {
		if s == step {
			cancel()
		}
	}
	return ctx
}

// Interrupting a run at random steps, and resuming each time from the checkpoint it wrote
// (through a file, as the command does), ends with the uninterrupted run's parameters bit for bit.
func TestInterruptAndResumeBitIdentical(t *testing.T) {
	ref := resumableRun()
	_, err := Train(context.Background(), ref)
	require.NoError(t, err)

	rng := rand.New(rand.NewPCG(2, 2))
	for trial := 0; trial < 5; trial++ {
		var cp *Checkpoint
		path := filepath.Join(t.TempDir(), "checkpoint.json")
		for done := false; !done; {
			r := resumableRun()
			r.Resume = cp
			stop := 1 + rng.IntN(39)
			ctx := cancelAt(r, stop)
			r.OnCheckpoint = func(c *Checkpoint) error { return WriteJSONAtomic(path, c) }
			out, err := Train(ctx, r)
			if err == nil {
				assert.Equal(t, ref.Theta, r.Theta, "trial %d", trial)
				assert.Equal(t, 40, out.Steps)
				done = true
				continue
			}
			require.ErrorIs(t, err, ErrInterrupted)
			cp, err = ReadCheckpoint(path)
			require.NoError(t, err)
		}
	}
}

func TestResumeRejectsMismatchedCheckpoint(t *testing.T) {
	r := resumableRun()
	r.Resume = &Checkpoint{Version: CheckpointVersion, Theta: make([]float64, 5), Perm: make([]int, 50)}
	_, err := Train(context.Background(), r)
	require.ErrorContains(t, err, "checkpoint does not fit this run")
}

// explodingOpt is plain gradient descent; with a large learning rate on ½‖θ−μ‖² it diverges
// geometrically (factor |1 − lr| per step), with lr < 2 it converges.
func TestDivergenceRollbackThenConverges(t *testing.T) {
	r := testRun(&meanTrainer{nanAt: -1}, 200)
	r.Optimizer = &sgd{lr: 3.5} // |1 − 3.5| = 2.5: diverges
	r.Schedule.LogEvery = 1
	r.Schedule.Guard = Guard{MaxRollbacks: 5, LRFactor: 0.5, MaxLoss: 1e6}
	var rbs []Rollback
	r.OnMetrics = func(m Metrics) error {
		if m.Rollback != nil {
			rbs = append(rbs, *m.Rollback)
		}
		return nil
	}
	out, err := Train(context.Background(), r)
	require.NoError(t, err)
	// 3.5 → 1.75 converges (|1 − 1.75| = 0.75), so exactly one rollback is needed.
	require.Len(t, rbs, 1)
	assert.Equal(t, rbs, out.Rollbacks)
	assert.Equal(t, "loss", rbs[0].Quantity)
	assert.Equal(t, 1.75, rbs[0].LR)
	assert.InDelta(t, 6.0, r.Theta[0], 1e-9)
	assert.InDelta(t, 7.0, r.Theta[1], 1e-9)
}

func TestDivergenceGivesUpWithDiagnostic(t *testing.T) {
	r := testRun(&meanTrainer{nanAt: -1}, 200)
	r.Optimizer = &sgd{lr: 40} // needs more than two halvings
	r.Schedule.Guard = Guard{MaxRollbacks: 2, LRFactor: 0.5, MaxLoss: 1e6}
	_, err := Train(context.Background(), r)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "diverged again after 2 rollbacks")
	assert.Contains(t, err.Error(), "beyond the divergence threshold")
	assert.False(t, math.IsNaN(r.Theta[0]))
}
