package trainers

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/framework"
)

type torchRun struct {
	LR, LR2, Beta1, Beta2, Eps, Momentum float64
	Nesterov                             bool
	Trajectory                           [][]float64
}

// The trajectories in testdata/torch_optim.json were computed by torch.optim (see
// testdata/torch_optim.py) from the same polynomial gradient; Adam and SGD follow them to
// rounding: 1e-13 relative over 60 steps (they differ from torch in the last bits only, as
// torch's vectorised kernels fuse some multiply-adds; a formula that differed, say ε inside
// the square root or a missing bias correction, would be off by 1e-8 or more).
func TestOptimizersMatchTorch(t *testing.T) {
	raw, err := os.ReadFile("testdata/torch_optim.json")
	require.NoError(t, err)
	var ref struct {
		Target, Theta0 []float64
		Steps          int
		Adam           torchRun `json:"adam"`
		AdamCustom     torchRun `json:"adam_custom"`
		SGD            torchRun `json:"sgd"`
		SGDMomentum    torchRun `json:"sgd_momentum"`
		SGDNesterov    torchRun `json:"sgd_nesterov"`
	}
	require.NoError(t, json.Unmarshal(raw, &ref))
	grad := func(dst, theta []float64) {
		for i, th := range theta {
			e := th - ref.Target[i]
			dst[i] = e + float64(0.1*float64(float64(e*e)*e))
		}
	}
	adam := func(r torchRun) framework.Optimizer {
		o, err := NewAdam(AdamOptions{LR: r.LR, Beta1: r.Beta1, Beta2: r.Beta2, Eps: r.Eps})
		require.NoError(t, err)
		return o
	}
	sgd := func(r torchRun) framework.Optimizer {
		o, err := NewSGD(SGDOptions{LR: r.LR, Momentum: r.Momentum, Nesterov: r.Nesterov})
		require.NoError(t, err)
		return o
	}
	for _, tc := range []struct {
		name string
		run  torchRun
		make func(torchRun) framework.Optimizer
	}{
		{"adam", ref.Adam, adam},
		{"adam custom", ref.AdamCustom, adam},
		{"sgd", ref.SGD, sgd},
		{"sgd momentum", ref.SGDMomentum, sgd},
		{"sgd nesterov", ref.SGDNesterov, sgd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Len(t, tc.run.Trajectory, ref.Steps)
			opt := tc.make(tc.run)
			theta := append([]float64(nil), ref.Theta0...)
			g := make([]float64, len(theta))
			worst := 0.0
			for k := 0; k < ref.Steps; k++ {
				if k == ref.Steps/2 {
					opt.SetLR(tc.run.LR2)
				}
				grad(g, theta)
				opt.Update(theta, g)
				for i, v := range tc.run.Trajectory[k] {
					worst = math.Max(worst, math.Abs(theta[i]-v)/math.Max(1, math.Abs(v)))
				}
			}
			t.Logf("largest relative deviation from torch over %d steps: %.3g", ref.Steps, worst)
			assert.LessOrEqual(t, worst, 1e-13)
			assert.Equal(t, tc.run.LR2, opt.LR())
		})
	}
}

func TestOptimizerNoAllocation(t *testing.T) {
	a, err := NewAdam(DefaultAdamOptions())
	require.NoError(t, err)
	s, err := NewSGD(SGDOptions{LR: 0.1, Momentum: 0.5, Nesterov: true})
	require.NoError(t, err)
	theta, g := make([]float64, 100), make([]float64, 100)
	for i := range g {
		g[i] = float64(i) - 50
	}
	for _, o := range []framework.Optimizer{a, s} {
		o.Update(theta, g) // the first update allocates the state
		assert.Zero(t, testing.AllocsPerRun(100, func() { o.Update(theta, g) }))
	}
}

// A state saved after some steps and restored into a fresh optimizer continues exactly.
func TestOptimizerState(t *testing.T) {
	a1, _ := NewAdam(DefaultAdamOptions())
	s1, _ := NewSGD(SGDOptions{LR: 0.1, Momentum: 0.9})
	a2, _ := NewAdam(DefaultAdamOptions())
	s2, _ := NewSGD(SGDOptions{LR: 0.1, Momentum: 0.9})
	for _, pair := range [][2]interface {
		framework.Optimizer
		MarshalBinary() ([]byte, error)
		UnmarshalBinary([]byte) error
	}{{a1, a2}, {s1, s2}} {
		th1 := []float64{1, -2, 3}
		g := func(th []float64) []float64 { return []float64{th[0] * 2, th[1] - 1, math.Sin(th[2])} }
		for k := 0; k < 5; k++ {
			pair[0].Update(th1, g(th1))
		}
		pair[0].SetLR(0.03)
		b, err := pair[0].MarshalBinary()
		require.NoError(t, err)
		require.NoError(t, pair[1].UnmarshalBinary(b))
		th2 := append([]float64(nil), th1...)
		for k := 0; k < 5; k++ {
			pair[0].Update(th1, g(th1))
			pair[1].Update(th2, g(th2))
		}
		assert.Equal(t, th1, th2)
		assert.Equal(t, 0.03, pair[1].LR())
	}
}

func TestOptimizerOptions(t *testing.T) {
	for _, tc := range []struct {
		opts interface{ Validate() error }
		key  string
	}{
		{&AdamOptions{LR: 0, Beta1: 0.9, Beta2: 0.999}, "lr"},
		{&AdamOptions{LR: 1, Beta1: 1, Beta2: 0.999}, "beta1"},
		{&AdamOptions{LR: 1, Beta1: 0.9, Beta2: -0.1}, "beta2"},
		{&AdamOptions{LR: 1, Beta1: 0.9, Beta2: 0.9, Eps: -1}, "eps"},
		{&SGDOptions{LR: math.Inf(1)}, "lr"},
		{&SGDOptions{LR: 1, Momentum: 1}, "momentum"},
		{&SGDOptions{LR: 1, Nesterov: true}, "nesterov"},
		{&SGDOptions{LR: 1, WeightDecay: -1}, "weight_decay"},
		{&AdamOptions{LR: 1, Beta1: 0.9, Beta2: 0.9, Schedule: ScheduleOptions{Kind: "linear"}}, "schedule.kind"},
		{&AdamOptions{LR: 1, Beta1: 0.9, Beta2: 0.9, Schedule: ScheduleOptions{Kind: "step", Gamma: 2}}, "schedule.gamma"},
		{&SGDOptions{LR: 1, Schedule: ScheduleOptions{Warmup: -1}}, "schedule.warmup"},
		{&SGDOptions{LR: 1, Average: AverageOptions{Kind: "swa"}}, "average.kind"},
		{&SGDOptions{LR: 1, Average: AverageOptions{Kind: "ema", Decay: 1}}, "average.decay"},
	} {
		var ke *framework.KeyError
		require.ErrorAs(t, tc.opts.Validate(), &ke)
		assert.Equal(t, tc.key, ke.Key)
	}
	d := DefaultAdamOptions()
	assert.NoError(t, d.Validate())
	assert.Equal(t, AdamOptions{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		Schedule: ScheduleOptions{Kind: "constant", StepSize: 1000, Gamma: 0.1}, Average: AverageOptions{Kind: "none", Decay: 0.999}}, d)
}
