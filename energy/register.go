package energy

import (
	"fmt"
	"path/filepath"

	"github.com/goebm/goebm/framework"
)

// Compile-time checks of the contracts each built-in energy satisfies.
var (
	_ framework.Energy       = (*Gaussian)(nil)
	_ framework.LinearEnergy = (*Gaussian)(nil)
	_ framework.Energy       = (*MLP)(nil)
	_ framework.Energy       = (*Ising)(nil)
	_ framework.LinearEnergy = (*Ising)(nil)
	_ framework.Energy       = (*RBM)(nil)
	_ framework.BlockGibbser = (*RBM)(nil)
	_ framework.Energy       = (*GMM)(nil)
	_ framework.Gauged       = (*RBM)(nil)
	_ framework.Partitioner  = (*Gaussian)(nil)
	_ framework.Partitioner  = (*RBM)(nil)
	_ framework.Gauged       = (*MLP)(nil)
	_ framework.Gauged       = (*GMM)(nil)
)

// Register adds the built-in energies to r.Energies under their TOML names: gaussian, mlp,
// ising, rbm and gmm. Each entry's options are the [energy.config] table; the dimension
// comes from the data (Env.Dim), and file names in options are relative to the TOML file's
// folder (Env.Dir).
func Register(r *framework.Registry) {
	r.Energies["gaussian"] = entry("gaussian", "quadratic energy ½xᵀWx − bᵀx, W = (A+Aᵀ)/2 or diagonal; linear in θ",
		DefaultGaussianOptions, newGaussianFrom)
	r.Energies["mlp"] = entry("mlp", "scalar MLP d→hidden…→1 with a smooth activation, torch nn.Linear layout",
		DefaultMLPOptions, newMLPFrom)
	r.Energies["ising"] = entry("ising", "Ising model / fully visible Boltzmann machine −hᵀs − ½sᵀJs on spins or bits; linear in θ",
		DefaultIsingOptions, newIsingFrom)
	r.Energies["rbm"] = entry("rbm", "binary RBM by the free energy of its visible units; exact block Gibbs",
		DefaultRBMOptions, newRBMFrom)
	r.Energies["gmm"] = entry("gmm", "Gaussian mixture −log Σ πₖN(x; μₖ, σₖ²I), normalised; preset ring8",
		DefaultGMMOptions, newGMMFrom)
}

// entry builds the registry entry of an energy: framework.NewEntry, with the dimension checked.
func entry[O any](name, help string, defaults func() O, build func(O, framework.Env) (framework.Energy, error)) framework.Entry[framework.Energy] {
	return framework.NewEntry(name, help, defaults, func(o O, env framework.Env) (framework.Energy, error) {
		if env.Dim < 1 {
			return nil, fmt.Errorf("energy %s: dimension %d < 1", name, env.Dim)
		}
		return build(o, env)
	})
}

// resolve returns path relative to dir unless it is absolute or empty.
func resolve(dir, path string) string {
	if path == "" || filepath.IsAbs(path) || dir == "" {
		return path
	}
	return filepath.Join(dir, path)
}

// GaussianOptions are the options of the gaussian energy.
type GaussianOptions struct {
	Diagonal bool `toml:"diagonal" help:"diagonal W (blocks w, b) instead of a full symmetric W = (A+Aᵀ)/2 (blocks W, b)"`
}

// DefaultGaussianOptions returns the defaults: a full W.
func DefaultGaussianOptions() GaussianOptions { return GaussianOptions{} }

func newGaussianFrom(o GaussianOptions, env framework.Env) (framework.Energy, error) {
	return NewGaussian(env.Dim, o.Diagonal)
}

// MLPOptions are the options of the mlp energy.
type MLPOptions struct {
	Hidden     []int  `toml:"hidden" help:"widths of the hidden layers"`
	Activation string `toml:"activation" help:"activation of the hidden layers: softplus, tanh or swish"`
	Init       string `toml:"init" help:"JSON of initial weights in torch nn.Linear layout (W1, b1, …); empty: torch's default random init"`
}

// DefaultMLPOptions returns the defaults: two hidden layers of 64 softplus units.
func DefaultMLPOptions() MLPOptions {
	return MLPOptions{Hidden: []int{64, 64}, Activation: "softplus"}
}

// Validate checks the widths and the activation.
func (o *MLPOptions) Validate() error {
	if len(o.Hidden) == 0 {
		return &framework.KeyError{Key: "hidden", Msg: "needs at least one hidden layer"}
	}
	for i, h := range o.Hidden {
		if h < 1 {
			return &framework.KeyError{Key: "hidden", Msg: fmt.Sprintf("layer %d has width %d, want ≥ 1", i+1, h)}
		}
	}
	if _, err := parseActivation(o.Activation); err != nil {
		return &framework.KeyError{Key: "activation", Msg: err.Error()}
	}
	return nil
}

