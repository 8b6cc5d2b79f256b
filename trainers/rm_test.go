package trainers_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/floats"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/trainers"
)

// TestRMLossEnumeration checks the rm objective against its definition,
// mean Σᵢ g(p(x)/p(x⁽ⁱ⁾))² with g(u) = 1/(1+u), the probabilities normalised by enumerating
// all 2^d states.
func TestRMLossEnumeration(t *testing.T) {
	for _, tc := range []struct {
		name string
		dom  framework.Domain
		d, n int
	}{
		{"spin", framework.Spin, 4, 9},
		{"binary", framework.Binary, 5, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 8))
			theta := discRandomQuad(rng, tc.d, 0.9)
			x := discRandomPoints(rng, tc.n, tc.d, tc.dom)
			h, J := theta[:tc.d], theta[tc.d:]
			lo := -1.0
			if tc.dom == framework.Binary {
				lo = 0
			}
			z := 0.0
			s := make([]float64, tc.d)
			for b := 0; b < 1<<tc.d; b++ {
				for i := range s {
					s[i] = lo
					if b>>i&1 == 1 {
						s[i] = 1
					}
				}
				z += math.Exp(-discQuadEnergy(h, J, s))
			}
			prob := func(s []float64) float64 { return math.Exp(-discQuadEnergy(h, J, s)) / z }
			want := 0.0
			for r := 0; r < tc.n; r++ {
				copy(s, x.RawRowView(r))
				for i := 0; i < tc.d; i++ {
					px := prob(s)
					s[i] = lo + 1 - s[i] // the other value of coordinate i
					pf := prob(s)
					s[i] = lo + 1 - s[i]
					g := 1 / (1 + px/pf)
					want += g * g
				}
			}
			want /= float64(tc.n)
			got := discStep(t, trainers.NewRatioMatching(), discIsing(t, tc.d, tc.dom), x, theta, nil)
			assert.InDelta(t, want, got, 1e-13)
		})
	}
}

// TestRMGradientFD checks the rm gradient against central differences of the rm objective.
func TestRMGradientFD(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct {
		name string
		dom  framework.Domain
		d, n int
	}{
		{"spin", framework.Spin, 5, 10},
		{"binary", framework.Binary, 4, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := discIsing(t, tc.d, tc.dom)
			x := discRandomPoints(rng, tc.n, tc.d, tc.dom)
			th := discRandomQuad(rng, tc.d, 0.8)
			tr := trainers.NewRatioMatching()
			g := make([]float64, len(th))
			discStep(t, tr, e, x, th, g)
			ev := framework.NewEvaluator(e)
			f := func(th []float64) float64 {
				l, err := tr.Step(&framework.StepContext{Eval: ev}, x, th, nil)
				require.NoError(t, err)
				return l
			}
			discFD(t, f, th, g, 1e-5, 1e-8)
		})
	}
}

// TestRMIsing10 trains rm on ising10 (full batch, L-BFGS on the trainer's loss and gradient,
// from θ = 0) and checks (a) that training reaches the minimiser of
// the rm objective that this test computes by Newton's method on its own formulas, and (b)
// that this estimate is within sampling error of the true parameters of
// examples/data/ising10_params.csv: each of the 55 parameters within z·SE, z the Bonferroni
// quantile for a family-wise error of 1e-3 and SE the asymptotic standard error of the rm
// M-estimator, sqrt(diag(H⁻¹ Cov(ψ) H⁻¹)/n) with ψ the per-row rm gradient and H its
// expected Hessian, computed exactly under the true model by enumerating the 1024 states.
// (For scale: the MLE, which is efficient, is 0.052 from the truth at worst.)
func TestRMIsing10(t *testing.T) {
	x := readIsingData(t)
	n, d := x.Dims()
	p := d + isingPairs(d)
	truth := readIsingParams(t, "ising10_params.csv")

	start := isingNewton(t, isingPL, make([]float64, p), x) // a good start for Newton on rm
	rm := isingNewton(t, isingRM, start, x)

	states := isingStates(d)
	prob, _, _ := isingProbs(truth, states)
	_, eg, H := isingEval(isingRM, truth, states, prob)
	// Ratio matching is consistent: its expected gradient vanishes at the truth.
	require.Less(t, maxAbs(eg), 1e-12)
	hInv := isingSolve(t, H)
	psi := make([]float64, p)
	se := isingAsymptoticSE(states, prob, n, func(s, dst []float64) {
		isingRowGrad(isingRM, truth, s, psi)
		hInv(dst, psi)
	})
	z := bonferroniZ(1e-3, p)
	worst := 0.0
	for k := 0; k < p; k++ {
		diff := math.Abs(rm[k] - truth[k])
		worst = math.Max(worst, diff/(z*se[k]))
		assert.LessOrEqual(t, diff, z*se[k], "parameter %d: |RM − truth| = %.3g, SE %.3g", k, diff, se[k])
	}
	t.Logf("max |RM − truth| = %.4g, SE %.3g…%.3g, z = %.2f, worst ratio to tolerance %.2f",
		maxAbsDiff(rm, truth), floats.Min(se), floats.Max(se), z, worst)

	e := discIsing(t, d, framework.Spin)
	tr := trainers.NewRatioMatching()
	theta := make([]float64, d+d*d)
	discMinimize(t, tr, e, x, theta)
	got := isingCompact(theta, d)
	t.Logf("max |∇| after training %.2g; max |θ − Newton RM| %.2g", discGradNorm(t, tr, e, x, theta), maxAbsDiff(got, rm))
	assert.Less(t, maxAbsDiff(got, rm), 1e-4, "trained rm vs Newton rm")
}
