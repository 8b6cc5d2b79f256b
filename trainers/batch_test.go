package trainers

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/floats"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/samplers"
)

// relDiff returns ‖a − b‖/‖b‖.
func relDiff(a, b []float64) float64 {
	return floats.Distance(a, b, 2) / floats.Norm(b, 2)
}

// L-BFGS on the full gauss20 batch reaches the closed-form score-matching estimate to 1e-8
// relative, in fewer full passes over the data than full-batch Adam (the example's lr 1e-2)
// needs to come within 1e-3 of it. Evaluations are counted, not timed.
func TestLBFGSReachesClosedFormSMGauss20(t *testing.T) {
	x := loadGauss20(t)
	_, d := x.Dims()
	e := gaussian(t, d)
	p := e.Spec().NumParams()
	start := make([]float64, p)
	require.NoError(t, e.InitParams(start, nil))

	cf := append([]float64(nil), start...)
	closed := NewScoreMatching(SMOptions{ClosedForm: true})
	ev := framework.NewEvaluator(e)
	require.NoError(t, closed.Init(&framework.TrainContext{Eval: ev, Train: x}))
	_, err := closed.Solve(&framework.TrainContext{Eval: ev, Train: x}, cf)
	require.NoError(t, err)

	opt, err := NewLBFGS(DefaultBatchOptions())
	require.NoError(t, err)
	theta := append([]float64(nil), start...)
	out, err := framework.Train(context.Background(), &framework.Run{
		Eval: framework.NewEvaluator(e), Trainer: NewScoreMatching(SMOptions{}), Optimizer: opt,
		Train: x, Theta: theta, Streams: framework.Streams{Seed: 1},
		Schedule: framework.Schedule{Batch: 256, Steps: 1000, LogEvery: 10},
	})
	require.NoError(t, err)
	require.NotNil(t, out.Solver)
	rel := relDiff(theta, cf)
	t.Logf("L-BFGS: %s after %d iterations, %d evaluations, max|g| %.2g; ‖θ − θ_cf‖/‖θ_cf‖ = %.3g %s",
		out.Solver.Status, out.Solver.Iterations, out.Solver.Evaluations, out.Solver.GradMax, rel, out.Solver.Message)
	assert.Equal(t, "GradientThreshold", out.Solver.Status)
	assert.True(t, out.Solver.Converged)
	assert.Less(t, rel, 1e-8)

	// Adam, full batch, from the same start: one evaluation per step.
	adam, err := NewAdam(AdamOptions{LR: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	require.NoError(t, err)
	tr := NewScoreMatching(SMOptions{})
	ev = framework.NewEvaluator(e)
	require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Train: x}))
	th := append([]float64(nil), start...)
	g := make([]float64, p)
	ctx := &framework.StepContext{Eval: ev}
	adamEvals := 0
	limit := 10 * out.Solver.Evaluations
	for ; adamEvals < limit && relDiff(th, cf) >= 1e-3; adamEvals++ {
		_, err := tr.Step(ctx, x, th, g)
		require.NoError(t, err)
		adam.Update(th, g)
	}
	t.Logf("Adam: %d evaluations to 1e-3 (limit %d), now %.3g", adamEvals, limit, relDiff(th, cf))
	assert.Less(t, out.Solver.Evaluations, adamEvals)
}

