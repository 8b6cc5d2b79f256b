package samplers

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// On the 1-D target N(0, s²), ULA with step h is the AR(1) x' = (1 − h/s²)x + √(2h)ξ, whose
// stationary variance is s²/(1 − h/(2s²)). MALA at the same h is exact: variance s².
func TestLangevinGaussianVariance(t *testing.T) {
	const s2, h = 2.25, 0.6
	biased := s2 / (1 - h/(2*s2))
	opts := DrawOptions{Chains: 500, Warmup: 50, Steps: 600, Thin: 1, Init: "normal", InitScale: 1.5}
	sq := func(x []float64) float64 { return x[0] * x[0] }
	theta := gaussTheta(1 / s2)

	ula, err := NewULA(ULAOptions{Step: h, NoiseScale: 1})
	require.NoError(t, err)
	dr := draw(t, gaussDiag(1), theta, ula, opts, 1)
	v, mcse := mcEstimate(dr, sq)
	within(t, "ULA variance", v, biased, mcse, 4)
	require.Greater(t, biased-s2, 8*mcse, "the test must tell the biased variance from s²")
	require.Equal(t, 1.0, dr.Diagnostics.Acceptance)

	// MALA without warm-up keeps h; the chains start at stationarity (init N(0, s²)).
	mala, err := NewMALA(MALAOptions{Step: h, TargetAccept: 0.574})
	require.NoError(t, err)
	opts.Warmup = 0
	dr = draw(t, gaussDiag(1), theta, mala, opts, 2)
	require.Equal(t, h, mala.StepSize())
	v, mcse = mcEstimate(dr, sq)
	within(t, "MALA variance", v, s2, mcse, 4)
	require.Greater(t, biased-v, 4*mcse, "MALA must not show ULA's bias")
	m, mcse := mcEstimate(dr, func(x []float64) float64 { return x[0] })
	within(t, "MALA mean", m, 0, mcse, 4)
	a := dr.Diagnostics.Acceptance
	require.True(t, a > 0.5 && a < 1, "acceptance %v", a)
}

// Annealed Langevin's last level is ULA with step ε at temperature T_L (1 by default, via
// the σ schedule), so after enough moves there the variance on N(0, s²) is
// T_L·s²/(1 − ε/(2T_L s²)), whatever the earlier levels did.
func TestAnnealedLastLevel(t *testing.T) {
	const s2, eps = 1.0, 0.4
	for _, tc := range []struct {
		name string
		opts AnnealedOptions
		temp float64
	}{
		{"sigma schedule", AnnealedOptions{Step: eps, Levels: 3, SigmaMax: 1, SigmaMin: 0.5, StepsPerLevel: 40}, 1},
		{"temperatures", AnnealedOptions{Step: eps, Temperatures: []float64{9, 4}, StepsPerLevel: 40}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewAnnealed(tc.opts)
			require.NoError(t, err)
			dr := draw(t, gaussDiag(1), gaussTheta(1/s2), s,
				DrawOptions{Chains: 1000, Warmup: 0, Steps: 8, Thin: 1, Init: "normal", InitScale: 1}, 3)
			v, mcse := mcEstimate(dr, func(x []float64) float64 { return x[0] * x[0] })
			want := tc.temp * s2 / (1 - eps/(2*tc.temp*s2))
			within(t, "variance after the last level", v, want, mcse, 4)
		})
	}
}

// Warm-up adapts the step size so that the acceptance rate while sampling is near the
// target: on N(0, I₁₀) dual averaging settles within a few hundred steps.
func TestStepSizeAdaptation(t *testing.T) {
	const d = 10
	w := make([]float64, d)
	for j := range w {
		w[j] = 1 + float64(j)/4 // precisions 1..3.25
	}
	theta := gaussTheta(w...)
	opts := DrawOptions{Chains: 64, Warmup: 400, Steps: 400, Thin: 1, Init: "normal", InitScale: 1}
	mala, err := NewMALA(MALAOptions{Step: 1e-3, TargetAccept: 0.574})
	require.NoError(t, err)
	dr := draw(t, gaussDiag(d), theta, mala, opts, 4)
	require.InDelta(t, 0.574, dr.Diagnostics.Acceptance, 0.05)
	require.Greater(t, mala.StepSize(), 1e-2, "the step must have grown from 1e-3")

	hmc, err := NewHMC(HMCOptions{Step: 1e-3, Leapfrog: 5, TargetAccept: 0.65})
	require.NoError(t, err)
	opts.Steps = 200
	dr = draw(t, gaussDiag(d), theta, hmc, opts, 5)
	require.InDelta(t, 0.65, dr.Diagnostics.Acceptance, 0.06)
}
