package trainers

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

func TestDSMOptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mod     func(o *DSMOptions)
		key     string
		sigmas  []float64
		weights []float64
	}{
		{name: "default", mod: func(o *DSMOptions) {}, sigmas: []float64{0.1}, weights: []float64{1}},
		{name: "list", mod: func(o *DSMOptions) { o.Sigmas = []float64{1, 0.5} }, sigmas: []float64{1, 0.5}, weights: []float64{1, 0.25}},
		{name: "geometric", mod: func(o *DSMOptions) { o.SigmaMax, o.SigmaMin, o.Levels = 1, 0.01, 3 },
			sigmas: []float64{1, 0.1, 0.01}, weights: []float64{1, 0.01, 1e-4}},
		{name: "bad sigma", mod: func(o *DSMOptions) { o.Sigma = 0 }, key: "sigma"},
		{name: "bad draws", mod: func(o *DSMOptions) { o.Draws = 0 }, key: "draws"},
		{name: "bad list", mod: func(o *DSMOptions) { o.Sigmas = []float64{1, -1} }, key: "sigmas"},
		{name: "both", mod: func(o *DSMOptions) { o.Sigmas = []float64{1}; o.Levels = 3 }, key: "sigmas"},
		{name: "one level", mod: func(o *DSMOptions) { o.SigmaMax, o.SigmaMin, o.Levels = 1, 0.1, 1 }, key: "levels"},
		{name: "max below min", mod: func(o *DSMOptions) { o.SigmaMax, o.SigmaMin, o.Levels = 0.1, 1, 4 }, key: "sigma_max"},
		{name: "no min", mod: func(o *DSMOptions) { o.SigmaMax, o.Levels = 1, 4 }, key: "sigma_min"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultDSMOptions()
			tc.mod(&o)
			tr, err := NewDenoisingScoreMatching(o)
			if tc.key != "" {
				var ke *framework.KeyError
				require.ErrorAs(t, err, &ke)
				assert.Equal(t, tc.key, ke.Key)
				return
			}
			require.NoError(t, err)
			s, w := tr.Sigmas()
			assert.InDeltaSlice(t, tc.sigmas, s, 1e-15)
			assert.InDeltaSlice(t, tc.weights, w, 1e-15)
		})
	}
}

// The loss is ½‖s(x+σε) + ε/σ‖² with s = −∇ₓE (the PyTorch peer's convention), each level
// weighted by σ² in multi-σ mode; recomputed here from the documented order of the draws.
func TestDSMLossConvention(t *testing.T) {
	const d, n = 3, 7
	e := gaussian(t, d)
	ev := framework.NewEvaluator(e)
	x := normalRows(n, d, 3)
	theta := randomQuadTheta(d, 4)
	w, b := quadW(theta, d)
	for _, o := range []DSMOptions{
		{Sigma: 0.2, Draws: 1},
		{Sigma: 0.2, Draws: 3},
		{Sigma: 1, Draws: 2, Sigmas: []float64{0.5, 0.1}},
	} {
		tr, err := NewDenoisingScoreMatching(o)
		require.NoError(t, err)
		got := stepAt(t, tr, ev, x, theta, nil, 5)

		rng := rand.New(rand.NewPCG(5, 3)) // the stream stepAt uses
		sigmas, weights := []float64{o.Sigma}, []float64{1}
		if len(o.Sigmas) > 0 {
			sigmas, weights = o.Sigmas, []float64{0.25, 0.01}
		}
		want := 0.0
		for l, sigma := range sigmas {
			sum := 0.0
			for i := 0; i < n; i++ {
				for k := 0; k < o.Draws; k++ {
					eps := mat.NewVecDense(d, nil)
					xt := mat.NewVecDense(d, nil)
					for j := 0; j < d; j++ {
						eps.SetVec(j, rng.NormFloat64())
						xt.SetVec(j, x.At(i, j)+sigma*eps.AtVec(j))
					}
					var s mat.VecDense // s = −(W x̃ − b)
					s.MulVec(w, xt)
					s.SubVec(b, &s)
					s.AddScaledVec(&s, 1/sigma, eps)
					sum += 0.5 * mat.Dot(&s, &s)
				}
			}
			want += weights[l] * sum / float64(n*o.Draws)
		}
		assert.InEpsilon(t, want, got, 1e-12, "options %+v", o)
	}
}

func TestDSMGradientFD(t *testing.T) {
	const d = 3
	e := gaussian(t, d)
	ev := framework.NewEvaluator(e)
	x := normalRows(30, d, 8)
	for _, o := range []DSMOptions{
		{Sigma: 0.1, Draws: 1},
		{Sigma: 0.5, Draws: 3},
		{Sigma: 0.1, Draws: 2, SigmaMax: 1, SigmaMin: 0.05, Levels: 4},
	} {
		tr, err := NewDenoisingScoreMatching(o)
		require.NoError(t, err)
		require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Train: x}))
		checkGradFD(t, tr, ev, x, randomQuadTheta(d, 9), 1e-6)
	}
}

// DSM of a Gaussian model is score matching on the noisy data x + σε, whose optimum is the
// moment match of the noisy data: W* = (S + σ²I)⁻¹, b* = W*μ̂ (S the biased sample
// covariance). Full-batch Adam with a decaying learning rate and averaged iterates reaches it
// to within 1% (Frobenius, relative); this separates it clearly from the noise-free SM
// estimate S⁻¹, which is 13% away.
func TestDSMConvergesGauss20(t *testing.T) {
	x := loadGauss20(t)
	_, d := x.Dims()
	const sigma = 0.3
	mu, s := meanCov(x)
	noisy := mat.NewSymDense(d, nil)
	noisy.CopySym(s)
	for j := 0; j < d; j++ {
		noisy.SetSym(j, j, s.At(j, j)+sigma*sigma)
	}
	wStar := invSym(t, noisy)
	var bStar mat.VecDense
	bStar.MulVec(wStar, mu)
	sInv := invSym(t, s)
	sep := relFro(sInv, wStar)
	require.Greater(t, sep, 0.1)

	e := gaussian(t, d)
	ev := framework.NewEvaluator(e)
	theta := make([]float64, e.Spec().NumParams())
	e.InitParams(theta, nil)
	tr, err := NewDenoisingScoreMatching(DSMOptions{Sigma: sigma, Draws: 1})
	require.NoError(t, err)
	theta = trainAdam(t, tr, ev, x, theta, 2000, schedule{lr0: 2e-2, lr1: 2e-4, hold: 300, steps: 1200}, 400)
	w, b := quadW(theta, d)
	errW := relFro(w, wStar)
	var db mat.VecDense
	db.SubVec(b, &bStar)
	// b* = W*μ̂ is close to 0 (the data have mean 0), so b is held to an absolute bound: a
	// half the standard error of μ̂ in norm, √(tr S/n).
	seMu := math.Sqrt(mat.Trace(s) / float64(x.RawMatrix().Rows))
	t.Logf("‖W−W*‖/‖W*‖ = %.3g (SM estimate is %.3g away), ‖b−b*‖ = %.3g (SE of μ̂ %.3g)", errW, sep, db.Norm(2), seMu)
	assert.Less(t, errW, 0.01)
	assert.Less(t, db.Norm(2), seMu/2)
}
