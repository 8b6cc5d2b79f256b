package doublewell

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/check"
	"github.com/goebm/goebm/framework"
)

func TestDerivativesAgainstFiniteDifferences(t *testing.T) {
	e := New(3, *DefaultOptions())
	rng := rand.New(rand.NewPCG(1, 2))
	theta := make([]float64, 6)
	e.InitParams(theta, rng)
	theta[0], theta[1] = 0.3, -0.2
	x := mat.NewDense(5, 3, nil)
	for i := 0; i < 5; i++ {
		for j := 0; j < 3; j++ {
			x.Set(i, j, 1.5*rng.NormFloat64())
		}
	}
	rep, err := check.Energy(e, theta, x, check.Options{Seed: 3})
	require.NoError(t, err, rep.String())
}

func TestClosedForms(t *testing.T) {
	// Wells at ±m: E = 0 and ∇ₓE = 0 there; at the origin E = ¼ Σ cⱼ mⱼ⁴.
	e := New(2, Options{})
	theta := []float64{math.Log(2), math.Log(0.5), 1.5, -0.7}
	x := mat.NewDense(3, 2, []float64{1.5, -0.7, -1.5, 0.7, 0, 0})
	var res framework.Result
	res.Reset(framework.OutEnergy|framework.OutGradX|framework.OutLaplacian, 3, 2, 4)
	require.NoError(t, e.Evaluate(&framework.Request{Outputs: framework.OutEnergy | framework.OutGradX | framework.OutLaplacian, X: x, Theta: theta}, &res))
	assert.InDelta(t, 0, res.Energy[0], 1e-15)
	assert.InDelta(t, 0, res.Energy[1], 1e-15)
	assert.InDelta(t, 0.25*(2*math.Pow(1.5, 4)+0.5*math.Pow(0.7, 4)), res.Energy[2], 1e-14)
	assert.InDelta(t, 0, mat.Norm(res.GradX.Slice(0, 2, 0, 2), 2), 1e-14)
	// At the wells ∂²E/∂xⱼ² = 2cⱼmⱼ²; at the origin −cⱼmⱼ².
	assert.InDelta(t, 2*2*1.5*1.5+2*0.5*0.7*0.7, res.Laplacian[0], 1e-14)
	assert.InDelta(t, -(2*1.5*1.5 + 0.5*0.7*0.7), res.Laplacian[2], 1e-14)
}
