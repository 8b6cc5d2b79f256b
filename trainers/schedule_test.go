package trainers

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/framework"
)

// The learning rate follows each schedule's formula step by step: step decay, cosine to
// min_lr over the run's total steps (given by the loop through SetHorizon), and linear warm-up.
func TestScheduleFactors(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    ScheduleOptions
		want func(t int) float64
	}{
		{"step", ScheduleOptions{Kind: "step", StepSize: 3, Gamma: 0.5}, func(t int) float64 { return 0.1 * math.Pow(0.5, float64(t/3)) }},
		{"cosine", ScheduleOptions{Kind: "cosine", MinLR: 0.01}, func(t int) float64 {
			return 0.01 + 0.09*0.5*(1+math.Cos(math.Pi*float64(min(t, 10))/10))
		}},
		{"warm-up then constant", ScheduleOptions{Warmup: 4}, func(t int) float64 { return 0.1 * math.Min(1, float64(t+1)/4) }},
	} {
		sgd, err := NewSGD(SGDOptions{LR: 0.1})
		require.NoError(t, err)
		o := withSchedule(sgd, tc.s, AverageOptions{})
		o.(framework.Horizoner).SetHorizon(10)
		th, g := []float64{0}, []float64{1}
		for step := 0; step < 12; step++ {
			assert.InDelta(t, tc.want(step), o.LR(), 1e-15, "%s, step %d", tc.name, step)
			before := th[0]
			o.Update(th, g)
			assert.InDelta(t, -tc.want(step), th[0]-before, 1e-15, "%s: the step taken at step %d", tc.name, step)
		}
	}
	// Without a schedule or averaging, the optimizer is returned unwrapped.
	sgd, _ := NewSGD(SGDOptions{LR: 0.1})
	assert.Same(t, framework.Optimizer(sgd), withSchedule(sgd, ScheduleOptions{}, AverageOptions{}))
}

// Polyak averaging keeps the running mean of the iterates from step start on, and EMA the
// exponential average; the training loop writes the average into θ at the end and says so.
func TestIterateAveraging(t *testing.T) {
	g := []float64{1}
	sgd, _ := NewSGD(SGDOptions{LR: 0.5})
	o := withSchedule(sgd, ScheduleOptions{}, AverageOptions{Kind: "polyak", Start: 2})
	th := []float64{0}
	var iterates []float64
	for k := 0; k < 6; k++ {
		o.Update(th, g)
		iterates = append(iterates, th[0])
	}
	dst := []float64{0}
	require.True(t, o.(framework.Averager).Average(dst))
	assert.InDelta(t, (iterates[2]+iterates[3]+iterates[4]+iterates[5])/4, dst[0], 1e-15)

	sgd, _ = NewSGD(SGDOptions{LR: 0.5})
	o = withSchedule(sgd, ScheduleOptions{}, AverageOptions{Kind: "ema", Decay: 0.9})
	th = []float64{0}
	ema := 0.0
	for k := 0; k < 5; k++ {
		o.Update(th, g)
		if k == 0 {
			ema = th[0]
		} else {
			ema = 0.9*ema + 0.1*th[0]
		}
	}
	require.True(t, o.(framework.Averager).Average(dst))
	assert.InDelta(t, ema, dst[0], 1e-15)

	// Through the loop: sgd with Polyak averaging on a quadratic; θ at the end is the average.
	x := normalRows(100, 2, 1)
	e := gaussian(t, 2)
	theta := make([]float64, e.Spec().NumParams())
	require.NoError(t, e.InitParams(theta, nil))
	sgd, _ = NewSGD(SGDOptions{LR: 0.05})
	opt := withSchedule(sgd, ScheduleOptions{}, AverageOptions{Kind: "polyak", Start: 50})
	out, err := framework.Train(context.Background(), &framework.Run{
		Eval: framework.NewEvaluator(e), Trainer: NewScoreMatching(SMOptions{}), Optimizer: opt,
		Train: x, Theta: theta, Streams: framework.Streams{Seed: 1},
		Schedule: framework.Schedule{Batch: 20, Steps: 200, LogEvery: 50},
	})
	require.NoError(t, err)
	assert.True(t, out.Averaged)
	avg := make([]float64, len(theta))
	require.True(t, opt.(framework.Averager).Average(avg))
	assert.Equal(t, avg, theta)
}

// The schedule's step, base rate and average travel in the optimizer state, so a restored
// optimizer continues exactly.
func TestScheduledStateRoundTrip(t *testing.T) {
	mk := func() framework.Optimizer {
		a, err := NewAdam(DefaultAdamOptions())
		require.NoError(t, err)
		return withSchedule(a, ScheduleOptions{Kind: "step", StepSize: 2, Gamma: 0.5, Warmup: 1}, AverageOptions{Kind: "ema", Decay: 0.8})
	}
	a, b := mk(), mk()
	th1, th2 := []float64{1, -2}, []float64{1, -2}
	g := func(th []float64) []float64 { return []float64{2 * th[0], th[1] - 1} }
	for k := 0; k < 5; k++ {
		a.Update(th1, g(th1))
	}
	blob, err := a.(framework.Stateful).MarshalBinary()
	require.NoError(t, err)
	require.NoError(t, b.(framework.Stateful).UnmarshalBinary(blob))
	copy(th2, th1)
	for k := 0; k < 5; k++ {
		a.Update(th1, g(th1))
		b.Update(th2, g(th2))
	}
	assert.Equal(t, th1, th2)
	assert.Equal(t, a.LR(), b.LR())
	d1, d2 := make([]float64, 2), make([]float64, 2)
	a.(framework.Averager).Average(d1)
	b.(framework.Averager).Average(d2)
	assert.Equal(t, d1, d2)
}
