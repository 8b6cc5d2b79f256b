//go:build slow

package host

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/framework"
)

// A chatty plugin (50 warnings a request) trains the ring8-sized MLP by DSM requests at most
// 10% slower than the same plugin quiet: the host's reading of a flood costs a look at each
// line's level, not a print. A timing test, so behind the slow tag: run it on an idle machine
// (make test-slow).
func TestLogFloodCostsLittle(t *testing.T) {
	const d, n, requests = 2, 256, 200
	run := func(mode string) time.Duration {
		cfg := pluginConfig(t, mode)
		cfg.Env = framework.Env{Dim: d}
		e := open(t, cfg)
		rng := rand.New(rand.NewPCG(1, 2))
		theta := make([]float64, e.Spec().NumParams())
		require.NoError(t, e.InitParams(theta, rng))
		req := &framework.Request{Outputs: framework.OutGradX | framework.OutMixed, X: randDense(rng, n, d), U: randDense(rng, n, d), MixedSelf: -1, Theta: theta}
		ev := framework.NewEvaluator(e)
		var res framework.Result
		start := time.Now()
		for i := 0; i < requests; i++ {
			theta[0] += 1e-9 // a new θ each step, as in training
			require.NoError(t, ev.Evaluate(req, &res))
		}
		return time.Since(start)
	}
	best := map[string]time.Duration{}
	for round := 0; round < 5; round++ {
		for _, mode := range []string{"mlp64", "chattymlp"} {
			if t := run(mode); best[mode] == 0 || t < best[mode] {
				best[mode] = t
			}
		}
	}
	ratio := float64(best["chattymlp"]) / float64(best["mlp64"])
	t.Logf("quiet %v, chatty %v per %d requests: ratio %.3f", best["mlp64"], best["chattymlp"], requests, ratio)
	assert.Less(t, ratio, 1.10)
}
