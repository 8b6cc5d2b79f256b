package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/run"
)

// buildPlugin compiles an example plugin into a temporary folder.
func buildPlugin(t *testing.T, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

func paramValues(t *testing.T, dir string) [][]float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "params.json"))
	require.NoError(t, err)
	var pf framework.ParamsFile
	require.NoError(t, json.Unmarshal(b, &pf))
	var v [][]float64
	for _, blk := range pf.Blocks {
		v = append(v, blk.Values)
	}
	return v
}

const pluginBase = `seed = 4
[data]
train = %q
[energy]
%s
[energy.config]
hidden = [16, 16]
[optimizer]
method = "adam"
lr = 1e-2
[train]
batch = 200
steps = 25
[compute]
chunk = 64
%s
`

// Training with the built-in mlp and with the same mlp served by a plugin process (one, or a
// pool of two) gives the same parameters bit for bit, for exact SM, DSM and PCD.
func TestPluginTrainingBitIdentical(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	plugin := buildPlugin(t, "../../plugins/examples/mlp")
	data, err := filepath.Abs("../../examples/data/ring8_test.csv")
	require.NoError(t, err)
	trainers := map[string]string{
		"sm":  "[trainer]\nmethod = \"sm\"",
		"dsm": "[trainer]\nmethod = \"dsm\"\nsigma = 0.1",
		"pcd": "[trainer]\nmethod = \"pcd\"\nk = 3\n[sampler]\nmethod = \"ula\"\nstep = 0.01",
	}
	energies := map[string]string{
		"builtin":   `builtin = "mlp"`,
		"plugin x1": fmt.Sprintf("plugin = [%q]\ninstances = 1", plugin),
		"plugin x2": fmt.Sprintf("plugin = [%q]\ninstances = 2", plugin),
	}
	for tname, tr := range trainers {
		t.Run(tname, func(t *testing.T) {
			dir := t.TempDir()
			var want [][]float64
			for _, ename := range []string{"builtin", "plugin x1", "plugin x2"} {
				cfg := filepath.Join(dir, tname+".toml")
				require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(pluginBase, data, energies[ename], tr)), 0o644))
				out := filepath.Join(dir, ename)
				code, _, errs := ebm(t, "train", cfg, "--out", out, "--quiet")
				require.Equal(t, 0, code, "%s: %s", ename, errs)
				got := paramValues(t, out)
				if want == nil {
					want = got
					continue
				}
				assert.Equal(t, want, got, "%s differs from the built-in", ename)
			}
		})
	}
}

// The Python example plugin passes the conformance check and trains through ebm train.
func TestPythonPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Python")
	}
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import grpc, google.protobuf, numpy").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have python3-grpcio, python3-protobuf and python3-numpy: %v", err)
		}
		t.Skipf("no grpcio/numpy for %s: %v", py, err)
	}
	script, err := filepath.Abs("../../plugins/examples/python/gaussian.py")
	require.NoError(t, err)
	code, out, errs := ebm(t, "plugin", "check", "--", py, script)
	require.Equal(t, 1, code, "a plugin that takes its dimension from the data needs --dim: %s", errs)
	assert.Contains(t, out, "pass the data's dimension (ebm plugin check --dim D")
	code, out, errs = ebm(t, "plugin", "check", "--dim", "3", "--call-timeout", "30s", "--", py, script)
	require.Equal(t, 0, code, "%s\n%s", out, errs)
	assert.Contains(t, out, "PASS")

	data, err := filepath.Abs("../../examples/data/gauss20_train.csv.gz")
	require.NoError(t, err)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "py.toml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`seed = 1
