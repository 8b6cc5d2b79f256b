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

// normalLogPDF is the log-density of N(mu, cov), computed with gonum's Cholesky solve (not
// the noise code under test).
type normalLogPDF struct {
	mu   []float64
	chol mat.Cholesky
}

func newNormalLogPDF(t testing.TB, mu []float64, cov mat.Symmetric) *normalLogPDF {
	t.Helper()
	n := &normalLogPDF{mu: mu}
	require.True(t, n.chol.Factorize(cov))
	return n
}

func (n *normalLogPDF) LogProb(x []float64) float64 {
	d := len(x)
	dev := mat.NewVecDense(d, nil)
	for j := range x {
		dev.SetVec(j, x[j]-n.mu[j])
	}
	var sol mat.VecDense
	if err := n.chol.SolveVecTo(&sol, dev); err != nil {
		panic(err)
	}
	return -0.5 * (float64(d)*math.Log(2*math.Pi) + n.chol.LogDet() + mat.Dot(dev, &sol))
}

// correlatedRows returns n rows of N(m, C) with C = LLᵀ for a fixed lower-triangular L.
func correlatedRows(n int, seed uint64) *mat.Dense {
	z := normalRows(n, 3, seed)
	l := mat.NewDense(3, 3, []float64{1.2, 0, 0, 0.5, 0.8, 0, -0.3, 0.4, 0.6})
	var x mat.Dense
	x.Mul(z, l.T())
	m := []float64{0.5, -1, 2}
	x.Apply(func(i, j int, v float64) float64 { return v + m[j] }, &x)
	return &x
}

func TestNCEGradientFD(t *testing.T) {
	const d = 3
	ev := framework.NewEvaluator(gaussian(t, d))
	x := correlatedRows(200, 31)
	batch := x.Slice(0, 20, 0, d).(*mat.Dense)
	for _, o := range []NCEOptions{
		{Noise: "gaussian", Components: 1, Nu: 1},
		{Noise: "gaussian", Components: 1, Nu: 2.5},
		{Noise: "gmm", Components: 2, EMSteps: 5, Nu: 1.5},
	} {
		tr, err := NewNoiseContrastive(o)
		require.NoError(t, err)
		require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Train: x}))
		require.Equal(t, []framework.Block{{Name: "log_z", Shape: []int{1}}}, tr.ExtraBlocks())
		theta := append(randomQuadTheta(d, 32), 1.3)
		checkGradFD(t, tr, ev, batch, theta, 1e-6)
	}
}

// The loss is the negated NCE objective of Gutmann and Hyvärinen, recomputed here with an
// independent noise density (the Gaussian of the sample moments, by gonum's Cholesky) and the documented
// order of the draws: ν·n noise points, each μ + Lz with z from d standard normals.
func TestNCELossDefinition(t *testing.T) {
	const d, n = 3, 15
	ev := framework.NewEvaluator(gaussian(t, d))
	x := correlatedRows(300, 33)
	batch := x.Slice(0, n, 0, d).(*mat.Dense)
	tr, err := NewNoiseContrastive(NCEOptions{Noise: "gaussian", Components: 1, Nu: 2})
	require.NoError(t, err)
	require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Train: x}))
	theta := append(randomQuadTheta(d, 34), 0.7)
	got := stepAt(t, tr, ev, batch, theta, nil, 8)

	mu, s := meanCov(x)
	q := newNormalLogPDF(t, mu.RawVector().Data, s)
	var chol mat.Cholesky
	require.True(t, chol.Factorize(s))
	var l mat.TriDense
	chol.LTo(&l)
	w, b := quadW(theta, d)
	energy := func(u mat.Vector) float64 { return 0.5*mat.Inner(u, w, u) - mat.Dot(b, u) }
	logNu := math.Log(2)
	g := func(u *mat.VecDense) float64 { return -energy(u) - 0.7 - q.LogProb(u.RawVector().Data) - logNu }
	want := 0.0
	for i := 0; i < n; i++ {
		want -= math.Log(1 / (1 + math.Exp(-g(mat.VecDenseCopyOf(batch.RowView(i))))))
	}
	rng := rand.New(rand.NewPCG(8, 3)) // the stream stepAt uses
	for j := 0; j < 2*n; j++ {
		z := mat.NewVecDense(d, nil)
		for k := 0; k < d; k++ {
			z.SetVec(k, rng.NormFloat64())
		}
		var y mat.VecDense
		y.MulVec(&l, z)
		y.AddVec(&y, mu)
		want -= math.Log(1 - 1/(1+math.Exp(-g(&y))))
	}
	want /= n
	assert.InEpsilon(t, want, got, 1e-10)
}

