package eval_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/eval"
	"github.com/goebm/goebm/framework"
)

const dataDir = "../examples/data/"

// Reference numbers of examples/data/PROVENANCE.md.
const (
	ising10LogZ      = 8.695259632842468
	ising10AvgLogLik = -5.4379004754915545
	ising10AvgPL     = -4.469082106560412
	ising10MLEvsTrue = 0.05234285137457227 // max-abs, all parameters
	ring8TestNLL     = 2.151408443896475
	gauss20CFError   = 0.02730563787733097
)

func TestLogZEnumerateIsing10(t *testing.T) {
	theta, err := isingParams(dataDir + "ising10_params.csv")
	require.NoError(t, err)
	m := spinIsing(10)
	// Brute force, without the Evaluator: Σ over the 1024 spin states of exp(−E).
	brute := 0.0
	s := make([]float64, 10)
	for b := 0; b < 1024; b++ {
		for i := range s {
			s[i] = float64(2*(b>>i&1) - 1)
		}
		brute += math.Exp(-isingEnergy(theta, s))
	}
	for _, workers := range []int{1, 3} {
		ev := framework.NewEvaluator(m)
		ev.Workers, ev.ChunkRows = workers, 100
		logZ, err := eval.LogZEnumerate(ev, theta)
		require.NoError(t, err)
		assert.InDelta(t, math.Log(brute), logZ, 1e-12, "workers %d", workers)
		assert.InDelta(t, ising10LogZ, logZ, 1e-12, "PROVENANCE log Z")
	}

	// The NLL and pseudolikelihood of the training data under the true model.
	train, err := framework.ReadCSV(dataDir + "ising10_train.csv")
	require.NoError(t, err)
	ev := framework.NewEvaluator(m)
	rep, err := eval.Compute(t.Context(), eval.Input{Eval: ev, Theta: theta, Data: train.X}, nil, []string{"nll", "pseudo_nll", "ksd"})
	require.NoError(t, err)
	assert.InDelta(t, -ising10AvgLogLik, rep.Values["nll"], 1e-10)
	assert.InDelta(t, -ising10AvgPL, rep.Values["pseudo_nll"], 1e-10)
	assert.Equal(t, "enumerate", rep.Details["nll_method"])
	assert.Equal(t, 0.0, rep.Values["log_z_se"])
	assert.Contains(t, rep.Errors["ksd"], "score", "KSD on spins is an error, not a number")
}

func TestLogZEnumerateLimits(t *testing.T) {
	_, err := eval.LogZEnumerate(framework.NewEvaluator(spinIsing(25)), make([]float64, 25+625))
	assert.ErrorIs(t, err, eval.ErrUnsupported)
	_, err = eval.LogZEnumerate(framework.NewEvaluator(ring8{}), nil)
	assert.ErrorIs(t, err, eval.ErrUnsupported)
}

func TestState(t *testing.T) {
	s := make([]float64, 4)
	eval.State(s, 0b1010, framework.Spin)
	assert.Equal(t, []float64{-1, 1, -1, 1}, s, "bit i is coordinate i")
	eval.State(s, 0b0011, framework.Binary)
	assert.Equal(t, []float64{1, 1, 0, 0}, s)
}

func TestQuadratureRing8(t *testing.T) {
	test, err := framework.ReadCSV(dataDir + "ring8_test.csv")
	require.NoError(t, err)
	ev := framework.NewEvaluator(ring8{})
	o := eval.DefaultOptions()
	o.Quadrature = eval.QuadratureOptions{Lo: []float64{-4.5}, Hi: []float64{4.5}, Points: 400, Band: 0.05, Tol: 1e-6}
	rep, err := eval.Compute(t.Context(), eval.Input{Eval: ev, Data: test.X, KeepDensity: true}, o, []string{"nll"})
	require.NoError(t, err)
	require.Empty(t, rep.Errors)
	assert.Equal(t, "quadrature", rep.Details["nll_method"])
	assert.InDelta(t, ring8TestNLL, rep.Values["nll"], 1e-4, "PROVENANCE: the NLL of the true mixture on the test set")
	// Z = 8·2πσ² exactly for this unnormalised mixture.
	assert.InDelta(t, math.Log(8*2*math.Pi*ringSigma*ringSigma), rep.Values["log_z"], 1e-8)
	assert.Less(t, rep.Details["quadrature_boundary_mass"], 1e-12)
	// The kept log density integrates to one.
	q := rep.Quadrature
	require.NotNil(t, q)
	sum := 0.0
	for _, l := range q.LogDensity {
		sum += math.Exp(l)
	}
	assert.InDelta(t, 1, sum*q.Grid.Step(0)*q.Grid.Step(1), 1e-10)

	// A grid that cuts the ring: the boundary check fails, and says how much mass is there.
	o.Quadrature.Lo, o.Quadrature.Hi = []float64{-2.2}, []float64{2.2}
	rep, err = eval.Compute(t.Context(), eval.Input{Eval: ev, Data: test.X}, o, []string{"nll"})
	require.NoError(t, err)
	assert.Contains(t, rep.Errors["nll"], "outermost cells")
	assert.Greater(t, rep.Details["quadrature_boundary_mass"], 0.1)
	_, qerr := eval.LogZQuadrature(ev, nil, o.Quadrature, false)
	var be *eval.BoundaryMassError
	require.True(t, errors.As(qerr, &be))
	assert.Greater(t, be.Mass, 0.1)
}

