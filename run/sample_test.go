package run

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/samplers"
	"github.com/goebm/goebm/trainers"
)

func samplingRegistry() *framework.Registry {
	r := framework.NewRegistry()
	energy.Register(r)
	trainers.Register(r)
	samplers.Register(r)
	r.SamplerShared = func() any { o := samplers.DefaultDrawOptions(); return &o }
	return r
}

// A [sampler] table without a method, or none at all after UseSampler, gets the sampler that
// fits the energy at Build (MALA on continuous data, Gibbs on spins, block Gibbs for an RBM),
// with the driver's keys as written; a method's own key without a method is an error that
// says so.
func TestSamplerChosenForTheEnergy(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	write("real.csv", "a,b\n0.1,0.2\n-0.3,0.4\n")
	write("spins.csv", "a,b\n1,-1\n-1,-1\n")
	write("bits.csv", "a,b\n1,0\n0,1\n")
	reg := samplingRegistry()
	for _, tc := range []struct {
		data, energy, table string
		method              string
		block               bool
		chains              int
	}{
		{"real.csv", "gaussian", "[sampler]\nchains = 4\n", "mala", false, 4},
		{"spins.csv", "ising", "[sampler]\nwarmup = 0\n", "gibbs", false, 8},
		{"bits.csv", "rbm", "", "gibbs", true, 8},
	} {
		path := write("c.toml", "[data]\ntrain = \""+tc.data+"\"\n[energy]\nbuiltin = \""+tc.energy+"\"\n"+tc.table)
		src, err := Load(path, nil)
		require.NoError(t, err)
		cfg, err := Decode(src, reg)
		require.NoError(t, err, tc.energy)
		cfg.UseSampler(reg)
		b, err := Build(cfg, reg)
		require.NoError(t, err, tc.energy)
		assert.Equal(t, tc.method, cfg.Sampler.Method, tc.energy)
		assert.True(t, cfg.Sampler.Chosen)
		assert.NotNil(t, b.Run.Sampler)
		assert.Equal(t, tc.chains, cfg.Sampler.Shared.(*samplers.DrawOptions).Chains)
		if o, ok := cfg.Sampler.Options.(*samplers.GibbsOptions); ok {
			assert.Equal(t, tc.block, o.Block, tc.energy)
		}
		resolved, err := cfg.Resolved()
		require.NoError(t, err)
		assert.Contains(t, string(resolved), `method = "`+tc.method+`"`, "config.toml names the method chosen")
		b.Close()
	}

	path := write("c.toml", "[data]\ntrain = \"real.csv\"\n[energy]\nbuiltin = \"gaussian\"\n[sampler]\nstep = 0.1\n")
	src, err := Load(path, nil)
	require.NoError(t, err)
	_, err = Decode(src, reg)
	var ke *Error
	require.ErrorAs(t, err, &ke)
	assert.Equal(t, "sampler.step", ke.Key)
	assert.Contains(t, err.Error(), "a method's own keys need sampler.method = one of")
}
