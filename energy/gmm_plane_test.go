package energy

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goebm/goebm/framework"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// The plane kernel and its Go version agree bit for bit, for every number of rows.
func TestGMMPlaneKernelMatchesGeneric(t *testing.T) {
	if !haveFMA {
		t.Skip("no AVX2/FMA")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	const k = 8
	theta := Ring8Params()
	inv, cst := make([]float64, k), make([]float64, k)
	for c := range inv {
		inv[c] = math.Exp(-2 * theta[24+c])
		cst[c] = rng.NormFloat64()
	}
	par := make([]float64, 5*k)
	gmmPlaneParams(par, theta[8:24], inv, cst)
	for _, n := range []int{1, 3, 4, 5, 8, 11, 64} {
		x := make([]float64, 2*n)
		for i := range x {
			x[i] = 3 * rng.NormFloat64()
		}
		x[0] = 40 // far from every component: ℓ ≈ −10⁴, only the max survives
		g, m, tt := make([]float64, 2*n), make([]float64, n), make([]float64, n)
		gmmPlane(x, n, k, par, make([]float64, 4*k), g, m, tt)
		g2, m2, t2 := make([]float64, 2*n), make([]float64, n), make([]float64, n)
		gmmPlaneGeneric(x, k, par, g2, m2, t2)
		require.Equal(t, g2, g, "n = %d", n)
		require.Equal(t, m2, m, "n = %d", n)
		require.Equal(t, t2, tt, "n = %d", n)
	}
}

// The plane pass (E and ∇ₓE only) agrees with the general path (with a second-order output
// asked for) and with −log p of the mixture summed directly, on the ring8 target and on a
// mixture with unequal weights and scales, with X given through a strided view.
func TestGMMPlaneMatchesGeneralPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	g, err := NewGMM(2, 5)
	require.NoError(t, err)
	theta := make([]float64, 5*4)
	g.InitParams(theta, rng)
	for i := 0; i < 5; i++ {
		theta[i] = 0.3 * rng.NormFloat64()    // logits
		theta[15+i] = 0.4 * rng.NormFloat64() // log-scales
	}
	for _, tc := range []struct {
		e     *GMM
		theta []float64
	}{{Ring8(), Ring8Params()}, {g, theta}} {
		n := 37
		wide := mat.NewDense(n, 5, nil)
		x := wide.Slice(0, n, 1, 3).(*mat.Dense)
		for i := 0; i < n; i++ {
			x.Set(i, 0, 2.5*rng.NormFloat64())
			x.Set(i, 1, 2.5*rng.NormFloat64())
		}
		spec := tc.e.Spec()
		fast := framework.Request{Outputs: framework.OutEnergy | framework.OutGradX, X: x, Theta: tc.theta}
		var rf, rg framework.Result
		rf.Reset(fast.Outputs, n, 2, spec.NumParams())
		require.NoError(t, tc.e.Evaluate(&fast, &rf))
		full := fast
		full.Outputs |= framework.OutLaplacian
		rg.Reset(full.Outputs, n, 2, spec.NumParams())
		require.NoError(t, tc.e.Evaluate(&full, &rg))
		K := len(tc.theta) / 4
		logits, means, ls := tc.theta[:K], tc.theta[K:3*K], tc.theta[3*K:]
		for i := 0; i < n; i++ {
			assert.InDelta(t, rg.Energy[i], rf.Energy[i], 1e-13*math.Max(1, math.Abs(rg.Energy[i])))
			for j := 0; j < 2; j++ {
				assert.InDelta(t, rg.GradX.At(i, j), rf.GradX.At(i, j), 1e-13*math.Max(1, math.Abs(rg.GradX.At(i, j))))
			}
			// −log Σ πₖ N(x; μₖ, σₖ²I) directly
			zs := 0.0
			for _, l := range logits {
				zs += math.Exp(l)
			}
			p := 0.0
			for k := 0; k < K; k++ {
				s2 := math.Exp(2 * ls[k])
				d0, d1 := x.At(i, 0)-means[2*k], x.At(i, 1)-means[2*k+1]
				p += math.Exp(logits[k]) / zs * math.Exp(-(d0*d0+d1*d1)/(2*s2)) / (2 * math.Pi * s2)
			}
			assert.InDelta(t, -math.Log(p), rf.Energy[i], 1e-12*math.Max(1, math.Abs(math.Log(p))))
		}
	}
}
