package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/run"
)

// ebm runs the command in-process and returns its exit status and output.
func ebm(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := main1(args, &out, &errb)
	return code, out.String(), errb.String()
}

// call runs the command name with args in-process and returns its error.
func call(name string, args []string, stdout, stderr io.Writer) error {
	_, err := execute(append([]string{name}, args...), stdout, stderr)
	return err
}

func readParams(t *testing.T, dir string) map[string]framework.ParamBlock {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, run.ParamsFile))
	require.NoError(t, err)
	var pf framework.ParamsFile
	require.NoError(t, json.Unmarshal(b, &pf))
	m := map[string]framework.ParamBlock{}
	for _, blk := range pf.Blocks {
		m[blk.Name] = blk
	}
	return m
}

// gauss20MLE returns S⁻¹, the inverse of the biased (1/n) sample covariance of gauss20: the
// maximum-likelihood precision, which is also the score-matching estimate of a Gaussian.
func gauss20MLE(t *testing.T) *mat.Dense {
	ds, err := framework.ReadCSV("../../examples/data/gauss20_train.csv.gz")
	require.NoError(t, err)
	n, d := ds.X.Dims()
	var cov mat.SymDense
	stat.CovarianceMatrix(&cov, ds.X, nil)
	cov.ScaleSym(float64(n-1)/float64(n), &cov)
	var prec mat.Dense
	require.NoError(t, prec.Inverse(&cov))
	_ = d
	return &prec
}

// symW returns W = (A + Aᵀ)/2 from the gaussian energy's stored block.
func symW(blk framework.ParamBlock) *mat.Dense {
	d := blk.Shape[0]
	a := mat.NewDense(d, d, blk.Values)
	var w mat.Dense
	w.Add(a, a.T())
	w.Scale(0.5, &w)
	return &w
}

func relFrob(a, b *mat.Dense) float64 {
	var diff mat.Dense
	diff.Sub(a, b)
	return mat.Norm(&diff, 2) / mat.Norm(b, 2)
}

func TestTrainGauss20ClosedFormIsMLE(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := ebm(t, "train", "../../examples/gauss20-sm.toml", "--out", dir, "--set", "trainer.closed_form=true")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "closed form")
	w := symW(readParams(t, dir)["W"])
	assert.Less(t, relFrob(w, gauss20MLE(t)), 1e-8)
}

func TestTrainGauss20GradientStepsReachMLE(t *testing.T) {
	dir := t.TempDir()
	code, _, errs := ebm(t, "train", "../../examples/gauss20-sm.toml", "--out", dir, "--quiet")
	require.Equal(t, 0, code, errs)
	w := symW(readParams(t, dir)["W"])
	assert.Less(t, relFrob(w, gauss20MLE(t)), 1e-3)

	// The run folder holds what the issue lists.
	for _, f := range []string{run.ConfigFile, run.MetricsFile, run.ParamsFile, run.SummaryFile} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	assert.NoFileExists(t, filepath.Join(dir, run.CheckpointFile), "a finished run keeps no checkpoint")
	s, err := run.ReadSummary(dir)
	require.NoError(t, err)
	assert.Equal(t, "sm", s.Estimator)
	assert.Equal(t, 300, s.Steps)
	assert.Equal(t, "exact", s.Paths["laplacian"])
	// A second train into the same folder is refused.
	code, _, errs = ebm(t, "train", "../../examples/gauss20-sm.toml", "--out", dir)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "holds a finished run")
}

func TestTrainRing8Small(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := ebm(t, "train", "../../examples/ring8-sm.toml", "--out", dir, "--set", "train.steps=30")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "test loss")
	s, err := run.ReadSummary(dir)
	require.NoError(t, err)
	assert.Equal(t, 30, s.Steps)
	assert.Equal(t, "exact", s.Paths["laplacian_vjp"])
	assert.Positive(t, s.Counts.SecondOrderRows)
	b, err := os.ReadFile(filepath.Join(dir, run.MetricsFile))
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(string(b), "\n"), "log_every = 50 > 30 steps: only the last step")
}

func TestBadConfigExitsWithPosition(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.toml")
	require.NoError(t, os.WriteFile(cfg, []byte("seed = 1\n[data]\ntrain = \"x.csv\"\n[energy]\nbuiltin = \"gaussian\"\n[trainer]\nmethod = \"sm\"\nsigmma = 1.0\n"), 0o644))
	code, _, errs := ebm(t, "train", cfg, "--out", filepath.Join(dir, "run"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "bad.toml:8: key trainer.sigmma: unknown key")
	assert.NoDirExists(t, filepath.Join(dir, "run"), "nothing starts before the file is valid")

	code, _, errs = ebm(t, "validate", "../../examples/gauss20-sm.toml", "--set", "train.batch=-3")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "--set train.batch=-3: key train.batch: must be ≥ 1")
}

