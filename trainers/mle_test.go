package trainers

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
)

// The mle gradient is the derivative of its loss, for each way of computing log Z: the
// Gaussian's closed form, the RBM's sum over hidden units and enumeration (an Ising model).
func TestMLEGradientFD(t *testing.T) {
	rbm, err := energy.NewRBM(5, 3)
	require.NoError(t, err)
	rbmTheta := make([]float64, rbm.Spec().NumParams())
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range rbmTheta {
		rbmTheta[i] = 0.5 * rng.NormFloat64()
	}
	ising, err := energy.NewIsing(5, false)
	require.NoError(t, err)
	isingTheta := make([]float64, ising.Spec().NumParams())
	for i := range isingTheta {
		isingTheta[i] = 0.3 * rng.NormFloat64()
	}
	bits := mat.NewDense(30, 5, nil)
	for i := range bits.RawMatrix().Data {
		bits.RawMatrix().Data[i] = float64(rng.IntN(2))
	}
	for _, tc := range []struct {
		name  string
		e     framework.Energy
		theta []float64
		x     *mat.Dense
	}{
		{"gaussian", gaussian(t, 3), randomQuadTheta(3, 4), correlatedRows(40, 2)},
		{"rbm", rbm, rbmTheta, bits},
		{"ising bits (enumeration)", ising, isingTheta, bits},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewMaximumLikelihood()
			ev := framework.NewEvaluator(tc.e)
			require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Train: tc.x}))
			checkGradFD(t, tr, ev, tc.x, tc.theta, 1e-6)
		})
	}
}

// The RBM's log Z by summing out the hidden units equals the sum of exp(−F(v)) over the 2^D
// visible states.
func TestRBMLogPartitionEnumeration(t *testing.T) {
	e, err := energy.NewRBM(6, 4)
	require.NoError(t, err)
	theta := make([]float64, e.Spec().NumParams())
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range theta {
		theta[i] = rng.NormFloat64()
	}
	states := mat.NewDense(64, 6, nil)
	for k := 0; k < 64; k++ {
		framework.Binary.State(states.RawRowView(k), uint64(k))
	}
	var res framework.Result
	require.NoError(t, framework.NewEvaluator(e).Evaluate(&framework.Request{Outputs: framework.OutEnergy, X: states, Theta: theta}, &res))
	neg := make([]float64, 64)
	for k, v := range res.Energy {
		neg[k] = -v
	}
	lz, err := e.LogPartition(theta, nil)
	require.NoError(t, err)
	assert.InDelta(t, floats.LogSumExp(neg), lz, 1e-12)
}

// mle on a Gaussian is solved in closed form: W = S⁻¹, b = W x̄, where its gradient vanishes,
// and the loss there is the mean negative log-likelihood of N(x̄, S).
func TestMLEGaussianClosedForm(t *testing.T) {
	x := correlatedRows(200, 9)
	_, d := x.Dims()
	e := gaussian(t, d)
	tr := NewMaximumLikelihood()
	ev := framework.NewEvaluator(e)
	ctx := &framework.TrainContext{Eval: ev, Train: x}
	require.NoError(t, tr.Init(ctx))
	require.True(t, tr.ClosedForm())
	theta := make([]float64, e.Spec().NumParams())
	loss, err := tr.Solve(ctx, theta)
	require.NoError(t, err)
	_, s := meanCov(x)
	sInv := invSym(t, s)
	w, _ := quadW(theta, d)
	assert.Less(t, relFro(w, sInv), 1e-12)
	g := make([]float64, len(theta))
	_, err = tr.Step(&framework.StepContext{Eval: ev}, x, theta, g)
	require.NoError(t, err)
	assert.Less(t, maxAbsSlice(g), 1e-10)
	var chol mat.Cholesky
	require.True(t, chol.Factorize(s))
	want := 0.5 * (float64(d)*math.Log(2*math.Pi) + chol.LogDet() + float64(d))
	assert.InDelta(t, want, loss, 1e-10, "NLL of N(x̄, S) on its own data: ½(d log 2π + log det S + d)")
}
