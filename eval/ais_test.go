package eval_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/check"
	"github.com/goebm/goebm/eval"
	"github.com/goebm/goebm/framework"
)

// rbm12 is the RBM of the AIS tests: 12 hidden units, 16 visible, weights N(0, 0.5²)
// and biases N(0, 0.3²) from a fixed seed.
func rbm12() (rbm, []float64) {
	r := rbm{h: 12, d: 16}
	theta := make([]float64, r.Spec().NumParams())
	rng := rand.New(rand.NewPCG(12, 16))
	for i := range theta {
		s := 0.5
		if i >= r.h*r.d {
			s = 0.3
		}
		theta[i] = s * rng.NormFloat64()
	}
	return r, theta
}

// aisRBM runs AIS on rbm12 with the given seed and returns the estimate.
func aisRBM(t testing.TB, seed uint64, o eval.AISOptions) *eval.AISResult {
	r, theta := rbm12()
	ev := framework.NewEvaluator(r)
	ev.Workers = 1
	res, err := eval.AIS(t.Context(), ev, theta, blockGibbs{}, o, framework.Streams{Seed: seed})
	require.NoError(t, err)
	return res
}

// AIS on an RBM with 12 hidden units (the tempered-RBM path with block Gibbs) agrees with the
// exact log Z within its reported standard error.
func TestAISRBM(t *testing.T) {
	r, theta := rbm12()
	m, _ := eval.RBMOf(r.Spec(), theta)
	exact, err := m.LogZ(1)
	require.NoError(t, err)
	o := eval.AISOptions{Temperatures: 500, Chains: 200, Steps: 1, Schedule: "sigmoid", BaseScale: 1}
	res := aisRBM(t, 1, o)
	assert.Equal(t, "rbm", res.Path)
	assert.InDelta(t, float64(16+12)*math.Ln2, res.LogZ0, 1e-12)
	require.Less(t, res.SE, 0.05, "the estimate is precise enough for the check to mean something")
	assert.InDelta(t, exact, res.LogZ, 3*res.SE, "exact %v, AIS %v ± %v", exact, res.LogZ, res.SE)
	// The same seed gives the same bits.
	again := aisRBM(t, 1, o)
	assert.Equal(t, res.LogZ, again.LogZ)
}

// AIS on the discrete Ising model through the generic uniform-base path with single-flip
// Metropolis transitions, against enumeration.
func TestAISIsing(t *testing.T) {
	theta, err := isingParams(dataDir + "ising10_params.csv")
	require.NoError(t, err)
	ev := framework.NewEvaluator(spinIsing(10))
	o := eval.AISOptions{Temperatures: 300, Chains: 100, Steps: 2, Schedule: "linear", BaseScale: 1}
	res, err := eval.AIS(t.Context(), ev, theta, flipMetropolis{}, o, framework.Streams{Seed: 5})
	require.NoError(t, err)
	assert.Equal(t, "uniform", res.Path)
	assert.InDelta(t, 10*math.Ln2, res.LogZ0, 1e-12)
	require.Less(t, res.SE, 0.05)
	assert.InDelta(t, ising10LogZ, res.LogZ, 3*res.SE)
}

// AIS on a continuous energy through the normal base with random-walk Metropolis.
func TestAISNormal(t *testing.T) {
	g := shiftedNormal{d: 2, sigma: 0.5}
	ev := framework.NewEvaluator(g)
	o := eval.AISOptions{Temperatures: 500, Chains: 100, Steps: 3, Schedule: "sigmoid", BaseScale: 1.5}
	res, err := eval.AIS(t.Context(), ev, []float64{1, -0.5}, randomWalk{step: 0.4}, o, framework.Streams{Seed: 9})
	require.NoError(t, err)
	assert.Equal(t, "normal", res.Path)
	assert.InDelta(t, math.Log(2*math.Pi*1.5*1.5), res.LogZ0, 1e-12)
	require.Less(t, res.SE, 0.05)
	assert.InDelta(t, g.logZ(), res.LogZ, 3*res.SE)
}

func TestAISSchedule(t *testing.T) {
	for _, s := range []string{"linear", "sigmoid"} {
		o := eval.AISOptions{Temperatures: 50, Schedule: s}
		b := o.Betas()
		require.Len(t, b, 51)
		assert.Equal(t, 0.0, b[0])
		assert.Equal(t, 1.0, b[50])
		for k := 1; k < len(b); k++ {
			assert.Greater(t, b[k], b[k-1], "%s: increasing", s)
		}
	}
	lin := eval.AISOptions{Temperatures: 4, Schedule: "linear"}.Betas()
	assert.InDeltaSlice(t, []float64{0, 0.25, 0.5, 0.75, 1}, lin, 1e-15)
}

// The tempered energies compute their derivatives right (check/ against finite
// differences) and TemperedRBM computes the free energy of the scaled RBM.
func TestTemperedDerivatives(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	g := shiftedNormal{d: 3, sigma: 0.7}
	tn, err := eval.NewTempered(g, 1.3)
	require.NoError(t, err)
	x := mat.NewDense(5, 3, nil)
	for i := range x.RawMatrix().Data {
		x.RawMatrix().Data[i] = rng.NormFloat64()
	}
	_, err = check.Energy(tn, []float64{0.2, -0.1, 0.4, 0.35}, x, check.Options{Seed: 1})
	assert.NoError(t, err)

	r, theta := rbm12()
	tr, err := eval.NewTemperedRBM(r.Spec())
	require.NoError(t, err)
	v := mat.NewDense(6, 16, nil)
	for i := range v.RawMatrix().Data {
		v.RawMatrix().Data[i] = float64(rng.IntN(2))
	}
	tt := append(append([]float64(nil), theta...), 0.6)
	_, err = check.Energy(tr, tt, v, check.Options{Seed: 2})
	assert.NoError(t, err)
	// At β = 1 it is the RBM's free energy; at β = 0 a constant −H·log 2.
	var res framework.Result
	for _, beta := range []float64{0, 1} {
		tt[len(tt)-1] = beta
		res.Reset(framework.OutEnergy, 6, 16, len(tt))
		require.NoError(t, tr.Evaluate(&framework.Request{Outputs: framework.OutEnergy, X: v, Theta: tt}, &res))
		for i := 0; i < 6; i++ {
			want := -12 * math.Ln2
			if beta == 1 {
				want = r.free(theta, v.RawRowView(i))
			}
			assert.InDelta(t, want, res.Energy[i], 1e-12)
		}
	}
}
