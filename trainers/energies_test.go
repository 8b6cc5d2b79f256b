package trainers

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
)

// gaussian returns the built-in Gaussian energy E(x) = ½xᵀWx − bᵀx on ℝ^d with
// W = (A+Aᵀ)/2, θ = (A row-major, b).
func gaussian(t testing.TB, d int) *energy.Gaussian {
	t.Helper()
	g, err := energy.NewGaussian(d, false)
	require.NoError(t, err)
	return g
}

// relabel changes the name, domain or capabilities an energy reports, for the error paths.
type relabel struct {
	framework.Energy
	name   string
	domain framework.Domain
	drop   framework.Capability
}

func (r relabel) Spec() framework.Spec {
	s := r.Energy.Spec()
	s.Name = r.name
	s.Domain = r.domain
	s.Caps &^= r.drop
	return s
}

// mlp returns a small tanh MLP energy d→6→5→1 (not quadratic in x, so finite differences are
// not exact) with torch-style random initial weights.
func mlp(t testing.TB, d int, seed uint64) (*energy.MLP, []float64) {
	t.Helper()
	m, err := energy.NewMLP(d, []int{6, 5}, "tanh")
	require.NoError(t, err)
	theta := make([]float64, m.Spec().NumParams())
	m.InitParams(theta, rand.New(rand.NewPCG(seed, 1)))
	return m, theta
}
