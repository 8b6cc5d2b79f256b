//go:build slow

package trainers

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// Slow statistical checks: go test -tags slow -run Slow ./trainers/

// Plain SSM (one Gaussian projection per point, no variance reduction: the PyTorch peer's
// estimator) on the full gauss20 batch converges to the closed-form SM estimate S⁻¹, to the
// same 1% as the quick SSM-VR test.
func TestSlowPlainSSMConvergesGauss20(t *testing.T) {
	x := loadGauss20(t)
	_, d := x.Dims()
	_, s := meanCov(x)
	sInv := invSym(t, s)
	e := gaussian(t, d)
	ev := framework.NewEvaluator(e)
	theta := make([]float64, e.Spec().NumParams())
	e.InitParams(theta, nil)
	tr, err := NewSlicedScoreMatching(DefaultSSMOptions())
	require.NoError(t, err)
	theta = trainAdam(t, tr, ev, x, theta, 0, schedule{lr0: 2e-2, lr1: 1e-4, hold: 200, steps: 700}, 250)
	w, _ := quadW(theta, d)
	errW := relFro(w, sInv)
	t.Logf("‖W−S⁻¹‖/‖S⁻¹‖ = %.3g", errW)
	assert.Less(t, errW, 0.01)
}

// NCE from its default start, log Z = 0 (the initial energy's log-normaliser is
// (d/2) log 2π = 18.4), reaches the same optimum as the quick test given enough steps.
func TestSlowNCEFromZeroLogZ(t *testing.T) {
	x := loadGauss20(t)
	_, d := x.Dims()
	_, s := meanCov(x)
	sInv := invSym(t, s)
	e := gaussian(t, d)
	ev := framework.NewEvaluator(e)
	p := e.Spec().NumParams()
	tr, err := NewNoiseContrastive(DefaultNCEOptions())
	require.NoError(t, err)
	theta := make([]float64, p+1)
	e.InitParams(theta[:p], nil)
	tr.InitExtra(theta[p:])
	theta = trainAdam(t, tr, ev, x, theta, 1000, schedule{lr0: 2e-2, lr1: 1e-4, hold: 3000, steps: 4500}, 1000)
	w, b := quadW(theta, d)
	var chol mat.Cholesky
	require.True(t, chol.Factorize(mat.NewSymDense(d, w.RawMatrix().Data)))
	var wInvB mat.VecDense
	require.NoError(t, chol.SolveVecTo(&wInvB, b))
	logZ := 0.5*(float64(d)*math.Log(2*math.Pi)-chol.LogDet()) + 0.5*mat.Dot(b, &wInvB)
	t.Logf("‖W−S⁻¹‖/‖S⁻¹‖ = %.3g, log Z learned %.5g, analytic %.5g", relFro(w, sInv), theta[p], logZ)
	assert.Less(t, relFro(w, sInv), 0.015)
	assert.InDelta(t, logZ, theta[p], 0.02)
}
