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
	"github.com/goebm/goebm/samplers"
)

// cdGradientVsPL runs CD-1 with the Gibbs sampler o on R copies of 30 spin rows and returns
// the CD gradient, the pseudolikelihood gradient divided by d, and the standard error of each
// CD gradient component (from the per-row terms ∇E(x) − ∇E(x̃)).
func cdGradientVsPL(t *testing.T, o samplers.GibbsOptions) (cd, pl, se []float64) {
	const d, n0, copies = 6, 30, 4000
	e, err := energy.NewIsing(d, true)
	require.NoError(t, err)
	p := e.Spec().NumParams()
	theta := make([]float64, p)
	rng := rand.New(rand.NewPCG(6, 6))
	for i := 0; i < d; i++ {
		theta[i] = 0.3 * rng.NormFloat64()
		for j := i + 1; j < d; j++ {
			v := 0.4 * rng.NormFloat64()
			theta[d+i*d+j], theta[d+j*d+i] = v, v
		}
	}
	x0 := spinRows(n0, d, 8)
	x := mat.NewDense(n0*copies, d, nil)
	for r := 0; r < n0*copies; r++ {
		copy(x.RawRowView(r), x0.RawRowView(r%n0))
	}
	gibbs, err := samplers.NewGibbs(o)
	require.NoError(t, err)
	tr := cdNewCD(t, CDOptions{K: 1})
	ev := framework.NewEvaluator(e)
	require.NoError(t, tr.Init(&framework.TrainContext{Eval: ev, Sampler: gibbs, Streams: framework.Streams{Seed: 3}}))
	cd = make([]float64, p)
	_, err = tr.Step(&framework.StepContext{Eval: ev, RNG: rand.New(rand.NewPCG(1, 1))}, x, theta, cd)
	require.NoError(t, err)

	// Per-row terms and their standard errors.
	a, err := paramJac(ev, x, theta)
	require.NoError(t, err)
	a = mat.DenseCopyOf(a)
	b, err := paramJac(ev, tr.Chains(), theta)
	require.NoError(t, err)
	n := float64(n0 * copies)
	se = make([]float64, p)
	mean := make([]float64, p)
	for r := 0; r < n0*copies; r++ {
		for k := 0; k < p; k++ {
			v := a.At(r, k) - b.At(r, k)
			mean[k] += v / n
			se[k] += v * v / n
		}
	}
	for k := range se {
		se[k] = math.Sqrt(math.Max(se[k]-mean[k]*mean[k], 0) / n)
		require.InDelta(t, mean[k], cd[k], 1e-12, "the CD gradient is the mean of the per-row terms")
	}

	plTr := NewPseudolikelihood(DefaultPLOptions())
	require.NoError(t, plTr.Init(&framework.TrainContext{Eval: ev, Train: x0}))
	pl = make([]float64, p)
	_, err = plTr.Step(&framework.StepContext{Eval: ev}, x0, theta, pl)
	require.NoError(t, err)
	for k := range pl {
		pl[k] /= d
	}
	return cd, pl, se
}

// CD-1 with a random-scan Gibbs step of one site (sites_per_step = 1) flips site i of a data
// row x with probability qᵢ/d, qᵢ = σ(E(x) − E(x⁽ⁱ⁾)), so its expected gradient
// (1/d) Σᵢ qᵢ(∇E(x) − ∇E(x⁽ⁱ⁾)) is the pseudolikelihood gradient divided by d. On 120000 rows
// every component of the CD gradient lies within 5 standard errors of PL/d; with a full
// systematic sweep instead (sites_per_step = 0) some component does not, so the check can fail.
func TestCDRandomSiteIsPLOverD(t *testing.T) {
	cd, pl, se := cdGradientVsPL(t, samplers.GibbsOptions{SitesPerStep: 1})
	worst := 0.0
	for k := range cd {
		if se[k] == 0 {
			assert.InDelta(t, pl[k], cd[k], 1e-12, "component %d", k)
			continue
		}
		z := math.Abs(cd[k]-pl[k]) / se[k]
		worst = math.Max(worst, z)
		assert.Less(t, z, 5.0, "component %d: CD %.5g, PL/d %.5g, SE %.2g", k, cd[k], pl[k], se[k])
	}
	t.Logf("largest |CD − PL/d|/SE = %.2f", worst)

	cd, pl, se = cdGradientVsPL(t, samplers.GibbsOptions{})
	worst = 0.0
	for k := range cd {
		if se[k] > 0 {
			worst = math.Max(worst, math.Abs(cd[k]-pl[k])/se[k])
		}
	}
	t.Logf("systematic sweep: largest |CD − PL/d|/SE = %.1f", worst)
	assert.Greater(t, worst, 5.0)
}
