package run

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/host"
)

// A registry of stand-in components, so that the config tests depend on nothing else.
type fakeOpts struct {
	Sigma  float64   `toml:"sigma" help:"noise"`
	Draws  int       `toml:"draws" help:"draws"`
	Name   string    `toml:"name" help:"a name"`
	Levels []float64 `toml:"levels" help:"levels"`
	Flag   bool      `toml:"flag" help:"a flag"`
}

func (o *fakeOpts) Validate() error {
	if o.Sigma <= 0 {
		return &framework.KeyError{Key: "sigma", Msg: "must be > 0"}
	}
	return nil
}

type fakeEnergy struct{ d int }

func (f fakeEnergy) Spec() framework.Spec {
	return framework.Spec{Name: "fake", Dim: f.d, Blocks: []framework.Block{{Name: "w", Shape: []int{f.d}}}}
}
func (fakeEnergy) InitParams(dst []float64, rng *rand.Rand) error               { return nil }
func (fakeEnergy) Evaluate(req *framework.Request, res *framework.Result) error { return nil }

type fakeTrainer struct{}

func (fakeTrainer) Init(*framework.TrainContext) error { return nil }
func (fakeTrainer) Step(*framework.StepContext, *mat.Dense, []float64, []float64) (float64, error) {
	return 0, nil
}

type fakeOpt struct{}

func (fakeOpt) Update(theta, grad []float64) {}
func (fakeOpt) LR() float64                  { return 0 }
func (fakeOpt) SetLR(float64)                {}

func testRegistry() *framework.Registry {
	r := framework.NewRegistry()
	newOpts := func() any { return &fakeOpts{Sigma: 0.1, Draws: 1} }
	r.Energies["fake"] = framework.Entry[framework.Energy]{Name: "fake", Options: newOpts,
		New: func(o any, env framework.Env) (framework.Energy, error) { return fakeEnergy{env.Dim}, nil }}
	r.Trainers["sm"] = framework.Entry[framework.Trainer]{Name: "sm", Options: newOpts,
		New: func(o any, env framework.Env) (framework.Trainer, error) { return fakeTrainer{}, nil }}
	r.Optimizers["adam"] = framework.Entry[framework.Optimizer]{Name: "adam", Options: func() any {
		return &struct {
			LR float64 `toml:"lr"`
		}{LR: 1e-3}
	},
		New: func(o any, env framework.Env) (framework.Optimizer, error) { return fakeOpt{}, nil }}
	host.Register(r)
	return r
}

const good = `seed = 7
[data]
train = "train.csv"

[energy]
builtin = "fake"
[energy.config]
sigma = 0.5

[trainer]
method = "sm"
draws = 3

[optimizer]
lr = 0.01

[train]
batch = 32
steps = 100
`

func TestDecodeGood(t *testing.T) {
	src, err := Parse("dir/run.toml", []byte(good), nil)
	require.NoError(t, err)
	r, err := Decode(src, testRegistry())
	require.NoError(t, err)
	assert.Equal(t, uint64(7), r.Seed)
	assert.Equal(t, "sm", r.Trainer.Method)
	assert.Equal(t, 3, r.Trainer.Options.(*fakeOpts).Draws)
	assert.Equal(t, 0.1, r.Trainer.Options.(*fakeOpts).Sigma, "default kept")
	assert.Equal(t, 0.5, r.EnergyOptions.(*fakeOpts).Sigma)
	assert.Equal(t, "adam", r.Optimizer.Method, "default optimizer")
	assert.Equal(t, 32, r.Train.Batch)
	assert.True(t, r.Train.Shuffle, "default")
	assert.Equal(t, filepath.Join("dir", "train.csv"), r.Path("data.train", r.Data.Train))
}

func TestSetOverrides(t *testing.T) {
	src, err := Parse("dir/run.toml", []byte(good), []string{"train.steps=500", "trainer.name=abc",
		"data.train=other.csv", "trainer.levels=[1.0, 0.5]", "trainer.flag=true"})
	require.NoError(t, err)
	r, err := Decode(src, testRegistry())
	require.NoError(t, err)
	assert.Equal(t, 500, r.Train.Steps)
	assert.Equal(t, "abc", r.Trainer.Options.(*fakeOpts).Name)
	assert.Equal(t, []float64{1, 0.5}, r.Trainer.Options.(*fakeOpts).Levels)
	assert.True(t, r.Trainer.Options.(*fakeOpts).Flag)
	assert.Equal(t, "other.csv", r.Path("data.train", r.Data.Train), "--set paths resolve against the working directory")
}