[data]
train = %q
[energy]
plugin = [%q, %q]
[trainer]
method = "sm"
[optimizer]
lr = 0.05
[train]
batch = 512
steps = 400
`, data, py, script)), 0o644))
	code, _, errs = ebm(t, "train", cfg, "--out", filepath.Join(dir, "run"), "--quiet")
	require.Equal(t, 0, code, errs)
	// The diagonal Gaussian's score-matching optimum is its MLE: precision 1/Var(xⱼ) per
	// coordinate, mean x̄ⱼ. Minibatch Adam ends within a few percent of it.
	v := paramValues(t, filepath.Join(dir, "run"))
	require.Len(t, v, 2)
	ds, err := framework.ReadCSV(data)
	require.NoError(t, err)
	for j, s := range v[1] {
		col := mat.Col(nil, j, ds.X)
		mean, sd := stat.MeanStdDev(col, nil)
		assert.InDelta(t, -2*math.Log(sd), s, 0.1, "log precision %d", j)
		assert.InDelta(t, mean, v[0][j], 0.1, "mean %d", j)
	}
}

// PCD with the sampler run inside the plugin: reproducible from the seed whatever the number
// of plugin processes, and k sampler steps cost one round trip instead of k.
func TestPluginSideSampling(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	plugin := buildPlugin(t, "../../plugins/examples/mlp")
	data, err := filepath.Abs("../../examples/data/ring8_test.csv")
	require.NoError(t, err)
	tr := "[trainer]\nmethod = \"pcd\"\nk = 10\n[sampler]\nmethod = \"ula\"\nstep = 0.01"
	dir := t.TempDir()
	var want [][]float64
	trips := map[string]int64{}
	for _, energy := range []string{
		fmt.Sprintf("plugin = [%q]\ninstances = 1\nplugin_sampling = true", plugin),
		fmt.Sprintf("plugin = [%q]\ninstances = 2\nplugin_sampling = true", plugin),
		fmt.Sprintf("plugin = [%q]\ninstances = 1", plugin),
	} {
		cfg := filepath.Join(dir, "pcd.toml")
		require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(pluginBase, data, energy, tr)), 0o644))
		out := filepath.Join(dir, fmt.Sprint(len(trips)))
		code, _, errs := ebm(t, "train", cfg, "--out", out, "--quiet")
		require.Equal(t, 0, code, errs)
		s, err := run.ReadSummary(out)
		require.NoError(t, err)
		trips[energy] = s.Counts.RoundTrips
		got := paramValues(t, out)
		if want == nil {
			want = got
		} else if len(trips) == 2 {
			assert.Equal(t, want, got, "plugin-side sampling with 1 and 2 processes")
		}
	}
	var side, host int64
	for k, v := range trips {
		if strings.Contains(k, "plugin_sampling") {
			side = max(side, v)
		} else {
			host = v
		}
	}
	t.Logf("round trips: plugin-side sampling %d, host-side %d", side, host)
	assert.Less(t, side*3, host, "sampling inside the plugin saves round trips")
}

// pythonWith returns /usr/bin/python3 when it can import the modules, and skips the test
// otherwise, except in CI, which installs them (.ci/run).
func pythonWith(t *testing.T, imports string) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import "+imports).Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have %s for %s: %v", imports, py, err)
		}
		t.Skipf("%s cannot import %s: %v", py, imports, err)
	}
	return py
}

// A run of a Python plugin named by a relative script path, started from the run file's
// folder, is interrupted; resumed from another working directory it ends with exactly the
// parameters of an uninterrupted run, and `ebm sample` on its folder works from there too.
func TestPythonRunFromAnotherDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ebm and starts Python")
	}
	py := pythonWith(t, "grpc, google.protobuf, numpy")
	bin := buildEBM(t)
	data, err := filepath.Abs("../../examples/data/gauss20_train.csv.gz")
	require.NoError(t, err)
	script, err := filepath.Abs("../../plugins/examples/python/gaussian.py")
	require.NoError(t, err)
	home := t.TempDir()
	rel, err := filepath.Rel(home, script)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(home, "run.toml"), []byte(fmt.Sprintf(`seed = 3
