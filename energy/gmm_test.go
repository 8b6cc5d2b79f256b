package energy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/check"
	"github.com/goebm/goebm/framework"
)

func TestGMMDerivatives(t *testing.T) {
	for _, tc := range []struct{ d, k int }{{2, 3}, {1, 2}, {3, 4}, {2, 1}} {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("d=%d,k=%d/seed=%d", tc.d, tc.k, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 50))
				g, err := NewGMM(tc.d, tc.k)
				require.NoError(t, err)
				theta := randomTheta(g, rng, 0.3)
				x := normalPoints(rng, 6, tc.d, 1.2)
				requireChecks(t, g, theta, x, check.Options{Seed: seed})
				requireFallback(t, g, theta, x, check.Options{Seed: seed})
			})
		}
	}
	t.Run("ring8", func(t *testing.T) {
		// Narrow components (σ = 0.25), points on and between them. E varies in sₖ through
		// exp(−‖x − μₖ‖²e^{−2sₖ}/2), whose fifth derivative reaches (‖x − μₖ‖²/σ²)⁵ ≈ 64⁵;
		// the stencil's truncation error h⁴f⁽⁵⁾/30 needs h = 1e-4 to stay below 1e-6.
		g := Ring8()
		theta := Ring8Params()
		x := mat.NewDense(5, 2, []float64{2, 0, 1.6, 1.5, 0, 0, -1.3, -1.5, 0.3, 2.1})
		requireChecks(t, g, theta, x, check.Options{Step: 1e-4})
		// The Evaluator's O(h²) fallbacks (h = 1e-4) err by about h²/6·|∂³∇ₓE|, and the
		// third derivatives grow like σ⁻⁴ ≈ 256 times those of a unit-scale energy, so
		// the first-difference tolerance is 1e-4 here rather than 1e-5.
		requireFallback(t, g, theta, x, check.Options{FallbackTol: 1e-4})
	})
}

// TestGMMDirect compares E with −log Σₖ πₖ N(x; μₖ, σₖ²I) written out with the density
// formula, at the ring8 parameters and at random ones.
func TestGMMDirect(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	g3, err := NewGMM(3, 4)
	require.NoError(t, err)
	for _, tc := range []struct {
		g     *GMM
		theta []float64
	}{
		{Ring8(), Ring8Params()},
		{g3, randomTheta(g3, rng, 0.5)},
	} {
		spec := tc.g.Spec()
		K, d := spec.Blocks[0].Size(), spec.Dim
		logits, means, ls := tc.theta[:K], tc.theta[K:K+K*d], tc.theta[K+K*d:]
		x := normalPoints(rng, 10, d, 2)
		got := energies(t, tc.g, tc.theta, x)
		z := 0.0
		for _, l := range logits {
			z += math.Exp(l)
		}
		for i := range got {
			p := 0.0
			for k := 0; k < K; k++ {
				s := math.Exp(ls[k])
				q := 0.0
				for j := 0; j < d; j++ {
					diff := x.At(i, j) - means[k*d+j]
					q += diff * diff
				}
				p += math.Exp(logits[k]) / z * math.Exp(-q/(2*s*s)) / math.Pow(2*math.Pi*s*s, float64(d)/2)
			}
			assert.InDelta(t, -math.Log(p), got[i], 1e-12)
		}
	}
	// the ring8 centres, weights and scale
	theta := Ring8Params()
	for k := 0; k < 8; k++ {
		assert.Equal(t, 0.0, theta[k])
		assert.InDelta(t, 2*math.Cos(float64(k)*math.Pi/4), theta[8+2*k], 1e-15)
		assert.InDelta(t, 2*math.Sin(float64(k)*math.Pi/4), theta[8+2*k+1], 1e-15)
		assert.InDelta(t, 0.25, math.Exp(theta[24+k]), 1e-15)
	}
}

// TestRing8LogNormaliser integrates exp(−E) over [−4.5, 4.5]² by the 400×400 midpoint rule;
// the mass outside the square is below e^{−50} (10 standard deviations from every centre)
// and the rule is spectrally accurate for a Gaussian 11 grid steps wide, so log Z = 0 to
// rounding.
func TestRing8LogNormaliser(t *testing.T) {
	g := Ring8()
	require.Equal(t, 0.0, g.LogNormaliser())
	const m, lim = 400, 4.5
	h := 2 * lim / m
	x := mat.NewDense(m*m, 2, nil)
	for i := 0; i < m; i++ {
		for j := 0; j < m; j++ {
			x.Set(i*m+j, 0, -lim+(float64(i)+0.5)*h)
			x.Set(i*m+j, 1, -lim+(float64(j)+0.5)*h)
		}
	}
	theta := make([]float64, g.Spec().NumParams())
	g.InitParams(theta, nil)
	ev := framework.NewEvaluator(g)
	var res framework.Result
	require.NoError(t, ev.Evaluate(&framework.Request{Outputs: framework.OutEnergy, X: x, Theta: theta}, &res))
	neg := make([]float64, len(res.Energy))
	for i, e := range res.Energy {
		neg[i] = -e
	}
	logZ := floats.LogSumExp(neg) + math.Log(h*h)
	assert.InDelta(t, g.LogNormaliser(), logZ, 1e-9)
}

// TestGMMSample checks the ring8 samples' moments (mean 0, covariance 2.0625·I) within 5
// standard errors, and that the component weights are respected on a lopsided mixture.
func TestGMMSample(t *testing.T) {
	g := Ring8()
	const n = 20000
	x, err := g.Sample(Ring8Params(), n, rand.New(rand.NewPCG(4, 4)))
	require.NoError(t, err)
	var mean [2]float64
	var cov [2][2]float64
	for i := 0; i < n; i++ {
		for a := 0; a < 2; a++ {
			mean[a] += x.At(i, a) / n
			for b := 0; b < 2; b++ {
				cov[a][b] += x.At(i, a) * x.At(i, b) / n
			}
		}
	}
	const v = 2.0625
	for a := 0; a < 2; a++ {
		assert.InDelta(t, 0, mean[a], 5*math.Sqrt(v/n))
		// E x⁴ for one coordinate: components at (2cos, 2sin): E over the ring of
		// (m + 0.25ε)⁴ — bound Var(x²) by 3·(v+…)²; a loose 5σ with Var ≤ 3v².
		assert.InDelta(t, v, cov[a][a], 5*math.Sqrt(3*v*v/n))
	}
	assert.InDelta(t, 0, cov[0][1], 5*math.Sqrt(v*v/n))

	// Two components with weights 0.9 and 0.1, far apart: count who is where.
	g2, err := NewGMM(1, 2)
	require.NoError(t, err)
	theta := []float64{math.Log(0.9), math.Log(0.1), -10, 10, 0, 0}
	y, err := g2.Sample(theta, n, rand.New(rand.NewPCG(5, 5)))
	require.NoError(t, err)
	right := 0.0
	for i := 0; i < n; i++ {
		if y.At(i, 0) > 0 {
			right++
		}
	}
	assert.InDelta(t, 0.1, right/n, 5*math.Sqrt(0.09/n))
	_, err = g2.Sample(theta[1:], 3, rand.New(rand.NewPCG(5, 5)))
	assert.Error(t, err)
}
