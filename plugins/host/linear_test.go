package host

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/trainers"
)

// Closed-form score matching of a Gaussian served by a plugin (framework.LinearEnergy over
// the wire) gives the in-process solution bit for bit: the statistics are the same bits, and
// the trainer sums them in the same order.
func TestLinearEnergyOverTheWire(t *testing.T) {
	const d, n = 3, 40
	cfg := pluginConfig(t, "gaussian")
	cfg.Env = framework.Env{Dim: d}
	e := open(t, cfg)
	require.True(t, e.Spec().Caps.Has(framework.CapLinear), "the plugin's spec keeps capability linear")
	direct, err := energy.NewGaussian(d, false)
	require.NoError(t, err)
	x := randDense(rand.New(rand.NewPCG(9, 9)), n, d)
	var thetas [2][]float64
	for k, en := range []framework.Energy{direct, e} {
		tr := trainers.NewScoreMatching(trainers.SMOptions{ClosedForm: true})
		ctx := &framework.TrainContext{Eval: framework.NewEvaluator(en), Train: x}
		require.NoError(t, tr.Init(ctx))
		thetas[k] = make([]float64, en.Spec().NumParams())
		_, err := tr.Solve(ctx, thetas[k])
		require.NoError(t, err)
	}
	requireBits(t, "closed-form θ", thetas[0], thetas[1])
	assert.GreaterOrEqual(t, e.RoundTrips(), int64(n), "one Statistics request per row")
}

// Block-Gibbs sweeps of an RBM run inside the plugin (framework.BlockGibbser over the wire),
// each row's randomness seeded by two words of its own stream: the in-process RBM, given the
// same seeds, reaches the same states.
func TestBlockGibbsOverTheWire(t *testing.T) {
	const d, n = 6, 7
	cfg := pluginConfig(t, "rbm")
	cfg.Env = framework.Env{Dim: d, Domain: framework.Binary}
	e := open(t, cfg)
	require.True(t, e.Spec().Caps.Has(framework.CapBlockGibbs))
	direct, err := energy.NewRBM(d, 5)
	require.NoError(t, err)
	theta := make([]float64, direct.Spec().NumParams())
	for i := range theta {
		theta[i] = 0.3 * float64(i%7-3)
	}
	x0 := mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			x0.Set(i, j, float64((i+j)%2))
		}
	}
	streams := framework.Streams{Seed: 5}
	got := mat.DenseCopyOf(x0)
	require.NoError(t, e.BlockGibbs(theta, got, streams.Rands("chain", n)))
	want := mat.DenseCopyOf(x0)
	local := make([]*rand.Rand, n)
	for i, r := range streams.Rands("chain", n) {
		local[i] = rand.New(rand.NewPCG(r.Uint64(), r.Uint64()))
	}
	require.NoError(t, direct.BlockGibbs(theta, want, local))
	requireBits(t, "states", denseData(want), denseData(got))
	assert.NotEqual(t, denseData(x0), denseData(got), "the sweep moved the chains")
}