func TestNCENoiseGaussian(t *testing.T) {
	x := correlatedRows(2000, 35)
	g, err := fitGaussNoise(x)
	require.NoError(t, err)
	mu, s := meanCov(x)
	ref := newNormalLogPDF(t, mu.RawVector().Data, s)
	rng := rand.New(rand.NewPCG(1, 2))
	const m = 20000
	y := mat.NewDense(m, 3, nil)
	for i := 0; i < m; i++ {
		lq := g.sample(y.RawRowView(i), rng)
		assert.InDelta(t, ref.LogProb(y.RawRowView(i)), lq, 1e-10)
		assert.InDelta(t, ref.LogProb(y.RawRowView(i)), g.logProb(y.RawRowView(i)), 1e-10)
	}
	// The draws have the fitted moments, within 5 standard errors.
	ym, ys := meanCov(y)
	for j := 0; j < 3; j++ {
		assert.InDelta(t, mu.AtVec(j), ym.AtVec(j), 5*math.Sqrt(s.At(j, j)/m))
		assert.InDelta(t, s.At(j, j), ys.At(j, j), 5*s.At(j, j)*math.Sqrt(2.0/m))
	}
}

// EM recovers a well-separated two-component mixture, and the mixture's log-density is
// log Σₖ πₖ N(x; μₖ, Σₖ) (evaluated here from the fitted parameters by gonum's Cholesky).
func TestNCENoiseGMM(t *testing.T) {
	const n = 4000
	rng := rand.New(rand.NewPCG(3, 4))
	x := mat.NewDense(n, 2, nil)
	for i := 0; i < n; i++ {
		if rng.Float64() < 0.3 {
			x.Set(i, 0, -3+0.5*rng.NormFloat64())
			x.Set(i, 1, 0.5*rng.NormFloat64())
		} else {
			x.Set(i, 0, 3+rng.NormFloat64())
			x.Set(i, 1, 1+0.8*rng.NormFloat64())
		}
	}
	m, err := fitGMMNoise(x, 2, 30)
	require.NoError(t, err)
	lo, hi := 0, 1 // the order along the first principal axis depends on the sign of the axis
	if m.comps[0].mu[0] > 0 {
		lo, hi = 1, 0
	}
	assert.InDelta(t, 0.3, math.Exp(m.logw[lo]), 0.03)
	assert.InDelta(t, 0.7, math.Exp(m.logw[hi]), 0.03)
	assert.InDeltaSlice(t, []float64{-3, 0}, m.comps[lo].mu, 0.05)
	assert.InDeltaSlice(t, []float64{3, 1}, m.comps[hi].mu, 0.08)

	var comps []*normalLogPDF
	for _, c := range m.comps {
		l := mat.NewTriDense(2, mat.Lower, c.l)
		var cov mat.SymDense
		cov.SymOuterK(1, l)
		comps = append(comps, newNormalLogPDF(t, c.mu, &cov))
	}
	y := make([]float64, 2)
	for i := 0; i < 200; i++ {
		lq := m.sample(y, rng)
		want := math.Log(math.Exp(m.logw[0]+comps[0].LogProb(y)) + math.Exp(m.logw[1]+comps[1].LogProb(y)))
		assert.InDelta(t, want, lq, 1e-10)
	}
}