// A full-batch solve interrupted through its context hands OnCheckpoint the iterate it had
// reached; resumed from that checkpoint it restarts the solve there (without the L-BFGS
// memory) and converges to the same minimiser as an uninterrupted run, within the gradient
// tolerance. The metrics records of the resumed run continue the count.
func TestLBFGSInterruptAndResume(t *testing.T) {
	x := normalRows(400, 3, 5)
	e := gaussian(t, 3)
	p := e.Spec().NumParams()
	start := make([]float64, p)
	require.NoError(t, e.InitParams(start, nil))
	run := func(ctx context.Context, theta []float64, resume *framework.Checkpoint, onMetrics func(framework.Metrics) error, onCP func(*framework.Checkpoint) error) (*framework.Outcome, error) {
		opt, err := NewLBFGS(DefaultBatchOptions())
		require.NoError(t, err)
		return framework.Train(ctx, &framework.Run{
			Eval: framework.NewEvaluator(e), Trainer: NewScoreMatching(SMOptions{}), Optimizer: opt,
			Train: x, Theta: theta, Streams: framework.Streams{Seed: 1}, Resume: resume,
			Schedule: framework.Schedule{Batch: 400, Steps: 200, LogEvery: 1}, OnMetrics: onMetrics, OnCheckpoint: onCP,
		})
	}
	full := append([]float64(nil), start...)
	outFull, err := run(context.Background(), full, nil, nil, nil)
	require.NoError(t, err)
	require.True(t, outFull.Solver.Converged)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cp *framework.Checkpoint
	theta := append([]float64(nil), start...)
	_, err = run(ctx, theta, nil, func(m framework.Metrics) error {
		if m.Step == 4 {
			cancel()
		}
		return nil
	}, func(c *framework.Checkpoint) error { cp = c; return nil })
	require.ErrorIs(t, err, framework.ErrInterrupted)
	require.NotNil(t, cp, "an interrupted solve writes a checkpoint")
	assert.Equal(t, 4, cp.Step)
	assert.Equal(t, 4, cp.Records)

	resumed := make([]float64, p)
	var first *framework.Metrics
	out, err := run(context.Background(), resumed, cp, func(m framework.Metrics) error {
		if first == nil {
			first = &m
		}
		return nil
	}, nil)
	require.NoError(t, err)
	require.True(t, out.Solver.Converged)
	assert.Equal(t, 5, first.Step, "the resumed run's records continue after the checkpoint's")
	assert.Less(t, relDiff(resumed, full), 1e-8)
}

// lbfgs refuses a trainer whose loss is not a deterministic function of θ (cd draws its
// negatives from a sampler), naming the optimizers that can train it.
func TestBatchOptimizerRefusesStochasticTrainer(t *testing.T) {
	x := normalRows(10, 2, 1)
	e := gaussian(t, 2)
	cd, err := NewCD(DefaultCDOptions())
	require.NoError(t, err)
	opt, err := NewLBFGS(DefaultBatchOptions())
	require.NoError(t, err)
	ula, err := samplers.NewULA(samplers.DefaultULAOptions())
	require.NoError(t, err)
	theta := make([]float64, e.Spec().NumParams())
	_, err = framework.Train(context.Background(), &framework.Run{
		Eval: framework.NewEvaluator(e), Trainer: cd, Optimizer: opt, Sampler: ula,
		Train: x, Theta: theta, Streams: framework.Streams{Seed: 1},
		Schedule: framework.Schedule{Batch: 10, Steps: 5, LogEvery: 1},
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "use adam or sgd")
}

// With noise held fixed (framework.NoiseFixer), dsm is a deterministic function of θ: two
// evaluations at the same θ agree bit for bit, and lbfgs converges on it.
func TestFixedNoiseDSMConverges(t *testing.T) {
	x := normalRows(300, 2, 3)
	e := gaussian(t, 2)
	p := e.Spec().NumParams()
	tr, err := NewDenoisingScoreMatching(DefaultDSMOptions())
	require.NoError(t, err)
	ev := framework.NewEvaluator(e)
	require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Train: x}))
	tr.FixNoise(42)
	theta := make([]float64, p)
	require.NoError(t, e.InitParams(theta, nil))
	g1, g2 := make([]float64, p), make([]float64, p)
	l1, err := tr.Step(&framework.StepContext{Eval: ev, RNG: rand.New(rand.NewPCG(1, 1))}, x, theta, g1)
	require.NoError(t, err)
	l2, err := tr.Step(&framework.StepContext{Eval: ev, RNG: rand.New(rand.NewPCG(2, 2))}, x, theta, g2)
	require.NoError(t, err)
	assert.Equal(t, l1, l2)
	assert.Equal(t, g1, g2)

	opt, err := NewLBFGS(DefaultBatchOptions())
	require.NoError(t, err)
	tr2, _ := NewDenoisingScoreMatching(DefaultDSMOptions())
	out, err := framework.Train(context.Background(), &framework.Run{
		Eval: framework.NewEvaluator(e), Trainer: tr2, Optimizer: opt,
		Train: x, Theta: theta, Streams: framework.Streams{Seed: 1},
		Schedule: framework.Schedule{Batch: 300, Steps: 500, LogEvery: 10},
	})
	require.NoError(t, err)
	assert.True(t, out.Solver.Converged, "%s: %s", out.Solver.Status, out.Solver.Message)
}
