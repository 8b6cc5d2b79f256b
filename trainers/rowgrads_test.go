package trainers

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
)

// spinRows returns n rows of random spins.
func spinRows(n, d int, seed uint64) *mat.Dense {
	rng := rand.New(rand.NewPCG(seed, 5))
	x := mat.NewDense(n, d, nil)
	for i := range x.RawMatrix().Data {
		x.RawMatrix().Data[i] = float64(2*rng.IntN(2) - 1)
	}
	return x
}

// The per-observation gradient terms of every M-estimator sum to its Step gradient: exactly
// (to rounding) where they are exact — energies linear in θ, and pl, rm and nce, whose terms
// are weighted rows of OutParamJac — and to the error of central differences in x for score
// matching and DSM on an MLP (not quadratic in x; its ParamJac is itself derived by the
// Evaluator from differences of E in θ).
func TestRowGradsSumToStepGradient(t *testing.T) {
	ising, err := energy.NewIsing(4, true)
	require.NoError(t, err)
	isingTheta := make([]float64, ising.Spec().NumParams())
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range isingTheta {
		isingTheta[i] = 0.3 * rng.NormFloat64()
	}
	g3 := gaussian(t, 3)
	gTheta := randomQuadTheta(3, 2)
	m, mTheta := mlp(t, 2, 7)
	newDSM := func() framework.Trainer {
		tr, _ := NewDenoisingScoreMatching(DSMOptions{Sigma: 0.3, Draws: 2})
		return tr
	}
	newNCE := func() framework.Trainer { tr, _ := NewNoiseContrastive(DefaultNCEOptions()); return tr }
	for _, tc := range []struct {
		name   string
		tr     framework.Trainer
		e      framework.Energy
		theta  []float64
		x      *mat.Dense
		tol    float64
		groups []int
	}{
		{"sm gaussian", NewScoreMatching(SMOptions{}), g3, gTheta, correlatedRows(50, 1), 1e-12, []int{50}},
		{"sm gaussian, x-differences of param_jac", NewScoreMatching(SMOptions{}), relabel{Energy: g3, name: "gaussian", drop: framework.CapLinear}, gTheta, correlatedRows(50, 1), 1e-6, []int{50}},
		{"dsm gaussian, x-differences of param_jac", newDSM(), relabel{Energy: g3, name: "gaussian", drop: framework.CapLinear}, gTheta, correlatedRows(40, 4), 1e-6, []int{40}},
		{"sm mlp", NewScoreMatching(SMOptions{}), m, mTheta, normalRows(30, 2, 2), 1e-5, []int{30}},
		{"pl ising", NewPseudolikelihood(DefaultPLOptions()), ising, isingTheta, spinRows(60, 4, 1), 1e-12, []int{60}},
		{"pl gaussian (quadrature)", NewPseudolikelihood(PLOptions{GridLow: -8, GridHigh: 8, GridPoints: 61}), g3, gTheta, normalRows(40, 3, 9), 1e-12, []int{40}},
		{"rm ising", NewRatioMatching(), ising, isingTheta, spinRows(60, 4, 2), 1e-12, []int{60}},
		{"nce gaussian", newNCE(), g3, append(append([]float64(nil), gTheta...), 0.4), correlatedRows(40, 3), 1e-12, []int{40, 40}},
		{"dsm gaussian", newDSM(), g3, gTheta, correlatedRows(40, 4), 1e-12, []int{40}},
		{"dsm mlp", newDSM(), m, mTheta, normalRows(30, 2, 5), 1e-5, []int{30}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := framework.NewEvaluator(tc.e)
			require.NoError(t, tc.tr.Init(&framework.TrainContext{Eval: ev, Train: tc.x}))
			if nf, ok := tc.tr.(framework.NoiseFixer); ok {
				nf.FixNoise(17)
			}
			grad := make([]float64, len(tc.theta))
			_, err := tc.tr.Step(&framework.StepContext{Eval: ev}, tc.x, tc.theta, grad)
			require.NoError(t, err)
			rg, err := tc.tr.(framework.RowGrader).RowGrads(&framework.StepContext{Eval: ev}, tc.x, tc.theta)
			require.NoError(t, err)
			assert.Equal(t, tc.groups, rg.Groups)
			rows, cols := rg.G.Dims()
			require.Equal(t, len(tc.theta), cols)
			sum := make([]float64, cols)
			for i := 0; i < rows; i++ {
				for j, v := range rg.G.RawRowView(i) {
					sum[j] += v
				}
			}
			worst := 0.0
			for j := range sum {
				worst = math.Max(worst, math.Abs(sum[j]-grad[j])/math.Max(1e-3, math.Abs(grad[j])))
			}
			t.Logf("max relative difference %.2g", worst)
			assert.Less(t, worst, tc.tol)
		})
	}
}

// The exact Hessians of pl and rm for an energy linear in θ agree with central differences of
// their gradients (exact for these smooth losses up to O(h²) and rounding).
func TestFlipHessiansMatchDifferences(t *testing.T) {
	for _, dom := range []framework.Domain{framework.Spin, framework.Binary} {
		ising, err := energy.NewIsing(4, dom == framework.Spin)
		require.NoError(t, err)
		p := ising.Spec().NumParams()
		theta := make([]float64, p)
		rng := rand.New(rand.NewPCG(9, 9))
		for i := range theta {
			theta[i] = 0.4 * rng.NormFloat64()
		}
		x := spinRows(80, 4, 3)
		if dom == framework.Binary {
			x.Apply(func(_, _ int, v float64) float64 { return (v + 1) / 2 }, x)
		}
		for _, tr := range []framework.Trainer{NewPseudolikelihood(DefaultPLOptions()), NewRatioMatching()} {
			ev := framework.NewEvaluator(ising)
			require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Train: x}))
			ctx := &framework.StepContext{Eval: ev}
			exact := mat.NewSymDense(p, nil)
			require.NoError(t, tr.(framework.Hessianer).Hessian(ctx, x, theta, exact))
			fd := mat.NewSymDense(p, nil)
			require.NoError(t, framework.HessianByDifferences(func(th, g []float64) (float64, error) { return tr.Step(ctx, x, th, g) }, theta, 1e-5, fd))
			worst := 0.0
			for i := 0; i < p; i++ {
				for j := 0; j < p; j++ {
					worst = math.Max(worst, math.Abs(exact.At(i, j)-fd.At(i, j)))
				}
			}
			assert.Less(t, worst, 1e-7, "%T on %s", tr, dom)
			assert.Positive(t, mat.Norm(exact, 2))
		}
	}
}
