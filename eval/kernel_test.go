package eval_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/eval"
	"github.com/goebm/goebm/framework"
)

func normalSample(n, d int, mu []float64, seed uint64) *mat.Dense {
	rng := rand.New(rand.NewPCG(seed, 99))
	x := mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			x.Set(i, j, mu[j]+rng.NormFloat64())
		}
	}
	return x
}

// SteinIMQ against the definition uₚ = sxᵀsy·k + sxᵀ∇ᵧk + syᵀ∇ₓk + tr ∇ₓ∇ᵧk with every
// derivative of k(x, y) = (c² + ‖x − y‖²)^β taken by central differences.
func TestSteinIMQ(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const h = 1e-4
	for trial := 0; trial < 20; trial++ {
		d := 1 + trial%4
		c, beta := 0.5+rng.Float64(), -0.2-0.6*rng.Float64()
		k := func(x, y []float64) float64 {
			r2 := 0.0
			for j := range x {
				r2 += (x[j] - y[j]) * (x[j] - y[j])
			}
			return math.Pow(c*c+r2, beta)
		}
		x, y, sx, sy := make([]float64, d), make([]float64, d), make([]float64, d), make([]float64, d)
		for j := 0; j < d; j++ {
			x[j], y[j], sx[j], sy[j] = rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()
		}
		shift := func(v []float64, j int, e float64) []float64 {
			w := append([]float64(nil), v...)
			w[j] += e
			return w
		}
		want := 0.0
		for j := 0; j < d; j++ {
			want += sx[j] * sy[j] * k(x, y)
			dy := (k(x, shift(y, j, h)) - k(x, shift(y, j, -h))) / (2 * h)
			dx := (k(shift(x, j, h), y) - k(shift(x, j, -h), y)) / (2 * h)
			want += sx[j]*dy + sy[j]*dx
			want += (k(shift(x, j, h), shift(y, j, h)) - k(shift(x, j, h), shift(y, j, -h)) -
				k(shift(x, j, -h), shift(y, j, h)) + k(shift(x, j, -h), shift(y, j, -h))) / (4 * h * h)
		}
		got := eval.SteinIMQ(x, y, sx, sy, c, beta)
		assert.InDelta(t, want, got, 1e-6*(1+math.Abs(want)), "trial %d", trial)
	}
}

// KSD is near zero when the data come from the model and close to its population value
// otherwise. For q = N(0, I) and the model p = N(μ, I), sₚ − s_q = μ everywhere, so
// KSD² = ‖μ‖²·E k(x, y) with x − y ~ N(0, 2I): in d = 2, ‖x − y‖² is exponential with mean 4,
// and E k = ∫₀^∞ (1 + ρ)^(−½) e^(−ρ/4)/4 dρ, integrated here by the midpoint rule.
func TestKSD(t *testing.T) {
	x := normalSample(2000, 2, []float64{0, 0}, 3)
	g := shiftedNormal{d: 2, sigma: 1}
	o := eval.DefaultKSDOptions()
	st := framework.Streams{Seed: 1}
	ek := 0.0
	const dr = 1e-4
	for r := dr / 2; r < 200; r += dr {
		ek += math.Pow(1+r, -0.5) * math.Exp(-r/4) / 4 * dr
	}
	for _, tc := range []struct {
		mu   []float64
		want float64
		tol  float64
		null bool
	}{
		{[]float64{0, 0}, 0, 0.005, true},
		{[]float64{0.5, 0}, 0.25 * ek, 0.02, false},
		{[]float64{1, -1}, 2 * ek, 0.06, false},
	} {
		ev := framework.NewEvaluator(g)
		v, sd, err := eval.KSD(ev, tc.mu, x, o, st)
		require.NoError(t, err)
		assert.InDelta(t, tc.want, v, tc.tol, "μ = %v", tc.mu)
		if tc.null {
			assert.Less(t, math.Abs(v), 4*sd, "within the null's noise")
		} else {
			assert.Greater(t, v, 20*sd, "far beyond the null's noise")
		}
	}
	// A subset is used beyond max_points; the same seed picks the same one.
	o.MaxPoints = 300
	a, _, err := eval.KSD(framework.NewEvaluator(g), []float64{1, 0}, x, o, st)
	require.NoError(t, err)
	b, _, err := eval.KSD(framework.NewEvaluator(g), []float64{1, 0}, x, o, st)
	require.NoError(t, err)
	assert.Equal(t, a, b)
	assert.InDelta(t, ek, a, 0.15)
}

// MMD against its closed form for normals with a fixed bandwidth σ: with P = N(0, I),
// Q = N(μ, I) in d dimensions, E k(x, x') = (σ²/(σ²+2))^(d/2) and
// E k(x, y) = (σ²/(σ²+2))^(d/2)·exp(−‖μ‖²/(2(σ²+2))), so
// MMD² = 2(σ²/(σ²+2))^(d/2)·(1 − exp(−‖μ‖²/(2(σ²+2)))).
func TestMMD(t *testing.T) {
	const d = 2
	x := normalSample(1500, d, []float64{0, 0}, 5)
	st := framework.Streams{Seed: 2}
	for _, tc := range []struct {
		mu    []float64
		sigma float64
		tol   float64
	}{
		{[]float64{0, 0}, 1, 0.005},
		{[]float64{1, 0}, 1, 0.02},
		{[]float64{1, 1}, 2, 0.02},
	} {
		y := normalSample(1500, d, tc.mu, 6)
		mu2 := tc.mu[0]*tc.mu[0] + tc.mu[1]*tc.mu[1]
		s2 := tc.sigma * tc.sigma
		want := 2 * math.Pow(s2/(s2+2), d/2.0) * (1 - math.Exp(-mu2/(2*(s2+2))))
		got, sigma, err := eval.MMD(x, y, eval.MMDOptions{Bandwidth: tc.sigma, MaxPoints: 2000}, st)
		require.NoError(t, err)
		assert.Equal(t, tc.sigma, sigma)
		assert.InDelta(t, want, got, tc.tol, "μ = %v", tc.mu)
	}
	// The median heuristic: ‖x − x'‖ of N(0, 2I) in 2-D is Rayleigh with scale √2, whose
	// median is √2·√(2 log 2) ≈ 1.665.
	y := normalSample(1500, d, []float64{0, 0}, 7)
	null, sigma, err := eval.MMD(x, y, eval.DefaultMMDOptions(), st)
	require.NoError(t, err)
	assert.InDelta(t, math.Sqrt2*math.Sqrt(2*math.Ln2), sigma, 0.08)
	assert.InDelta(t, 0, null, 0.003)
	shifted := normalSample(1500, d, []float64{1, 0}, 8)
	far, _, err := eval.MMD(x, shifted, eval.DefaultMMDOptions(), st)
	require.NoError(t, err)
	assert.Greater(t, far, 20*math.Abs(null)+0.02, "a shifted model is clearly further")
}