func TestNCEErrors(t *testing.T) {
	for _, tc := range []struct {
		mod func(o *NCEOptions)
		key string
	}{
		{func(o *NCEOptions) { o.Noise = "uniform" }, "noise"},
		{func(o *NCEOptions) { o.Components = 0 }, "noise_components"},
		{func(o *NCEOptions) { o.EMSteps = -1 }, "noise_em_steps"},
		{func(o *NCEOptions) { o.Nu = 0 }, "nu"},
	} {
		o := DefaultNCEOptions()
		tc.mod(&o)
		_, err := NewNoiseContrastive(o)
		var ke *framework.KeyError
		require.ErrorAs(t, err, &ke)
		assert.Equal(t, tc.key, ke.Key)
	}
	tr, err := NewNoiseContrastive(DefaultNCEOptions())
	require.NoError(t, err)
	spin := relabel{Energy: gaussian(t, 2), name: "spin-test", domain: framework.Spin}
	err = tr.Init(&framework.TrainContext{Eval: framework.NewEvaluator(spin), Train: normalRows(5, 2, 1)})
	require.ErrorIs(t, err, framework.ErrUnsupportedDomain)
}

// With a Gaussian model and the moment-matched Gaussian noise, the expected NCE objective is
// stationary exactly at the maximum-likelihood estimate W = S⁻¹, b = S⁻¹μ̂: there G is the
// constant −log ν, so the gradient is proportional to (data mean − noise mean) of ∇θE = T(x),
// which is zero because q matches the first two moments. With fresh noise at every step NCE
// therefore converges to the MLE, which is within sampling error of the truth
// (‖S⁻¹ − K‖/‖K‖ = 0.027), and its log Z to the normaliser of the fitted energy,
// log Z = ½ log det(2πW⁻¹) + ½ bᵀW⁻¹b for E = ½xᵀWx − bᵀx.
//
// NCE's gradient is noisier than score matching's (its curvature is about ν/(1+ν)² of the
// Fisher information), so the test takes more, smaller steps: batches of 1000 data and 1000
// noise points, 2500 Adam steps, the last 800 averaged. The tolerance on W, 1.5% from S⁻¹, is
// the optimisation noise of this budget (about twice what it reaches); log Z is held to 0.02
// nats (a relative error of 2% in Z). log_z starts at the log-normaliser of the initial
// energy W = I, b = 0, (d/2) log 2π: Adam moves it by about the learning rate per step, and
// the test is about the optimum, not the approach.
func TestNCEConvergesGauss20(t *testing.T) {
	x := loadGauss20(t)
	_, d := x.Dims()
	_, s := meanCov(x)
	sInv := invSym(t, s)
	k, err := framework.ReadCSV("../examples/data/gauss20_precision.csv")
	require.NoError(t, err)

	e := gaussian(t, d)
	ev := framework.NewEvaluator(e)
	p := e.Spec().NumParams()
	tr, err := NewNoiseContrastive(DefaultNCEOptions())
	require.NoError(t, err)
	theta := make([]float64, p+1)
	e.InitParams(theta[:p], nil)
	tr.InitExtra(theta[p:])
	require.Zero(t, theta[p])
	theta[p] = 0.5 * float64(d) * math.Log(2*math.Pi)
	theta = trainAdam(t, tr, ev, x, theta, 1000, schedule{lr0: 1e-2, lr1: 1e-4, hold: 1500, steps: 2500}, 800)

	w, b := quadW(theta, d)
	var chol mat.Cholesky
	require.True(t, chol.Factorize(mat.NewSymDense(d, w.RawMatrix().Data)), "learned W is not positive definite")
	var wInvB mat.VecDense
	require.NoError(t, chol.SolveVecTo(&wInvB, b))
	logZ := 0.5*(float64(d)*math.Log(2*math.Pi)-chol.LogDet()) + 0.5*mat.Dot(b, &wInvB)
	errMLE, errK := relFro(w, sInv), relFro(w, k.X)
	t.Logf("‖W−S⁻¹‖/‖S⁻¹‖ = %.3g, ‖W−K‖/‖K‖ = %.3g (MLE: 0.0273), log Z learned %.5g, analytic %.5g", errMLE, errK, theta[p], logZ)
	assert.Less(t, errMLE, 0.015)
	assert.Less(t, errK, 0.0273+0.015)
	assert.InDelta(t, logZ, theta[p], 0.02)
}