func newMLPFrom(o MLPOptions, env framework.Env) (framework.Energy, error) {
	m, err := NewMLP(env.Dim, o.Hidden, o.Activation)
	if err != nil {
		return nil, err
	}
	if o.Init != "" {
		tm, err := LoadTorchMLP(resolve(env.Dir, o.Init))
		if err != nil {
			return nil, err
		}
		if tm.Dim != env.Dim || fmt.Sprint(tm.Hidden) != fmt.Sprint(o.Hidden) {
			return nil, fmt.Errorf("mlp: init %s has widths %d→%v→1, the energy %d→%v→1", o.Init, tm.Dim, tm.Hidden, env.Dim, o.Hidden)
		}
		if err := m.SetInit(tm.Theta); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// IsingOptions are the options of the ising energy.
type IsingOptions struct {
	Spins bool   `toml:"spins" help:"states are ±1 (true) or 0/1 (false)"`
	Init  string `toml:"init" help:"CSV of initial parameters laid out as ising10_params.csv (h,J1..Jd); empty: h = J = 0"`
}

// DefaultIsingOptions returns the defaults: spins.
func DefaultIsingOptions() IsingOptions { return IsingOptions{Spins: true} }

func newIsingFrom(o IsingOptions, env framework.Env) (framework.Energy, error) {
	e, err := NewIsing(env.Dim, o.Spins)
	if err != nil {
		return nil, err
	}
	if o.Init != "" {
		d, theta, err := LoadIsingParams(resolve(env.Dir, o.Init))
		if err != nil {
			return nil, err
		}
		if d != env.Dim {
			return nil, fmt.Errorf("ising: init %s has dimension %d, the data %d", o.Init, d, env.Dim)
		}
		if err := e.SetInit(theta); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// RBMOptions are the options of the rbm energy.
type RBMOptions struct {
	Hidden int    `toml:"hidden" help:"number of hidden units"`
	Init   string `toml:"init" help:"JSON of initial parameters in scikit-learn BernoulliRBM layout; empty: W ~ N(0, 0.01²), b = c = 0"`
}

// DefaultRBMOptions returns the defaults: 64 hidden units.
func DefaultRBMOptions() RBMOptions { return RBMOptions{Hidden: 64} }

// Validate checks the number of hidden units.
func (o *RBMOptions) Validate() error {
	if o.Hidden < 1 {
		return &framework.KeyError{Key: "hidden", Msg: fmt.Sprintf("is %d, want ≥ 1", o.Hidden)}
	}
	return nil
}

func newRBMFrom(o RBMOptions, env framework.Env) (framework.Energy, error) {
	e, err := NewRBM(env.Dim, o.Hidden)
	if err != nil {
		return nil, err
	}
	if o.Init != "" {
		vis, hid, theta, err := LoadSklearnRBM(resolve(env.Dir, o.Init))
		if err != nil {
			return nil, err
		}
		if vis != env.Dim || hid != o.Hidden {
			return nil, fmt.Errorf("rbm: init %s has %d visible and %d hidden units, the energy %d and %d", o.Init, vis, hid, env.Dim, o.Hidden)
		}
		if err := e.SetInit(theta); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// GMMOptions are the options of the gmm energy.
type GMMOptions struct {
	Components int    `toml:"components" help:"number of mixture components K"`
	Preset     string `toml:"preset" help:"\"ring8\": start from the ring of 8 Gaussians (d = 2, K = 8); empty: a free mixture"`
}

// DefaultGMMOptions returns the defaults: 8 components, no preset.
func DefaultGMMOptions() GMMOptions { return GMMOptions{Components: 8} }

// Validate checks the number of components and the preset.
func (o *GMMOptions) Validate() error {
	if o.Components < 1 {
		return &framework.KeyError{Key: "components", Msg: fmt.Sprintf("is %d, want ≥ 1", o.Components)}
	}
	switch o.Preset {
	case "":
	case "ring8":
		if o.Components != 8 {
			return &framework.KeyError{Key: "components", Msg: fmt.Sprintf("is %d but preset ring8 has 8", o.Components)}
		}
	default:
		return &framework.KeyError{Key: "preset", Msg: fmt.Sprintf("unknown preset %q (want \"ring8\" or empty)", o.Preset)}
	}
	return nil
}

func newGMMFrom(o GMMOptions, env framework.Env) (framework.Energy, error) {
	if o.Preset == "ring8" {
		if env.Dim != 2 {
			return nil, fmt.Errorf("gmm: preset ring8 is 2-dimensional, the data %d", env.Dim)
		}
		return Ring8(), nil
	}
	return NewGMM(env.Dim, o.Components)
}
