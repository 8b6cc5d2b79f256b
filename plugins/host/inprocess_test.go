package host

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/examples/doublewell/doublewell"
	"github.com/goebm/goebm/plugins/sdk"
)

// openInProcess serves entry in-process with the SDK and opens it through the host.
func openInProcess(t testing.TB, entry framework.Entry[framework.Energy], cfg Config) *Energy {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rc, done, err := sdk.ServeTest(ctx, nil, &entry)
	require.NoError(t, err)
	cfg.Reattach = rc
	e, err := Open(cfg)
	if err != nil {
		cancel()
		<-done
	}
	require.NoError(t, err)
	t.Cleanup(func() {
		e.Close()
		cancel()
		<-done
	})
	return e
}

func randDense(rng *rand.Rand, n, d int) *mat.Dense {
	m := mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			m.Set(i, j, 2*rng.NormFloat64())
		}
	}
	return m
}

func TestInProcessMatchesDirect(t *testing.T) {
	const d, n = 3, 50
	e := openInProcess(t, doublewell.Entry(), Config{Env: framework.Env{Dim: d}})
	direct := doublewell.New(d, *doublewell.DefaultOptions())
	require.Equal(t, viaSDK(direct.Spec()), e.Spec())

	theta := make([]float64, 2*d)
	e.InitParams(theta, rand.New(rand.NewPCG(1, 2)))
	want := make([]float64, 2*d)
	direct.InitParams(want, rand.New(rand.NewPCG(1, 2)))
	require.Equal(t, want, theta, "θ₀ through the plugin is the in-process θ₀")

	rng := rand.New(rand.NewPCG(3, 4))
	x, u, v := randDense(rng, n, d), randDense(rng, n, d), randDense(rng, n, d)
	w := make([]float64, n)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	req := &framework.Request{Outputs: framework.FirstOrder | framework.OutMixed | framework.OutLaplacian | framework.OutLaplacianVJP | framework.OutHVP,
		X: x, Theta: theta, Weights: w, U: u, MixedSelf: 0.5, LapWeights: w, V: v}
	var got, exp framework.Result
	got.Reset(req.Outputs, n, d, 2*d)
	exp.Reset(req.Outputs, n, d, 2*d)
	require.NoError(t, e.Evaluate(req, &got))
	require.NoError(t, framework.EvaluateChunk(direct, direct.Spec().Caps, req, &exp, new(framework.SelfScratch)))
	require.Equal(t, exp, got)
	require.Equal(t, int64(2), e.RoundTrips())
}