func TestQuadratureNormal1D(t *testing.T) {
	for _, tc := range []struct {
		sigma, mu float64
	}{{1, 0}, {0.3, 1.5}, {2, -1}} {
		g := shiftedNormal{d: 1, sigma: tc.sigma}
		o := eval.QuadratureOptions{Lo: []float64{-20}, Hi: []float64{20}, Points: 4000, Band: 0.05, Tol: 1e-6}
		q, err := eval.LogZQuadrature(framework.NewEvaluator(g), []float64{tc.mu}, o, false)
		require.NoError(t, err)
		assert.InDelta(t, g.logZ(), q.LogZ, 1e-10, "σ = %v", tc.sigma)
	}
}

func TestRBMLogZ(t *testing.T) {
	for _, tc := range []struct{ h, d int }{{12, 10}, {3, 8}, {1, 5}} {
		r := rbm{h: tc.h, d: tc.d}
		theta := make([]float64, r.Spec().NumParams())
		r.InitParams(theta, rand.New(rand.NewPCG(uint64(tc.h), 7)))
		// Brute force over the visible states, without the Evaluator.
		brute := 0.0
		v := make([]float64, tc.d)
		for b := 0; b < 1<<tc.d; b++ {
			for i := range v {
				v[i] = float64(b >> i & 1)
			}
			brute += math.Exp(-r.free(theta, v))
		}
		m, ok := eval.RBMOf(r.Spec(), theta)
		require.True(t, ok)
		ev := framework.NewEvaluator(r)
		require.NoError(t, eval.VerifyRBM(ev, theta, m, nil, rand.New(rand.NewPCG(1, 2))))
		for _, workers := range []int{1, 4} {
			logZ, err := m.LogZ(workers)
			require.NoError(t, err)
			assert.InDelta(t, math.Log(brute), logZ, 1e-10, "H=%d D=%d workers=%d", tc.h, tc.d, workers)
		}
		enum, err := eval.LogZEnumerate(ev, theta)
		require.NoError(t, err)
		assert.InDelta(t, math.Log(brute), enum, 1e-10)
	}
	// An energy with RBM blocks but another formula is caught.
	r := rbm{h: 2, d: 3}
	theta := make([]float64, r.Spec().NumParams())
	r.InitParams(theta, rand.New(rand.NewPCG(3, 3)))
	m, _ := eval.RBMOf(r.Spec(), theta)
	other := append([]float64(nil), theta...)
	other[0] += 0.5
	m2, _ := eval.RBMOf(r.Spec(), other)
	assert.Error(t, eval.VerifyRBM(framework.NewEvaluator(r), theta, m2, nil, rand.New(rand.NewPCG(1, 2))))
	assert.NotNil(t, m)
}

// The 16-hidden-unit RBM that scikit-learn fitted to digits (PROVENANCE fixtures): its exact
// average log-likelihood is −20.50 by the peer script (two decimals in peers/README.md).
func TestRBMDigits16(t *testing.T) {
	pf := readSklearnRBM(t, dataDir+"rbm16_sklearn_digits_params.json")
	digits, err := framework.ReadCSV(dataDir + "digits_bin.csv")
	require.NoError(t, err)
	r := rbm{h: 16, d: 64}
	ev := framework.NewEvaluator(r)
	rep, err := eval.Compute(t.Context(), eval.Input{Eval: ev, Theta: pf, Data: digits.X}, nil, []string{"nll", "pseudo_nll"})
	require.NoError(t, err)
	require.Empty(t, rep.Errors)
	assert.Equal(t, "rbm", rep.Details["nll_method"])
	assert.InDelta(t, 20.50, rep.Values["nll"], 0.005)
}

// isingEnergy is E(s) = −hᵀs − ½sᵀJs with θ = (h, J row-major), written out: the brute-force
// side of TestLogZEnumerateIsing10.
func isingEnergy(theta, s []float64) float64 {
	d := len(s)
	h, J := theta[:d], theta[d:]
	e := 0.0
	for i := range s {
		e -= h[i] * s[i]
		for j := range s {
			e -= 0.5 * J[i*d+j] * s[i] * s[j]
		}
	}
	return e
}
