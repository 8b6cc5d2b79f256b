package energy

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/goebm/goebm/check"
	"github.com/goebm/goebm/framework"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

func TestGaussianDerivatives(t *testing.T) {
	for _, diag := range []bool{false, true} {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("diagonal=%v/seed=%d", diag, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 10))
				g, err := NewGaussian(4, diag)
				require.NoError(t, err)
				theta := randomTheta(g, rng, 0.5)
				x := normalPoints(rng, 7, 4, 1.5)
				requireChecks(t, g, theta, x, check.Options{Seed: seed})
				requireLinear(t, g, theta, x)
				requireFallback(t, g, theta, x, check.Options{Seed: seed})
			})
		}
	}
}

// TestGaussianClosedForm compares E and ∇ₓE with ½xᵀWx − bᵀx and Wx − b computed directly
// from W = (A+Aᵀ)/2, and checks the linear statistics reproduce E, ∇ₓE and ΔₓE.
func TestGaussianClosedForm(t *testing.T) {
	const d, n = 3, 5
	rng := rand.New(rand.NewPCG(7, 7))
	g, err := NewGaussian(d, false)
	require.NoError(t, err)
	theta := randomTheta(g, rng, 1)
	a := mat.NewDense(d, d, theta[:d*d])
	w := mat.NewDense(d, d, nil)
	w.Add(a, a.T())
	w.Scale(0.5, w)
	b := mat.NewVecDense(d, theta[d*d:])
	x := normalPoints(rng, n, d, 1)
	var res framework.Result
	req := framework.Request{Outputs: framework.OutEnergy | framework.OutGradX | framework.OutLaplacian, X: x, Theta: theta}
	res.Reset(req.Outputs, n, d, len(theta))
	require.NoError(t, g.Evaluate(&req, &res))
	jac := mat.NewDense(len(theta), d, nil)
	lap := make([]float64, len(theta))
	for i := 0; i < n; i++ {
		xi := mat.NewVecDense(d, mat.Row(nil, i, x))
		var wx mat.VecDense
		wx.MulVec(w, xi)
		assert.InDelta(t, 0.5*mat.Dot(xi, &wx)-mat.Dot(b, xi), res.Energy[i], 1e-12)
		for k := 0; k < d; k++ {
			assert.InDelta(t, wx.AtVec(k)-b.AtVec(k), res.GradX.At(i, k), 1e-12)
		}
		assert.InDelta(t, mat.Trace(w), res.Laplacian[i], 1e-12)

		// E = θᵀT(x): ∇ₓE = θᵀ∇ₓT and ΔₓE = θᵀΔₓT (no offset).
		g.Statistics(xi.RawVector().Data, jac, lap)
		var grad mat.VecDense
		grad.MulVec(jac.T(), mat.NewVecDense(len(theta), theta))
		for k := 0; k < d; k++ {
			assert.InDelta(t, res.GradX.At(i, k), grad.AtVec(k), 1e-12)
		}
		assert.InDelta(t, res.Laplacian[i], mat.Dot(mat.NewVecDense(len(lap), lap), mat.NewVecDense(len(theta), theta)), 1e-12)
		off := make([]float64, d)
		assert.Equal(t, 0.0, g.OffsetGrad(xi.RawVector().Data, off))
	}
}

func TestGaussianInit(t *testing.T) {
	g, err := NewGaussian(3, false)
	require.NoError(t, err)
	theta := make([]float64, g.Spec().NumParams())
	g.InitParams(theta, nil)
	assert.Equal(t, []float64{1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0}, theta)
	_, err = NewGaussian(0, false)
	assert.Error(t, err)
}
