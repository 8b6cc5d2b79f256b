package host

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/framework"
)

// BenchmarkLogFlood times DSM requests on the ring8-sized MLP through a quiet plugin and
// through the same plugin writing 50 warning lines a request, so that what a log flood costs
// the host (a look at each line's level, and the rate limit) can be read off benchstat:
//
//	go test -run '^$' -bench LogFlood -count 10 ./plugins/host/ > flood.txt
//	benchstat -col /plugin flood.txt
func BenchmarkLogFlood(b *testing.B) {
	const d, n = 2, 256
	for _, mode := range []string{"mlp64", "chattymlp"} {
		b.Run("plugin="+mode, func(b *testing.B) {
			cfg := pluginConfig(b, mode)
			cfg.Env = framework.Env{Dim: d}
			e := open(b, cfg)
			rng := rand.New(rand.NewPCG(1, 2))
			theta := make([]float64, e.Spec().NumParams())
			require.NoError(b, e.InitParams(theta, rng))
			req := &framework.Request{Outputs: framework.OutGradX | framework.OutMixed, X: randDense(rng, n, d),
				U: randDense(rng, n, d), MixedSelf: -1, Theta: theta}
			ev := framework.NewEvaluator(e)
			var res framework.Result
			b.ResetTimer()
			for range b.N {
				theta[0] += 1e-9 // a new θ each step, as in training
				if err := ev.Evaluate(req, &res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