func TestEpochsWithoutSteps(t *testing.T) {
	src, err := Parse("run.toml", []byte(strings.Replace(good, "steps = 100", "epochs = 3", 1)), nil)
	require.NoError(t, err)
	r, err := Decode(src, testRegistry())
	require.NoError(t, err)
	assert.Equal(t, 0, r.Train.Steps)
	assert.Equal(t, 3, r.Train.Epochs)
}

// Each bad file is rejected with the file, the line and the key.
func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to string
		sets     []string
		want     string
	}{
		{"unknown top key", "seed = 7", "sed = 7", nil, "run.toml:1: key sed: unknown key"},
		{"unknown section key", "batch = 32", "bacth = 32", nil, `run.toml:18: key train.bacth: unknown key (did you mean "batch"?)`},
		{"unknown trainer key", "draws = 3", "drawz = 3", nil, `run.toml:12: key trainer.drawz: unknown key (did you mean "draws"?)`},
		{"unknown energy option", "sigma = 0.5", "sigmaa = 0.5", nil, `run.toml:8: key energy.config.sigmaa: unknown key`},
		{"wrong type int", "batch = 32", `batch = "32"`, nil, `run.toml:18: key train.batch: want an integer, got string "32"`},
		{"wrong type float", "sigma = 0.5", `sigma = "big"`, nil, `run.toml:8: key energy.config.sigma: want a number, got string`},
		{"float for int", "batch = 32", `batch = 32.5`, nil, `run.toml:18: key train.batch: want an integer, got float 32.5`},
		{"out of range", "batch = 32", "batch = 0", nil, "run.toml:18: key train.batch: must be ≥ 1, got 0"},
		{"negative steps", "steps = 100", "steps = -1", nil, "run.toml:19: key train.steps: must be ≥ 0"},
		{"validate hook", "sigma = 0.5", "sigma = -1.0", nil, "run.toml:8: key energy.config.sigma: must be > 0"},
		{"unknown method", `method = "sm"`, `method = "sn"`, nil, `run.toml:11: key trainer.method: unknown method "sn" (have: sm)`},
		{"method not string", `method = "sm"`, `method = 3`, nil, `key trainer.method: want a string, got integer`},
		{"unknown builtin", `builtin = "fake"`, `builtin = "gauss"`, nil, `run.toml:6: key energy.builtin: no built-in energy "gauss" (have: fake)`},
		{"missing train", `train = "train.csv"`, ``, nil, "key data.train: missing"},
		{"missing energy", `builtin = "fake"`, ``, nil, "key energy: missing"},
		{"missing trainer method", `method = "sm"`, ``, nil, "run.toml:10: key trainer.method: missing: one of sm"},
		{"both energies", `builtin = "fake"`, "builtin = \"fake\"\nplugin = [\"x\"]", nil, "set either builtin or plugin"},
		{"negative seed", "seed = 7", "seed = -7", nil, "run.toml:1: key seed: must be ≥ 0"},
		{"nan", "sigma = 0.5", "sigma = nan", nil, "run.toml:8: key energy.config.sigma: must be a finite number"},
		{"inf", "sigma = 0.5", "sigma = inf", nil, "must be a finite number"},
		{"table for value", "batch = 32", "batch = {a = 1}", nil, "key train.batch: want an integer, got table"},
		{"value for table", "seed = 7", "seed = 7\ncompute = 3", nil, "run.toml:2: key compute: want a table"},
		{"syntax", "batch = 32", "batch = = 32", nil, "run.toml:18:"},
		{"duplicate key", "batch = 32", "batch = 32\nbatch = 33", nil, "run.toml:19: key train.batch: Key 'train.batch' has already been defined"},
		{"fraction range", "batch = 32", "batch = 32\n[data.x]", nil, "key data.x: unknown key"},
		{"plugin key on a built-in", "builtin = \"fake\"", "builtin = \"fake\"\ncall_timeout = \"1m\"", nil, `run.toml:7: key energy.call_timeout: unknown key`},
		{"bad duration", "builtin = \"fake\"", "plugin = [\"/bin/sh\", \"p.sh\"]\ncall_timeout = \"soon\"", nil, `run.toml:7: key energy.call_timeout: want a positive duration`},
		{"bad instances", "builtin = \"fake\"", "plugin = [\"/bin/sh\", \"p.sh\"]\ninstances = 0", nil, `run.toml:7: key energy.instances: must be ≥ 1`},
		{"plugin not on PATH", "builtin = \"fake\"", "plugin = [\"no-such-program-goebm\"]", nil, `run.toml:6: key energy.plugin: program "no-such-program-goebm" is not on $PATH`},
		{"set unknown", "", "", []string{"train.bacth=3"}, "--set train.bacth=3: key train.bacth: unknown key"},
		{"set bad value", "", "", []string{"train.batch=0"}, "--set train.batch=0: key train.batch: must be ≥ 1"},
		{"set malformed", "", "", []string{"train.batch"}, "--set train.batch: want key.path=value"},
		{"set into value", "", "", []string{"seed.x=1"}, "--set seed.x=1: key seed: is not a table"},
		{"no budget", "steps = 100", "steps = 0", nil, "key train.steps: the run has no budget"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := good
			if tc.from != "" {
				text = strings.Replace(good, tc.from, tc.to, 1)
			}
			src, err := Parse("run.toml", []byte(text), tc.sets)
			if err == nil {
				_, err = Decode(src, testRegistry())
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestBuildResolvesAndChecksData(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "train.csv"), []byte("a,b\n1,2\n3,4\n5,6\n"), 0o644))
	src, err := Parse(filepath.Join(dir, "run.toml"), []byte(good), nil)
	require.NoError(t, err)
	r, err := Decode(src, testRegistry())
	require.NoError(t, err)
	b, err := Build(r, testRegistry())
	require.NoError(t, err)
	assert.Equal(t, 2, b.Spec.Dim, "dimension from the data")
	res, err := r.Resolved()
	require.NoError(t, err)
	assert.Contains(t, string(res), filepath.Join(dir, "train.csv"))
	// The resolved file is itself a valid run file that decodes to the same settings.
	src2, err := Parse(filepath.Join(t.TempDir(), "config.toml"), res, nil)
	require.NoError(t, err)
	r2, err := Decode(src2, testRegistry())
	require.NoError(t, err)
	assert.Equal(t, r.Train, r2.Train)
	assert.Equal(t, r.Trainer.Options, r2.Trainer.Options)

	src3, _ := Parse(filepath.Join(dir, "run.toml"), []byte(good), []string{"energy.dim=3"})
	r3, err := Decode(src3, testRegistry())
	require.NoError(t, err)
	_, err = Build(r3, testRegistry())
	require.ErrorContains(t, err, "key energy.dim: is 3 but train.csv has 2 columns")

	src4, _ := Parse(filepath.Join(dir, "run.toml"), []byte(good), []string{"data.train=" + filepath.Join(dir, "missing.csv")})
	r4, _ := Decode(src4, testRegistry())
	_, err = Build(r4, testRegistry())
	require.ErrorContains(t, err, "missing.csv")
}

