package samplers

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ar1 returns m chains of n draws of xₜ = ρxₜ₋₁ + √(1−ρ²)εₜ started at stationarity
// (unit variance), plus mean offsets[k] for chain k.
func ar1(rng *rand.Rand, m, n int, rho float64, offsets []float64) [][]float64 {
	chains := make([][]float64, m)
	s := math.Sqrt(1 - rho*rho)
	for k := range chains {
		c := make([]float64, n)
		x := rng.NormFloat64()
		for t := range c {
			c[t] = x
			if offsets != nil {
				c[t] += offsets[k]
			}
			x = rho*x + s*rng.NormFloat64()
		}
		chains[k] = c
	}
	return chains
}

func TestAutocovariance(t *testing.T) {
	// The FFT autocovariance equals the direct sum.
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, 37)
	for i := range x {
		x[i] = rng.NormFloat64() + 3
	}
	var ws acovWorkspace
	got := make([]float64, len(x))
	mu := ws.autocov(got, x)
	assert.InDelta(t, mean(x), mu, 1e-14)
	for lag := range x {
		want := 0.0
		for s := 0; s+lag < len(x); s++ {
			want += (x[s] - mu) * (x[s+lag] - mu)
		}
		assert.InDelta(t, want/float64(len(x)), got[lag], 1e-12, "lag %d", lag)
	}
}

func TestESSAndRHat(t *testing.T) {
	const m, n, reps = 4, 5000, 8
	for _, tc := range []struct {
		name string
		rho  float64
		// The mean ESS over reps replicates must be within tol (relative) of the AR(1)
		// value N·m(1−ρ)/(1+ρ): about three standard errors of that mean (one replicate
		// scatters by ≈2% for iid draws and ≈10% at ρ = 0.9).
		tol float64
	}{
		{"iid", 0, 0.03},
		{"ar1 rho=0.5", 0.5, 0.04},
		{"ar1 rho=0.9", 0.9, 0.12},
		{"ar1 rho=-0.3", -0.3, 0.04},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(1000*tc.rho+10)))
			want := float64(n*m) * (1 - tc.rho) / (1 + tc.rho)
			var ess, split float64
			for r := 0; r < reps; r++ {
				chains := ar1(rng, m, n, tc.rho, nil)
				ess += ESS(chains) / reps
				split += SplitESS(chains) / reps
				assert.InDelta(t, 1, SplitRHat(chains), 0.01, "R̂ of agreeing chains")
			}
			assert.InEpsilon(t, want, ess, tc.tol, "ESS")
			assert.InEpsilon(t, want, split, tc.tol, "split ESS")
		})
	}
}

func TestRHatDisagreeingChains(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	// Chains with means 0, 0, 0, 3 and unit variance: split into 8 halves, the half means
	// 0 (six times) and 3 (twice) have unbiased variance B/N = 13.5/7 against W = 1, so
	// R̂ ≈ √(1 + 13.5/7) ≈ 1.71.
	chains := ar1(rng, 4, 2000, 0.2, []float64{0, 0, 0, 3})
	r := SplitRHat(chains)
	assert.InDelta(t, math.Sqrt(1+13.5/7), r, 0.05)
	assert.Greater(t, r, 1.5)
	// ESS collapses towards the number of chains.
	assert.Less(t, ESS(chains), 40.0)

	// A chain that drifts: its halves disagree, which split R̂ sees even with one chain.
	drift := make([]float64, 1000)
	for i := range drift {
		drift[i] = float64(i)/100 + rng.NormFloat64()
	}
	assert.Greater(t, SplitRHat([][]float64{drift}), 1.5)
}

func TestDiagnosticsEdgeCases(t *testing.T) {
	constant := [][]float64{{2, 2, 2, 2, 2}, {2, 2, 2, 2, 2}}
	assert.Equal(t, 1.0, SplitRHat(constant))
	assert.True(t, math.IsNaN(ESS(constant)))
	stuck := [][]float64{{0, 0, 0, 0}, {1, 1, 1, 1}}
	assert.True(t, math.IsInf(SplitRHat(stuck), 1))
	short := [][]float64{{1, 2, 3}}
	assert.True(t, math.IsNaN(ESS(short)))
	assert.True(t, math.IsNaN(SplitRHat(short)))
	require.True(t, math.IsNaN(ESS([][]float64{{1, 2, 3, 4}, {1, 2}})))
}