[data]
train = %q
[energy]
plugin = [%q, %q]
[trainer]
method = "sm"
[optimizer]
lr = 0.02
[sampler]
method = "ula"
step = 0.01
warmup = 20
[train]
batch = 256
steps = 160
log_every = 1
checkpoint_every = 40
`, data, py, rel)), 0o644))

	straight := filepath.Join(t.TempDir(), "straight")
	cmd := exec.Command(bin, "train", "run.toml", "--out", straight, "--quiet")
	cmd.Dir = home
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))

	run := filepath.Join(t.TempDir(), "interrupted")
	code := 0
	for attempt := 0; attempt < 5; attempt++ {
		c := exec.Command(bin, "train", "run.toml", "--out", run, "--quiet")
		c.Dir = home
		code = runAndInterruptCmd(t, c, filepath.Join(run, "metrics.jsonl"), 60)
		if code == exitInterrupted {
			break
		}
		require.NoError(t, os.RemoveAll(run))
	}
	require.Equal(t, exitInterrupted, code, "the run was interrupted after its first checkpoint")

	t.Chdir(t.TempDir()) // anywhere else
	code, _, errs := ebm(t, "train", "--resume", run, "--quiet")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, paramValues(t, straight), paramValues(t, run), "resumed from another directory")
	code, _, errs = ebm(t, "sample", run, "--n", "40", "--out", "s.csv", "--quiet")
	require.Equal(t, 0, code, errs)
	assert.FileExists(t, "s.csv")
}

// The ring8 MLP written in torch (plugins/examples/python/mlp_torch.py) starts from the
// built-in mlp's parameters (the same draws from the same words) and, trained by exact score
// matching and by denoising score matching for 100 steps, ends within 1e-9 of the built-in.
func TestTorchMLPMatchesBuiltin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts torch")
	}
	py := pythonWith(t, "grpc, google.protobuf, numpy, torch")
	script, err := filepath.Abs("../../plugins/examples/python/mlp_torch.py")
	require.NoError(t, err)
	data, err := filepath.Abs("../../examples/data/ring8_train.csv.gz")
	require.NoError(t, err)
	const base = `seed = 1
[data]
train = %q
[energy]
%s
[energy.config]
hidden = [64, 64]
%s
[optimizer]
method = "adam"
lr = 1e-3
[train]
batch = 256
steps = 100
log_every = 50
`
	for name, tr := range map[string]string{
		"sm":  "[trainer]\nmethod = \"sm\"",
		"dsm": "[trainer]\nmethod = \"dsm\"\nsigma = 0.1",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			var got [2][][]float64
			for k, e := range []string{`builtin = "mlp"`, fmt.Sprintf("plugin = [%q, %q]", py, script)} {
				cfg := filepath.Join(dir, fmt.Sprintf("%d.toml", k))
				require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(base, data, e, tr)), 0o644))
				out := filepath.Join(dir, fmt.Sprint(k))
				code, _, errs := ebm(t, "train", cfg, "--out", out, "--quiet")
				require.Equal(t, 0, code, errs)
				got[k] = paramValues(t, out)
			}
			require.Equal(t, len(got[0]), len(got[1]))
			worst := 0.0
			for b := range got[0] {
				require.Equal(t, len(got[0][b]), len(got[1][b]))
				for i, v := range got[0][b] {
					worst = math.Max(worst, math.Abs(v-got[1][b][i]))
				}
			}
			t.Logf("largest difference from the built-in after 100 steps: %.3g", worst)
			assert.Less(t, worst, 1e-9)
		})
	}
}

// A plugin that hangs once in the middle of a training run (its 10th request, in the first
// process only) is killed at call_timeout and the request retried on a new process: the run
// finishes with exactly the parameters of a run without the hang.
func TestOneOffHangRetried(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	plugin := buildPlugin(t, "./testdata/hangonce")
	data, err := filepath.Abs("../../examples/data/ring8_test.csv")
	require.NoError(t, err)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "run.toml")
	energy := fmt.Sprintf("plugin = [%q]\ncall_timeout = \"2s\"", plugin)
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(pluginBase, data, energy, "[trainer]\nmethod = \"sm\"")), 0o644))
	var params [2][][]float64
	for k, hang := range []bool{false, true} {
		marker := filepath.Join(dir, fmt.Sprintf("hung%d", k))
		if hang {
			t.Setenv("GOEBM_TEST_HANG_AT", "10")
			t.Setenv("GOEBM_TEST_HANG_MARKER", marker)
		}
		out := filepath.Join(dir, fmt.Sprint(k))
		start := time.Now()
		code, _, errs := ebm(t, "train", cfg, "--out", out, "--quiet")
		require.Equal(t, 0, code, errs)
		params[k] = paramValues(t, out)
		if hang {
			assert.FileExists(t, marker, "the plugin hung")
			assert.Greater(t, time.Since(start), 2*time.Second, "the run waited for call_timeout")
		}
	}
	assert.Equal(t, params[0], params[1], "the same parameters with and without the hang")
}