// A plugin's program and script are resolved once, against the run file's folder
// (the working directory for --set), and the resolved config names them absolutely, so that
// the run folder's config.toml starts the same plugin from any working directory.
func TestPluginPathsResolved(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "examples")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	text := strings.Replace(good, `builtin = "fake"`, `plugin = ["../bin/p", "x"]`, 1)
	src, err := Parse(filepath.Join(dir, "run.toml"), []byte(text), nil)
	require.NoError(t, err)
	cfg, err := Decode(src, testRegistry())
	require.NoError(t, err)
	opts := cfg.EnergyOptions.(*host.Options)
	assert.Equal(t, []string{filepath.Join(root, "bin", "p"), "x"}, opts.Plugin)

	text = strings.Replace(good, `builtin = "fake"`, `plugin = ["/usr/bin/python3", "-u", "plugins/p.py"]`, 1)
	src, err = Parse(filepath.Join(dir, "run.toml"), []byte(text), nil)
	require.NoError(t, err)
	cfg, err = Decode(src, testRegistry())
	require.NoError(t, err)
	b, err := cfg.Resolved()
	require.NoError(t, err)
	assert.Contains(t, string(b), fmt.Sprintf("plugin = [\"/usr/bin/python3\", \"-u\", %q]", filepath.Join(dir, "plugins", "p.py")))
	assert.Contains(t, string(b), fmt.Sprintf("base_dir = %q", dir))
	assert.Contains(t, string(b), `call_timeout = "10m0s"`)

	// The resolved file decodes to the same options from anywhere.
	src2, err := Parse(filepath.Join(root, "elsewhere", "config.toml"), b, nil)
	require.NoError(t, err)
	cfg2, err := Decode(src2, testRegistry())
	require.NoError(t, err)
	assert.Equal(t, cfg.EnergyOptions, cfg2.EnergyOptions)

	// --set paths are relative to the working directory.
	wd, err := os.Getwd()
	require.NoError(t, err)
	src, err = Parse(filepath.Join(dir, "run.toml"), []byte(text), []string{`energy.plugin=["/bin/sh", "s.sh"]`})
	require.NoError(t, err)
	cfg, err = Decode(src, testRegistry())
	require.NoError(t, err)
	assert.Equal(t, []string{"/bin/sh", filepath.Join(wd, "s.sh")}, cfg.EnergyOptions.(*host.Options).Plugin)
}
