package energy

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/goebm/goebm/framework"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegister(t *testing.T) {
	r := framework.NewRegistry()
	Register(r)
	assert.Equal(t, []string{"gaussian", "gmm", "ising", "mlp", "rbm"}, framework.Names(r.Energies))
	wantDomain := map[string]framework.Domain{
		"gaussian": framework.Continuous, "mlp": framework.Continuous, "gmm": framework.Continuous,
		"ising": framework.Spin, "rbm": framework.Binary,
	}
	for name, e := range r.Energies {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, name, e.Name)
			assert.NotEmpty(t, e.Help)
			opts := e.Options()
			// every option has a toml key and a help line
			rt := reflect.TypeOf(opts).Elem()
			for i := 0; i < rt.NumField(); i++ {
				assert.NotEmpty(t, rt.Field(i).Tag.Get("toml"), rt.Field(i).Name)
				assert.NotEmpty(t, rt.Field(i).Tag.Get("help"), rt.Field(i).Name)
			}
			en, err := e.New(opts, framework.Env{Dim: 3})
			require.NoError(t, err)
			spec := en.Spec()
			assert.Equal(t, 3, spec.Dim)
			assert.Equal(t, wantDomain[name], spec.Domain)
			assert.True(t, spec.Caps.Has(framework.CapMixed|framework.CapLaplacian|framework.CapHVP))
			theta := make([]float64, spec.NumParams())
			en.InitParams(theta, rand.New(rand.NewPCG(1, 1)))
			_, err = e.New(opts, framework.Env{Dim: 0})
			assert.Error(t, err)
		})
	}
}

func TestRegisterOptions(t *testing.T) {
	r := framework.NewRegistry()
	Register(r)
	dir := t.TempDir()
	raw, err := os.ReadFile("../examples/data/mlp2d_init_torch_seed0.json")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "init.json"), raw, 0o644))

	for _, tc := range []struct {
		name   string
		energy string
		opts   any
		env    framework.Env
		bad    string // key named by Validate, or "" for a constructor error, "-" for success
	}{
		{"mlp bad activation", "mlp", &MLPOptions{Hidden: []int{4}, Activation: "relu"}, framework.Env{Dim: 2}, "activation"},
		{"mlp no layers", "mlp", &MLPOptions{Activation: "tanh"}, framework.Env{Dim: 2}, "hidden"},
		{"mlp init", "mlp", &MLPOptions{Hidden: []int{64, 64}, Activation: "softplus", Init: "init.json"}, framework.Env{Dim: 2, Dir: dir}, "-"},
		{"mlp init wrong widths", "mlp", &MLPOptions{Hidden: []int{8}, Activation: "softplus", Init: "init.json"}, framework.Env{Dim: 2, Dir: dir}, ""},
		{"rbm zero hidden", "rbm", &RBMOptions{Hidden: 0}, framework.Env{Dim: 4}, "hidden"},
		{"rbm init", "rbm", &RBMOptions{Hidden: 16, Init: "../examples/data/rbm16_sklearn_digits_params.json"}, framework.Env{Dim: 64}, "-"},
		{"ising init", "ising", &IsingOptions{Spins: true, Init: "ising10_params.csv"}, framework.Env{Dim: 10, Dir: "../examples/data"}, "-"},
		{"ising init wrong dim", "ising", &IsingOptions{Spins: true, Init: "ising10_params.csv"}, framework.Env{Dim: 9, Dir: "../examples/data"}, ""},
		{"gmm preset", "gmm", &GMMOptions{Components: 8, Preset: "ring8"}, framework.Env{Dim: 2}, "-"},
		{"gmm preset dim", "gmm", &GMMOptions{Components: 8, Preset: "ring8"}, framework.Env{Dim: 3}, ""},
		{"gmm preset K", "gmm", &GMMOptions{Components: 4, Preset: "ring8"}, framework.Env{Dim: 2}, "components"},
		{"gmm unknown preset", "gmm", &GMMOptions{Components: 4, Preset: "ring9"}, framework.Env{Dim: 2}, "preset"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if v, ok := tc.opts.(interface{ Validate() error }); ok && tc.bad != "" && tc.bad != "-" {
				err := v.Validate()
				var ke *framework.KeyError
				require.ErrorAs(t, err, &ke)
				assert.Equal(t, tc.bad, ke.Key)
			}
			e, err := r.Energies[tc.energy].New(tc.opts, tc.env)
			if tc.bad != "-" {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			theta := make([]float64, e.Spec().NumParams())
			e.InitParams(theta, rand.New(rand.NewPCG(1, 1)))
			assert.NotEqual(t, make([]float64, len(theta)), theta) // from the file (or the preset)
		})
	}
	// the ring8 preset starts at the ring's parameters
	e, err := r.Energies["gmm"].New(&GMMOptions{Components: 8, Preset: "ring8"}, framework.Env{Dim: 2})
	require.NoError(t, err)
	theta := make([]float64, e.Spec().NumParams())
	e.InitParams(theta, nil)
	assert.Equal(t, Ring8Params(), theta)
}
