package samplers

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
)

// checkRingMoments compares the draws with the moments of the ring of 8: mean 0 and
// covariance (2² / 2 + 0.25²)·I = 2.0625·I, each within z Monte Carlo errors from the ESS.
func checkRingMoments(t *testing.T, dr *Draws, z float64) {
	t.Helper()
	for _, m := range []struct {
		name string
		f    func(x []float64) float64
		want float64
	}{
		{"E[x1]", func(x []float64) float64 { return x[0] }, 0},
		{"E[x2]", func(x []float64) float64 { return x[1] }, 0},
		{"E[x1²]", func(x []float64) float64 { return x[0] * x[0] }, 2.0625},
		{"E[x2²]", func(x []float64) float64 { return x[1] * x[1] }, 2.0625},
		{"E[x1·x2]", func(x []float64) float64 { return x[0] * x[1] }, 0},
		{"E[‖x‖²]", func(x []float64) float64 { return x[0]*x[0] + x[1]*x[1] }, 4.125},
	} {
		got, mcse := mcEstimate(dr, m.f)
		within(t, m.name, got, m.want, mcse, z)
	}
}

// ringCase is one sampler on ring8, with its draw options.
type ringCase struct {
	name    string
	build   func() (framework.Sampler, error)
	opts    DrawOptions
	minESS  float64
	maxRHat float64 // 0: not checked
}

func runRing(t *testing.T, cases []ringCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.build()
			require.NoError(t, err)
			dr := draw(t, energy.Ring8(), energy.Ring8Params(), s, tc.opts, 11)
			d := dr.Diagnostics
			t.Logf("acceptance %.3f, step %.4f, ESS %.0f, R̂ %.4f, %.0f chain-steps/s", d.Acceptance, d.StepSize, d.ESS, d.RHat, d.ChainStepsPerSecond)
			require.Greater(t, d.MinESS, tc.minESS, "too few effective draws for a meaningful check")
			if tc.maxRHat > 0 {
				require.Less(t, d.MaxRHat, tc.maxRHat)
			}
			checkRingMoments(t, dr, 4)
		})
	}
}

// The quick version for the default suite. The chains rarely hop between modes this soon
// (R̂ of the coordinates is 1.4–2), so the estimates rest on many chains whose start is
// symmetric under the ring's rotations; the multi-chain ESS counts the disagreement between
// chains, so the tolerance stays honest. E‖x‖² = 4.125 does not depend on the modes and is
// a sharp check of the within-mode law. ring_slow_test.go runs until R̂ < 1.05.
func TestRing8Moments(t *testing.T) {
	runRing(t, []ringCase{
		{"mala", func() (framework.Sampler, error) { return NewMALA(DefaultMALAOptions()) },
			DrawOptions{Chains: 256, Warmup: 500, Steps: 4000, Thin: 4, Init: "normal", InitScale: 2}, 200, 0},
		{"hmc", func() (framework.Sampler, error) { return NewHMC(DefaultHMCOptions()) },
			DrawOptions{Chains: 256, Warmup: 200, Steps: 800, Thin: 1, Init: "normal", InitScale: 2}, 200, 0},
	})
}
