package trainers

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
)

// The exact SM loss of N(0, I) on data from N(0, I) is E[½‖x‖² − d] = −d/2; the per-row losses
// have variance ¼·Var χ²_d = d/2, and the test checks the mean within 4 standard errors
// computed from the per-row losses themselves.
func TestSMLossStandardNormal(t *testing.T) {
	for _, d := range []int{1, 4, 10} {
		const n = 4000
		e := gaussian(t, d)
		ev := framework.NewEvaluator(e)
		theta := make([]float64, e.Spec().NumParams())
		e.InitParams(theta, nil) // W = I, b = 0
		x := normalRows(n, d, uint64(d))
		tr := NewScoreMatching(SMOptions{})
		require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Train: x}))

		rows := make([]float64, n)
		sum, sum2 := 0.0, 0.0
		for i := 0; i < n; i++ {
			row := x.Slice(i, i+1, 0, d).(*mat.Dense)
			rows[i] = stepAt(t, tr, ev, row, theta, nil, 1)
			sum += rows[i]
			sum2 += rows[i] * rows[i]
		}
		mean := sum / n
		se := math.Sqrt((sum2/n - mean*mean) / (n - 1))
		batch := stepAt(t, tr, ev, x, theta, nil, 1)
		assert.InDelta(t, mean, batch, 1e-12*n, "batch loss is the mean of the per-row losses")
		assert.InDeltaf(t, -float64(d)/2, mean, 4*se, "d=%d: mean %v, SE %v", d, mean, se)
		// The standard error itself is near its theoretical value √(d/2)/√n.
		assert.InEpsilon(t, math.Sqrt(float64(d)/2/n), se, 0.1)
	}
}

func TestSMGradientFD(t *testing.T) {
	for _, tc := range []struct {
		name  string
		force framework.Output
	}{
		{"exact", 0},
		{"fallback", framework.OutMixed | framework.OutLaplacian | framework.OutLaplacianVJP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const d = 3
			e := gaussian(t, d)
			ev := framework.NewEvaluator(e)
			ev.ForceFallback = tc.force
			x := normalRows(40, d, 5)
			tr := NewScoreMatching(SMOptions{})
			require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Train: x}))
			checkGradFD(t, tr, ev, x, randomQuadTheta(d, 1), 1e-6)
		})
	}
}

// The closed-form SM estimate of a Gaussian is its maximum-likelihood estimate: W = S⁻¹ and
// b = S⁻¹μ̂ with S the biased sample covariance. PROVENANCE.md gives ‖S⁻¹ − K‖/‖K‖.
func TestSMClosedFormGauss20(t *testing.T) {
	x := loadGauss20(t)
	_, d := x.Dims()
	e := gaussian(t, d)
	ev := framework.NewEvaluator(e)
	tr := NewScoreMatching(SMOptions{ClosedForm: true})
	ctx := &framework.TrainContext{Eval: ev, Train: x}
	require.NoError(t, tr.Init(ctx))
	require.True(t, tr.ClosedForm())
	theta := make([]float64, e.Spec().NumParams())
	loss, err := tr.Solve(ctx, theta)
	require.NoError(t, err)

	mu, s := meanCov(x)
	sInv := invSym(t, s)
	var bWant mat.VecDense
	bWant.MulVec(sInv, mu)
	w, b := quadW(theta, d)
	assert.Less(t, relFro(w, sInv), 1e-8, "W = S⁻¹")
	assert.Less(t, relFro(b, &bWant), 1e-8, "b = S⁻¹μ̂")
	// Minimum norm: the duplicated coefficients A_jk, A_kj are split equally.
	for j := 0; j < d; j++ {
		for k := 0; k < j; k++ {
			assert.InDelta(t, theta[j*d+k], theta[k*d+j], 1e-10)
		}
	}

	k, err := framework.ReadCSV("../examples/data/gauss20_precision.csv")
	require.NoError(t, err)
	assert.InDelta(t, 0.02730563787733097, relFro(sInv, k.X), 1e-10, "PROVENANCE.md: ‖S⁻¹−K‖/‖K‖")
	assert.InDelta(t, 0.02730563787733097, relFro(w, k.X), 1e-9)

	// The returned loss is the SM loss at the solution, and the gradient vanishes there.
	grad := make([]float64, len(theta))
	full := stepAt(t, tr, ev, x, theta, grad, 1)
	assert.InDelta(t, full, loss, 1e-9*math.Abs(full))
	assert.Less(t, mat.Norm(mat.NewVecDense(len(grad), grad), math.Inf(1)), 1e-9)
	// At the MLE of a Gaussian the SM loss is −½ tr S⁻¹ (E‖S⁻¹(x−μ̂)‖² = tr S⁻¹).
	assert.InDelta(t, -0.5*mat.Trace(sInv), loss, 1e-9)
}

// A linear energy with a full-rank parametrisation takes the Cholesky path.
func TestSMClosedFormFullRank(t *testing.T) {
	// Diagonal W: θ = (w_1..w_d, b), T = (½x_j², −x_j); the estimate is w_j = 1/S_jj,
	// b_j = μ̂_j/S_jj.
	x := normalRows(500, 3, 17)
	x.Apply(func(i, j int, v float64) float64 { return float64(j+1)*v + float64(j) }, x)
	e, err := energy.NewGaussian(3, true)
	require.NoError(t, err)
	ev := framework.NewEvaluator(e)
	tr := NewScoreMatching(SMOptions{ClosedForm: true})
	ctx := &framework.TrainContext{Eval: ev, Train: x}
	require.NoError(t, tr.Init(ctx))
	theta := make([]float64, 6)
	_, err = tr.Solve(ctx, theta)
	require.NoError(t, err)
	mu, s := meanCov(x)
	for j := 0; j < 3; j++ {
		assert.InEpsilon(t, 1/s.At(j, j), theta[j], 1e-12)
		assert.InEpsilon(t, mu.AtVec(j)/s.At(j, j), theta[3+j], 1e-10)
	}
}

func TestSMErrors(t *testing.T) {
	x := normalRows(10, 2, 1)
	t.Run("closed form without linearity", func(t *testing.T) {
		ev := framework.NewEvaluator(relabel{Energy: gaussian(t, 2), name: "quad-nonlinear-test", drop: framework.CapLinear})
		err := NewScoreMatching(SMOptions{ClosedForm: true}).Init(&framework.TrainContext{Eval: ev, Train: x})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "quad-nonlinear-test")
		assert.Contains(t, err.Error(), "linear")
	})
	t.Run("discrete domain", func(t *testing.T) {
		q := relabel{Energy: gaussian(t, 2), name: "spin-test", domain: framework.Spin}
		err := NewScoreMatching(SMOptions{}).Init(&framework.TrainContext{Eval: framework.NewEvaluator(q), Train: x})
		require.Error(t, err)
		assert.True(t, errors.Is(err, framework.ErrUnsupportedDomain))
		assert.Contains(t, err.Error(), "spin")
		assert.Contains(t, err.Error(), "pl or rm")
	})
	t.Run("shape", func(t *testing.T) {
		ev := framework.NewEvaluator(gaussian(t, 3))
		tr := NewScoreMatching(SMOptions{})
		_, err := tr.Step(&framework.StepContext{Eval: ev}, x, make([]float64, 12), nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "batch")
	})
}
