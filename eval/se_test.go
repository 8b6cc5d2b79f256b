package eval_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/eval"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/trainers"
)

// gaussSMFit returns the closed-form score-matching estimate of the gaussian energy on x.
func gaussSMFit(t *testing.T, e framework.Energy, x *mat.Dense) []float64 {
	t.Helper()
	tr := trainers.NewScoreMatching(trainers.SMOptions{ClosedForm: true})
	ev := framework.NewEvaluator(e)
	ctx := &framework.TrainContext{Eval: ev, Train: x}
	require.NoError(t, tr.Init(ctx))
	theta := make([]float64, e.Spec().NumParams())
	_, err := tr.Solve(ctx, theta)
	require.NoError(t, err)
	return theta
}

// For a Gaussian the score-matching estimator is the maximum-likelihood estimator
// (Ŵ = S⁻¹, b̂ = Ŵx̄), so its sandwich covariance tends to the inverse Fisher information. At
// b = 0 (gauss20 is N(0, K⁻¹)) that is, derived here from the Wishart moments of S and from
// b̂ ≈ K x̄:
//
//	Cov(Ŵⱼₖ, Ŵₗₘ) = (KⱼₗKₖₘ + KⱼₘKₖₗ)/n,   Cov(b̂) = K/n,   Cov(Ŵ, b̂) = 0,
//
// so SE(Ŵⱼₖ) = √((KⱼⱼKₖₖ + Kⱼₖ²)/n) and SE(b̂ⱼ) = √(Kⱼⱼ/n). The sandwich computed by
// eval.StandardErrors on the 20000 gauss20 rows (H exact, the meat from the data's fourth
// moments) agrees with it, at K = Ŵ, within the sampling error of the fourth moments
// (relative ≈ √(κ/n) ≈ 2%): every one of the 420 standard errors within 6%, and their mean
// ratio within 1%. The symmetric block stores Wⱼₖ twice; both entries get the same standard
// error, and so does the estimate's symmetric part.
func TestSESMGaussianMatchesFisher(t *testing.T) {
	ds, err := framework.ReadCSV("../examples/data/gauss20_train.csv.gz")
	require.NoError(t, err)
	x := ds.X
	n, d := x.Dims()
	e, err := energy.NewGaussian(d, false)
	require.NoError(t, err)
	theta := gaussSMFit(t, e, x)
	se, err := eval.StandardErrors(framework.NewEvaluator(e), trainers.NewScoreMatching(trainers.SMOptions{}), x, theta,
		e.Spec().Blocks, framework.Streams{Seed: 1}, eval.DefaultSEOptions())
	require.NoError(t, err)
	require.False(t, se.Singular, se.Message)
	assert.Equal(t, "exact", se.Hessian)
	assert.Equal(t, d*(d+1)/2+d, se.Free, "the free parameters: W's upper triangle and b")
	assert.Less(t, se.GradMax, 1e-10)
	w := se.Blocks[0]
	b := se.Blocks[1]
	K := func(j, k int) float64 { return w.Estimate[j*d+k] }
	worst, sumRatio, cnt := 0.0, 0.0, 0
	for j := 0; j < d; j++ {
		for k := 0; k < d; k++ {
			want := math.Sqrt((K(j, j)*K(k, k) + K(j, k)*K(j, k)) / float64(n))
			r := w.SE[j*d+k] / want
			worst, sumRatio, cnt = math.Max(worst, math.Abs(r-1)), sumRatio+r, cnt+1
			assert.InEpsilon(t, w.SE[j*d+k], w.SE[k*d+j], 1e-10, "symmetric entries (%d,%d)", j, k)
		}
		want := math.Sqrt(K(j, j) / float64(n))
		r := b.SE[j] / want
		worst, sumRatio, cnt = math.Max(worst, math.Abs(r-1)), sumRatio+r, cnt+1
	}
	t.Logf("SE / closed form: worst |ratio − 1| = %.3g, mean ratio %.4f over %d", worst, sumRatio/float64(cnt), cnt)
	assert.Less(t, worst, 0.06)
	assert.InDelta(t, 1, sumRatio/float64(cnt), 0.01)
	// Wald interval: estimate ± z·SE with z = 1.96 at 95%.
	assert.InDelta(t, 1.959964, se.Z, 1e-6)
	assert.InDelta(t, w.Estimate[1]+se.Z*w.SE[1], w.Upper[1], 1e-15)
}

