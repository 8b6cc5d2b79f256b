package samplers

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/framework"
)

// mcEstimate returns the mean of f over the kept draws and its Monte Carlo standard error
// sd/√ESS, with ESS estimated from the chains of f (SplitESS).
func mcEstimate(dr *Draws, f func(x []float64) float64) (mean, mcse float64) {
	m := dr.Diagnostics.Chains
	kept := dr.Diagnostics.Draws
	series := make([][]float64, m)
	var all []float64
	for i := range series {
		series[i] = make([]float64, kept)
	}
	for k := 0; k < kept; k++ {
		for i := 0; i < m; i++ {
			v := f(dr.Samples.RawRowView(k*m + i))
			series[i][k] = v
			all = append(all, v)
		}
	}
	mu := 0.0
	for _, v := range all {
		mu += v
	}
	mu /= float64(len(all))
	s := 0.0
	for _, v := range all {
		s += (v - mu) * (v - mu)
	}
	sd := math.Sqrt(s / float64(len(all)-1))
	return mu, sd / math.Sqrt(SplitESS(series))
}

// draw runs Draw with the given sampler on energy e at θ.
func draw(t testing.TB, e framework.Energy, theta []float64, s framework.Sampler, opts DrawOptions, seed uint64) *Draws {
	t.Helper()
	ev := framework.NewEvaluator(e)
	dr, err := Draw(context.Background(), Target{Eval: ev, Theta: theta, Streams: framework.Streams{Seed: seed}}, "test", s, opts)
	require.NoError(t, err)
	return dr
}

// within asserts |got − want| ≤ z·mcse and reports the numbers.
func within(t testing.TB, what string, got, want, mcse, z float64) {
	t.Helper()
	t.Logf("%s: got %.5f, want %.5f, Monte Carlo error %.5f", what, got, want, mcse)
	require.Falsef(t, math.IsNaN(mcse) || mcse <= 0, "%s: bad Monte Carlo error %v", what, mcse)
	require.LessOrEqualf(t, math.Abs(got-want), z*mcse, "%s: got %.5f, want %.5f ± %.1f×%.5f", what, got, want, z, mcse)
}
