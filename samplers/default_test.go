package samplers

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/goebm/goebm/framework"
)

// ForEnergy chooses MALA for continuous energies and Gibbs for discrete ones, in blocks only
// where the energy offers them; the choice always supports the energy.
func TestForEnergy(t *testing.T) {
	for _, tc := range []struct {
		spec   framework.Spec
		method string
		block  bool
	}{
		{framework.Spec{Name: "gaussian", Dim: 2, Domain: framework.Continuous}, "mala", false},
		{framework.Spec{Name: "ising", Dim: 3, Domain: framework.Spin}, "gibbs", false},
		{framework.Spec{Name: "bits", Dim: 3, Domain: framework.Binary}, "gibbs", false},
		{framework.Spec{Name: "rbm", Dim: 3, Domain: framework.Binary, Caps: framework.CapBlockGibbs}, "gibbs", true},
	} {
		method, opts := ForEnergy(tc.spec)
		assert.Equal(t, tc.method, method, tc.spec.Name)
		var s framework.Sampler
		switch o := opts.(type) {
		case *MALAOptions:
			assert.Equal(t, DefaultMALAOptions(), *o)
			s, _ = NewMALA(*o)
		case *GibbsOptions:
			assert.Equal(t, tc.block, o.Block, tc.spec.Name)
			s, _ = NewGibbs(*o)
		default:
			t.Fatalf("%s: options of type %T", tc.spec.Name, opts)
		}
		assert.NoError(t, s.Supports(tc.spec), tc.spec.Name)
	}
}

// init = "auto" starts continuous chains from N(0, s²) and discrete ones from uniform
// bits or spins.
func TestInitAuto(t *testing.T) {
	for _, dom := range []framework.Domain{framework.Continuous, framework.Binary, framework.Spin} {
		in := Init{Kind: "auto", Scale: 1, Domain: dom, Dim: 4}
		assert.NoError(t, in.Check(), dom)
		want := "uniform"
		if dom == framework.Continuous {
			want = "normal"
		}
		assert.Equal(t, want, in.kind(), dom)
	}
	in := Init{Kind: "normal", Scale: 1, Domain: framework.Spin, Dim: 4}
	assert.ErrorIs(t, in.Check(), framework.ErrUnsupportedDomain)
}