// The Ising energy ignores J's diagonal and uses J's symmetric part: the diagonal entries are
// reported as fixed (standard error 0), the symmetric pairs get equal standard errors, and the
// free parameters are h and the d(d−1)/2 couplings. The standard errors of the pseudolikelihood
// estimate of ising10 match those of the test's own sandwich in the compact parametrisation
// (h, Jᵢⱼ for i < j), computed from the PL objective written from scratch.
func TestSEPLIsingSymmetry(t *testing.T) {
	ds, err := framework.ReadCSV("../examples/data/ising10_train.csv")
	require.NoError(t, err)
	x := ds.X
	n, d := x.Dims()
	e, err := energy.NewIsing(d, true)
	require.NoError(t, err)
	mple, err := isingParams("../examples/data/ising10_mple.csv")
	require.NoError(t, err)
	se, err := eval.StandardErrors(framework.NewEvaluator(e), trainers.NewPseudolikelihood(trainers.DefaultPLOptions()), x, mple,
		e.Spec().Blocks, framework.Streams{Seed: 1}, eval.DefaultSEOptions())
	require.NoError(t, err)
	require.False(t, se.Singular, se.Message)
	assert.Equal(t, d+d*(d-1)/2, se.Free)
	assert.Less(t, se.GradMax, 1e-9, "the file holds the MPLE")
	J := se.Blocks[1]
	var diag []int
	for i := 0; i < d; i++ {
		diag = append(diag, i*d+i)
	}
	assert.Equal(t, diag, J.Fixed)

	// The test's own sandwich: per-row PL gradients and Hessian in the compact parametrisation.
	p := d + d*(d-1)/2
	pair := func(i, j int) int {
		if i > j {
			i, j = j, i
		}
		return d + i*d - i*(i+1)/2 + (j - i - 1)
	}
	th := make([]float64, p)
	copy(th, mple[:d])
	for i := 0; i < d; i++ {
		for j := i + 1; j < d; j++ {
			th[pair(i, j)] = mple[d+i*d+j]
		}
	}
	H := mat.NewSymDense(p, nil)
	psi := mat.NewDense(n, p, nil)
	for r := 0; r < n; r++ {
		s := x.RawRowView(r)
		row := psi.RawRowView(r)
		for i := 0; i < d; i++ {
			a := th[i]
			idx, val := []int{i}, []float64{1}
			for j := 0; j < d; j++ {
				if j != i {
					a += th[pair(i, j)] * s[j]
					idx, val = append(idx, pair(i, j)), append(val, s[j])
				}
			}
			// −log σ(2sᵢaᵢ): derivative −(sᵢ − tanh aᵢ), second derivative 1 − tanh² aᵢ.
			g, h2 := -(s[i] - math.Tanh(a)), 1-math.Tanh(a)*math.Tanh(a)
			for u, ku := range idx {
				row[ku] += g * val[u] / float64(n)
				for v, kv := range idx {
					if ku <= kv {
						H.SetSym(ku, kv, H.At(ku, kv)+h2*val[u]*val[v]/float64(n))
					}
				}
			}
		}
	}
	var V mat.SymDense
	V.SymOuterK(1, psi.T())
	var hinv, t1, cov mat.Dense
	require.NoError(t, hinv.Inverse(H))
	t1.Mul(&hinv, &V)
	cov.Mul(&t1, &hinv)
	worst := 0.0
	for i := 0; i < d; i++ {
		worst = math.Max(worst, math.Abs(se.Blocks[0].SE[i]/math.Sqrt(cov.At(i, i))-1))
		for j := 0; j < d; j++ {
			if i == j {
				continue
			}
			assert.InEpsilon(t, J.SE[i*d+j], J.SE[j*d+i], 1e-10)
			worst = math.Max(worst, math.Abs(J.SE[i*d+j]/math.Sqrt(cov.At(pair(i, j), pair(i, j)))-1))
		}
	}
	t.Logf("worst relative difference from the compact sandwich: %.2g", worst)
	assert.Equal(t, "exact", se.Hessian, "pl's Hessian is exact for an energy linear in θ")
	assert.Less(t, worst, 1e-10)
}

// Standard errors are refused for an energy whose parameters have a gauge freedom (an RBM's
// hidden units can be permuted), with an error that says so.
func TestSERefusesGauge(t *testing.T) {
	e, err := energy.NewRBM(4, 3)
	require.NoError(t, err)
	theta := make([]float64, e.Spec().NumParams())
	require.NoError(t, e.InitParams(theta, rand.New(rand.NewPCG(1, 1))))
	x := mat.NewDense(5, 4, []float64{0, 1, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1, 1, 1})
	_, err = eval.StandardErrors(framework.NewEvaluator(e), trainers.NewPseudolikelihood(trainers.DefaultPLOptions()), x, theta,
		e.Spec().Blocks, framework.Streams{Seed: 1}, eval.DefaultSEOptions())
	require.ErrorIs(t, err, eval.ErrGauge)
	assert.Contains(t, err.Error(), "hidden units can be permuted")
}

// With fewer rows than a Gaussian has free parameters the score-matching Hessian is singular on
// the identifiable parameters: flagged, with no standard errors.
func TestSEFlagsSingularHessian(t *testing.T) {
	x := mat.NewDense(3, 3, []float64{1, 0.5, -1, 0.2, -0.4, 0.3, -1.1, 0.9, 0.8})
	e, err := energy.NewGaussian(3, false)
	require.NoError(t, err)
	theta := make([]float64, e.Spec().NumParams())
	require.NoError(t, e.InitParams(theta, nil))
	se, err := eval.StandardErrors(framework.NewEvaluator(e), trainers.NewScoreMatching(trainers.SMOptions{}), x, theta,
		e.Spec().Blocks, framework.Streams{Seed: 1}, eval.DefaultSEOptions())
	require.NoError(t, err)
	assert.True(t, se.Singular)
	assert.Empty(t, se.Blocks)
	assert.Contains(t, se.Message, "singular")
	assert.Equal(t, 1.0, se.Summary(nil)["se_singular"])
}
