package host

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/examples/doublewell/doublewell"
	"github.com/goebm/goebm/samplers"
)

// TestPluginSideSampling runs k sampler steps inside the plugin and requires exactly the
// states that the same sampler reaches in-process from the same per-chain seeds, whatever
// the number of plugin processes.
func TestPluginSideSampling(t *testing.T) {
	const d, chains, steps = 2, 5, 7
	reg := framework.NewRegistry()
	samplers.Register(reg)
	direct := doublewell.New(d, *doublewell.DefaultOptions())
	theta := make([]float64, 2*d)
	direct.InitParams(theta, rand.New(rand.NewPCG(1, 1)))
	x0 := randDense(rand.New(rand.NewPCG(2, 2)), chains, d)
	streams := framework.Streams{Seed: 42}

	for _, method := range []string{"ula", "mala"} {
		t.Run(method, func(t *testing.T) {
			entry := reg.Samplers[method]
			// In-process, with the streams the plugin derives from each chain's stream.
			rngs := streams.Rands("chain", chains)
			local := make([]*rand.Rand, chains)
			for i, r := range rngs {
				local[i] = rand.New(rand.NewPCG(r.Uint64(), r.Uint64()))
			}
			smp, err := entry.New(entry.Options(), framework.Env{Dim: d})
			require.NoError(t, err)
			want := &framework.Chains{X: mat.DenseCopyOf(x0), Theta: theta, Eval: framework.NewEvaluator(direct), RNG: local}
			require.NoError(t, smp.Run(want, steps))

			for _, instances := range []int{1, 2} {
				cfg := pluginConfig(t, "ok")
				cfg.Env, cfg.Instances = framework.Env{Dim: d}, instances
				e := open(t, cfg)
				require.True(t, e.OffersSampler(method))
				remote, err := e.Sampler(method, entry.Options(), nil)
				require.NoError(t, err)
				got := &framework.Chains{X: mat.DenseCopyOf(x0), Theta: theta, Eval: framework.NewEvaluator(e), RNG: streams.Rands("chain", chains)}
				before := e.RoundTrips()
				require.NoError(t, remote.Run(got, steps))
				assert.Equal(t, int64(1), e.RoundTrips()-before, "one round trip for %d steps", steps)
				requireBits(t, method+" states", denseData(want.X), denseData(got.X))
				assert.Equal(t, want.Proposed, got.Proposed)
				assert.Equal(t, want.Accepted, got.Accepted)
				assert.Positive(t, e.PluginCounts().GradRows)

				// Chains on another energy run on the local sampler.
				other := &framework.Chains{X: mat.DenseCopyOf(x0), Theta: theta, Eval: framework.NewEvaluator(direct), RNG: streams.Rands("chain", chains)}
				_, err = e.Sampler(method, entry.Options(), nil)
				require.NoError(t, err)
				withLocal, err := e.Sampler(method, entry.Options(), smp)
				require.NoError(t, err)
				require.NoError(t, withLocal.Run(other, 1))
			}
		})
	}
}
