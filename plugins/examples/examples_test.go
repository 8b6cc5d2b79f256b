// Package examples_test builds the example plugins and runs the conformance kit on each, as
// `ebm plugin check` does.
package examples_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/conformance"
	"github.com/goebm/goebm/plugins/host"
)

// build compiles a Go example into a temporary folder.
func build(t *testing.T, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// python returns /usr/bin/python3 when it has grpcio, protobuf and numpy (and torch, when
// asked), and skips the test otherwise, except in CI, which installs them (.ci/run).
func python(t *testing.T, torch bool) string {
	t.Helper()
	const py = "/usr/bin/python3"
	imports := "import grpc, numpy, google.protobuf"
	if torch {
		imports += ", torch"
	}
	if err := exec.Command(py, "-c", imports).Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have %s's modules (%s): %v", py, imports, err)
		}
		t.Skipf("%s lacks %s: %v", py, imports, err)
	}
	return py
}

func TestExamplesPassConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts plugins")
	}
	tests := []struct {
		name   string
		argv   func(t *testing.T) []string
		config map[string]any
		info   []string
	}{
		{"doublewell", func(t *testing.T) []string { return []string{build(t, "./doublewell")} },
			map[string]any{"init_center": 1.5, "jitter": 0.2}, []string{"init_log_scale", "capabilities [mixed,laplacian,hvp,mixed-self]", "samplers:        annealed, gibbs, hmc, mala, ula"}},
		{"mlp", func(t *testing.T) []string { return []string{build(t, "./mlp")} },
			map[string]any{"hidden": []any{int64(8), int64(4)}, "activation": "tanh"}, []string{"hidden", "activation", "mlp, continuous", "block W1"}},
		{"python-numpy", func(t *testing.T) []string { return []string{python(t, false), "python/gaussian.py"} },
			map[string]any{"init_scale": 0.5}, []string{"gaussian-diag-py", "init_log_precision", "(Python, numpy)"}},
		{"python-torch", func(t *testing.T) []string { return []string{python(t, true), "python/mlp_torch.py"} },
			map[string]any{"hidden": []any{int64(8), int64(4)}}, []string{"hidden", "mlp, continuous", "block W1", "(Python, torch)", "capabilities [mixed,laplacian,hvp,mixed-self]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := tt.argv(t)
			opts := conformance.Options{Config: tt.config, Env: framework.Env{Dim: 3}, Seed: 7}
			var out bytes.Buffer
			rep, err := conformance.Check(argv, opts, &out)
			require.NoError(t, err, out.String())
			assert.True(t, rep.OK())
			out.Reset()
			require.NoError(t, conformance.Info(argv, opts, &out))
			for _, w := range tt.info {
				assert.Contains(t, out.String(), w)
			}
		})
	}
}

// The torch MLP example draws its initial parameters from the host's words as the built-in
// mlp does: the same bits, through the SDK's Random (Go's Rand.Float64).
func TestTorchMLPStartsFromTheBuiltin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts torch")
	}
	py := python(t, true)
	e, err := host.Open(host.Config{Argv: []string{py, "python/mlp_torch.py"}, Env: framework.Env{Dim: 2},
		Config: map[string]any{"hidden": []any{int64(16), int64(8)}}})
	require.NoError(t, err)
	defer e.Close()
	builtin, err := energy.NewMLP(2, []int{16, 8}, "softplus")
	require.NoError(t, err)
	require.Equal(t, builtin.Spec().Blocks, e.Spec().Blocks)
	got, want := make([]float64, e.Spec().NumParams()), make([]float64, builtin.Spec().NumParams())
	require.NoError(t, e.InitParams(got, rand.New(rand.NewPCG(3, 4))))
	require.NoError(t, builtin.InitParams(want, rand.New(rand.NewPCG(3, 4))))
	for i := range want {
		require.Equal(t, math.Float64bits(want[i]), math.Float64bits(got[i]), "θ₀[%d]: %v vs %v", i, want[i], got[i])
	}
}