func TestValidateListVersion(t *testing.T) {
	code, out, errs := ebm(t, "validate", "../../examples/ring8-sm.toml")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "valid")
	code, out, _ = ebm(t, "list")
	require.Equal(t, 0, code)
	for _, name := range []string{"gaussian", "mlp", "sm", "adam", "sgd", "closed_form"} {
		assert.Contains(t, out, name)
	}
	code, out, _ = ebm(t, "version")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, Version)
	code, _, _ = ebm(t, "frobnicate")
	assert.Equal(t, exitUsage, code)
}

// ebm sample on the exact ring8 mixture: the samples' mean is 0 and their covariance
// 2.0625·I (the mixture's closed-form moments), within a Monte Carlo error judged from the
// reported effective sample size.
func TestSampleRing8Moments(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "s.csv")
	code, stdout, errs := ebm(t, "sample", "../../examples/ring8-sample.toml", "--n", "8000", "--out", out,
		"--set", "sampler.method=hmc", "--set", "sampler.step=0.2", "--set", "sampler.thin=2", "--quiet")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, stdout, "hmc on gmm")
	ds, err := framework.ReadCSV(out)
	require.NoError(t, err)
	n, d := ds.X.Dims()
	require.Equal(t, 8000, n)
	require.Equal(t, []string{"x1", "x2", "energy"}, ds.Header)
	var diag struct {
		ESS  []float64 `json:"ess"`
		Mean []float64 `json:"mean"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "s.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &diag))
	require.Len(t, diag.ESS, 2)
	for j := 0; j < d-1; j++ {
		col := mat.Col(nil, j, ds.X)
		mean, sd := stat.MeanStdDev(col, nil)
		se := sd / math.Sqrt(diag.ESS[j])
		assert.Less(t, math.Abs(mean), 4*se, "coordinate %d: mean %v, se %v", j, mean, se)
		// The second moment's standard error from the spread of x² and the same ESS.
		sq := make([]float64, len(col))
		for i, x := range col {
			sq[i] = x * x
		}
		m2, sd2 := stat.MeanStdDev(sq, nil)
		se2 := sd2 / math.Sqrt(diag.ESS[j])
		t.Logf("coordinate %d: mean %.4f ± %.4f, E x² %.4f ± %.4f (ESS %.0f)", j, mean, se, m2, se2, diag.ESS[j])
		assert.Less(t, math.Abs(m2-2.0625), 4*se2, "coordinate %d second moment", j)
	}
}

// A learning rate that makes gradient descent diverge is rolled back and lowered by the
// guard, and the run still reaches the score-matching optimum (the MLE of gauss20).
func TestDivergingRunRollsBackAndConverges(t *testing.T) {
	dir := t.TempDir()
	// Plain gradient descent on the quadratic SM loss diverges when lr exceeds 2/λmax of its
	// Hessian (λmax ≈ 4.8 here, the sample covariance's largest eigenvalue): lr = 1.6 does,
	// 0.4 (after two halvings) does not.
	code, out, errs := ebm(t, "train", "../../examples/gauss20-sm.toml", "--out", dir, "--quiet",
		"--set", "optimizer.lr=1.6", "--set", "optimizer.momentum=0", "--set", "train.steps=200",
		"--set", "train.max_rollbacks=4", "--set", "train.max_loss=1e4", "--set", "train.log_every=5")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "rollback")
	s, err := run.ReadSummary(dir)
	require.NoError(t, err)
	require.NotEmpty(t, s.Rollbacks)
	assert.Equal(t, "loss", s.Rollbacks[0].Quantity)
	assert.Less(t, s.Rollbacks[len(s.Rollbacks)-1].LR, 1.6)
	w := symW(readParams(t, dir)["W"])
	assert.Less(t, relFrob(w, gauss20MLE(t)), 1e-3)
	b, err := os.ReadFile(filepath.Join(dir, run.MetricsFile))
	require.NoError(t, err)
	assert.Equal(t, len(s.Rollbacks), strings.Count(string(b), `"rollback"`), "every rollback is in metrics.jsonl")
}
