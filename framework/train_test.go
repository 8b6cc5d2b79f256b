package framework

import (
	"context"
	"errors"
	"math"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// meanTrainer's loss is ½‖θ − mean(batch)‖²: its minimiser over the whole data is the
// column mean, which the test knows without the loop.
type meanTrainer struct {
	nanAt   int
	batches [][]float64 // the first column of every training batch, to check batching
	closed  bool
}

func (m *meanTrainer) Init(ctx *TrainContext) error { return nil }

func (m *meanTrainer) Step(ctx *StepContext, batch *mat.Dense, theta, grad []float64) (float64, error) {
	n, d := batch.Dims()
	if grad != nil {
		m.batches = append(m.batches, mat.Col(nil, 0, batch))
	}
	loss := 0.0
	for j := 0; j < d; j++ {
		mu := mat.Sum(batch.ColView(j)) / float64(n)
		diff := theta[j] - mu
		loss += diff * diff / 2
		if grad != nil {
			grad[j] = diff
		}
	}
	if grad != nil && ctx.Step == m.nanAt {
		grad[0] = math.Inf(1)
	}
	return loss, nil
}

func (m *meanTrainer) ClosedForm() bool { return m.closed }

func (m *meanTrainer) Solve(ctx *TrainContext, theta []float64) (float64, error) {
	n, d := ctx.Train.Dims()
	for j := 0; j < d; j++ {
		theta[j] = mat.Sum(ctx.Train.ColView(j)) / float64(n)
	}
	return 0, nil
}

type sgd struct{ lr float64 }

func (s *sgd) Update(theta, grad []float64) {
	for i := range theta {
		theta[i] -= s.lr * grad[i]
	}
}
func (s *sgd) LR() float64      { return s.lr }
func (s *sgd) SetLR(lr float64) { s.lr = lr }

func testRun(tr Trainer, steps int) *Run {
	data := mat.NewDense(6, 2, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	return &Run{Eval: NewEvaluator(&quartic{d: 2}), Trainer: tr, Optimizer: &sgd{lr: 0.5},
		Train: data, Theta: make([]float64, 2), Streams: Streams{Seed: 1},
		Schedule: Schedule{Batch: 6, Steps: steps, Shuffle: true, LogEvery: 5}}
}

func TestTrainConvergesToKnownOptimum(t *testing.T) {
	r := testRun(&meanTrainer{nanAt: -1}, 60)
	var recs []Metrics
	r.OnMetrics = func(m Metrics) error { recs = append(recs, m); return nil }
	out, err := Train(context.Background(), r)
	require.NoError(t, err)
	assert.InDelta(t, 6.0, r.Theta[0], 1e-9)
	assert.InDelta(t, 7.0, r.Theta[1], 1e-9)
	assert.Equal(t, 60, out.Steps)
	assert.Len(t, recs, 12)
	assert.Equal(t, 60, recs[len(recs)-1].Step)
	assert.InDelta(t, 60.0, recs[len(recs)-1].Epoch, 1e-12, "one full batch per epoch")
}

func TestTrainEpochBudgetAndPartialBatches(t *testing.T) {
	tr := &meanTrainer{nanAt: -1}
	r := testRun(tr, 0)
	r.Schedule.Batch, r.Schedule.Epochs = 4, 3 // 6 rows: batches of 4 and 2
	out, err := Train(context.Background(), r)
	require.NoError(t, err)
	assert.Equal(t, 6, out.Steps)
	require.Len(t, tr.batches, 6)
	var orders [][]float64
	for e := 0; e < 3; e++ {
		first, rest := tr.batches[2*e], tr.batches[2*e+1]
		assert.Len(t, first, 4, "epoch %d: a full batch, then the 2 rows left", e)
		assert.Len(t, rest, 2, "epoch %d", e)
		epoch := append(append([]float64(nil), first...), rest...)
		orders = append(orders, append([]float64(nil), epoch...))
		sort.Float64s(epoch)
		assert.Equal(t, []float64{1, 3, 5, 7, 9, 11}, epoch, "epoch %d uses every row exactly once", e)
	}
	assert.False(t, slices.Equal(orders[0], orders[1]) && slices.Equal(orders[1], orders[2]), "shuffle = true reorders the rows between epochs")
}

func TestTrainStopsOnNonFiniteGradient(t *testing.T) {
	r := testRun(&meanTrainer{nanAt: 7}, 20)
	_, err := Train(context.Background(), r)
	var nf *NonFiniteError
	require.True(t, errors.As(err, &nf), "got %v", err)
	assert.Equal(t, 7, nf.Step)
	assert.Equal(t, "gradient", nf.Quantity)
	assert.Contains(t, err.Error(), "at step 7")
}

func TestTrainClosedForm(t *testing.T) {
	r := testRun(&meanTrainer{closed: true}, 20)
	out, err := Train(context.Background(), r)
	require.NoError(t, err)
	assert.True(t, out.ClosedForm)
	assert.Equal(t, []float64{6, 7}, r.Theta)
}

func TestTrainClipNorm(t *testing.T) {
	r := testRun(&meanTrainer{nanAt: -1}, 1)
	r.Optimizer = &sgd{lr: 1}
	r.Schedule.ClipNorm = 1
	_, err := Train(context.Background(), r)
	require.NoError(t, err)
	// The first gradient is −(6, 7); clipped to unit norm, one unit step moves θ by it.
	assert.InDelta(t, 1.0, math.Hypot(r.Theta[0], r.Theta[1]), 1e-12)
	assert.InDelta(t, 6/math.Hypot(6, 7), r.Theta[0], 1e-12)
}

func TestTrainCancelled(t *testing.T) {
	r := testRun(&meanTrainer{nanAt: -1}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Train(ctx, r)
	assert.ErrorIs(t, err, context.Canceled)
}
