// Package examples_test builds the example plugins and runs the conformance kit on each, as
// `ebm plugin check` does.
package examples_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/conformance"
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
