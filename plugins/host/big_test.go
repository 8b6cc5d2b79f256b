package host

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
)

// A plugin that declares gRPC's default 4 MiB message limit serves an MLP of two million
// parameters: θ₀ comes back in pieces, θ goes in pieces (PutParams), and the θ-sized outputs
// of a denoising-score-matching step come back in pieces, all the same bits as in-process;
// then one optimizer step's new θ crosses again.
func TestFourMiBPluginTwoMillionParams(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 16 MB vectors")
	}
	const d, n = 2, 8
	cfg := pluginConfig(t, "bigmlp")
	cfg.Env = framework.Env{Dim: d}
	e := open(t, cfg)
	assert.Equal(t, int64(4<<20), e.Describe().MaxMessageBytes)
	direct, err := energy.NewMLP(d, []int{1414, 1414}, "softplus")
	require.NoError(t, err)
	p := direct.Spec().NumParams()
	require.Greater(t, p, 2_000_000)

	theta, want := make([]float64, p), make([]float64, p)
	require.NoError(t, e.InitParams(theta, rand.New(rand.NewPCG(1, 2))))
	require.NoError(t, direct.InitParams(want, rand.New(rand.NewPCG(1, 2))))
	requireBits(t, "θ₀", want, theta)

	rng := rand.New(rand.NewPCG(3, 4))
	x, u := randDense(rng, n, d), randDense(rng, n, d)
	for step := 0; step < 2; step++ {
		req := &framework.Request{Outputs: framework.OutGradX | framework.OutMixed, X: x, U: u, MixedSelf: -1, Theta: theta}
		var got, exp framework.Result
		for k, en := range []framework.Energy{direct, e} {
			ev := framework.NewEvaluator(en)
			ev.ChunkRows = 4
			r := &exp
			if k == 1 {
				r = &got
			}
			require.NoError(t, ev.Evaluate(req, r))
		}
		requireBits(t, "grad_x", denseData(exp.GradX), denseData(got.GradX))
		requireBits(t, "mixed", exp.Mixed, got.Mixed)
		for i := range theta { // an optimizer step: a new θ to send
			theta[i] -= 1e-3 * got.Mixed[i]
		}
	}
}

// A request crosses to a plugin process in one round trip whatever its number of chunks, and
// to a pool of N processes in N.
func TestOneRoundTripPerRequest(t *testing.T) {
	const d, n = 3, 300
	for _, instances := range []int{1, 2} {
		cfg := pluginConfig(t, "mlp")
		cfg.Env, cfg.Instances = framework.Env{Dim: d}, instances
		e := open(t, cfg)
		theta := make([]float64, e.Spec().NumParams())
		require.NoError(t, e.InitParams(theta, rand.New(rand.NewPCG(5, 6))))
		ev := framework.NewEvaluator(e)
		ev.ChunkRows = 64 // 5 chunks
		rng := rand.New(rand.NewPCG(7, 8))
		req := &framework.Request{Outputs: framework.OutGradX | framework.OutMixed, X: randDense(rng, n, d), U: randDense(rng, n, d), MixedSelf: 0.5, Theta: theta}
		var res framework.Result
		before := e.RoundTrips()
		require.NoError(t, ev.Evaluate(req, &res))
		assert.Equal(t, int64(instances), e.RoundTrips()-before, "%d processes", instances)
	}
}
